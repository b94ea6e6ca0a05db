#!/usr/bin/python3
"""The FedGMA study's tables (docs/fedgma/README.md) from its HDF5 files.

    /usr/bin/python3 docs/fedgma/summarize.py results/fedgma

Per partition and aggregator (files fedgma-<aggregator>-<partition>-s<seed>.h5
of docs/fedgma/run-study.sh), mean and per-seed values over the seeds found:
out-of-distribution accuracy (the global test set, /global/test_accuracy)
after the last round and averaged over the last 5 rounds, the same for the
in-distribution accuracy (the clients' local test splits,
/global/aggregated_accuracy), and for FedGMA the share of all coordinates
the mask kept (/fedgma/mask_fraction weighted by the tensors' sizes, mean
over the rounds) with the same per tensor. Then FedGMA minus FedAvg per seed
(also the OOD accuracy averaged over all rounds: how much earlier it rises).
Markdown on stdout.
"""
import glob
import os
import re
import sys

import h5py
import numpy as np

AGGREGATORS = ("fedgma", "fedavg")


def load(path):
    with h5py.File(path, "r") as f:
        ood = f["global/test_accuracy"][1:]  # [0] is the initial model
        iid = f["global/aggregated_accuracy"][...]
        row = {"ood": float(ood[-1]), "ood5": float(np.nanmean(ood[-5:])), "ood_all": float(np.nanmean(ood)),
               "id": float(iid[-1]), "id5": float(np.nanmean(iid[-5:]))}
        if "fedgma/mask_fraction" in f:
            frac = f["fedgma/mask_fraction"][...]
            sizes = np.diff(f["model/layer_offsets"][...]).astype(float)
            names = list(f["model/layer_names"].asstr()[...])
            row["mask"] = float(np.mean(frac @ sizes / sizes.sum()))
            row["mask_layers"] = dict(zip(names, np.mean(frac, axis=0)))
    return row


def runs(folder):
    """{(partition, aggregator): {seed: row}}"""
    found = {}
    for path in sorted(glob.glob(os.path.join(folder, "fedgma-*-s*.h5"))):
        m = re.fullmatch(r"fedgma-(\w+)-([\w.]+)-s(\d+)\.h5", os.path.basename(path))
        if m and m.group(1) in AGGREGATORS:
            found.setdefault((m.group(2), m.group(1)), {})[int(m.group(3))] = load(path)
    return found


def pct(values):
    return f"{100 * np.mean(values):.2f} % ({', '.join(f'{100 * v:.2f}' for v in values)})"


def main(folder):
    found = runs(folder)
    order = {"pathological": 0, "dirichlet": 1, "iid": 2}  # the non-IID splits, then the IID control
    partitions = sorted({p for p, _ in found}, key=lambda p: (order.get(p, 3), p))
    print("| partition | aggregator | seeds | final OOD accuracy (per seed) | OOD, last 5 rounds | "
          "final ID accuracy (per seed) | ID, last 5 rounds | mask fraction |")
    print("|---|---|---|---|---|---|---|---|")
    for p in partitions:
        for a in AGGREGATORS:
            rows = [found.get((p, a), {})[s] for s in sorted(found.get((p, a), {}))]
            if not rows:
                continue
            mask = f"{100 * np.mean([r['mask'] for r in rows]):.2f} %" if "mask" in rows[0] else "-"
            print(f"| {p} | {a} | {len(rows)} | {pct([r['ood'] for r in rows])} | "
                  f"{100 * np.mean([r['ood5'] for r in rows]):.2f} % | {pct([r['id'] for r in rows])} | "
                  f"{100 * np.mean([r['id5'] for r in rows]):.2f} % | {mask} |")
    print()
    print("| partition | FedGMA − FedAvg (points) | per seed | mean | seeds where FedGMA is higher |")
    print("|---|---|---|---|---|")
    for p in partitions:
        gma, avg = found.get((p, "fedgma"), {}), found.get((p, "fedavg"), {})
        seeds = sorted(set(gma) & set(avg))
        if not seeds:
            continue
        for key, label in (("ood", "final OOD"), ("ood5", "OOD, last 5 rounds"), ("ood_all", "OOD, mean over all rounds"),
                           ("id", "final ID")):
            d = np.array([100 * (gma[s][key] - avg[s][key]) for s in seeds])
            print(f"| {p} | {label} | {', '.join(f'{v:+.2f}' for v in d)} | {d.mean():+.2f} | "
                  f"{int((d > 0).sum())} of {len(seeds)} |")
    print()
    for p in partitions:
        rows = list(found.get((p, "fedgma"), {}).values())
        if rows:
            layers = rows[0]["mask_layers"]
            shares = ", ".join(f"{n} {100 * np.mean([r['mask_layers'][n] for r in rows]):.2f} %" for n in layers)
            print(f"{p}: mask fraction per tensor (mean over rounds and seeds): {shares}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "results/fedgma")
