#!/usr/bin/python3
"""The FedLAMA study's table (docs/fedlama/README.md) from its HDF5 files.

    docs/fedlama/summarize.py results/fedlama

Per variant (phi2, phi1, fedavg), mean (and per-seed values) over the seeds
found: final global test accuracy, the mean of the last 5 evaluations, the
client-server bytes and their ratio to FedAvg at interval tau' (phi1's
bytes, which equal /comm/fedavg_bytes), and for FedLAMA the share of
decision points at which each weight tensor was relaxed.

    docs/fedlama/summarize.py --hierarchical results/fedlama-hier

The hierarchical runs (docs/fedlama/run-hierarchical.sh: hier-phi2,
hier-fedavg): the same accuracy columns, the client-edge and edge-server
bytes (/comm/bytes levels 1 and 2), and the ratio of all levels to
hierarchical FedAvg at edge interval tau' (/comm/fedavg_bytes).
"""
import glob
import os
import sys

import h5py
import numpy as np


def load(path):
    with h5py.File(path, "r") as f:
        acc = f["global/test_accuracy"][...]
        evaluated = acc[np.isfinite(acc)]
        row = {
            "final": float(acc[-1]),
            "last5": float(evaluated[-5:].mean()),
            "bytes": float(np.nansum(f["comm/bytes"][:, 0])),
            "client_edge": float(np.nansum(f["comm/bytes"][:, 1])),
            "edge_server": float(np.nansum(f["comm/bytes"][:, 2])),
            "seconds": float(np.nansum(f["timing/round_seconds"][...])),
        }
        if "fedlama/interval" in f:
            names = list(f["model/layer_names"].asstr()[...])
            interval = f["fedlama/interval"][...]
            base = int(f.attrs["lama_interval"])
            row["fedavg_bytes"] = float(np.nansum(f["comm/fedavg_bytes"][...]))
            row["relaxed"] = {n: float(np.mean(interval[:, i] > base)) for i, n in enumerate(names)
                              if n.endswith("weight")}
        return row


def main(folder):
    variants = {}
    for v in ("phi2", "phi1", "fedavg"):
        paths = sorted(glob.glob(os.path.join(folder, f"fedlama-{v}-s*.h5")))
        variants[v] = [(os.path.basename(p), load(p)) for p in paths]
    ref = [r["fedavg_bytes"] for _, r in variants["phi1"]] or [r["fedavg_bytes"] for _, r in variants["phi2"]]
    reference = float(np.mean(ref))
    print("| run | seeds | final accuracy (per seed) | mean of last 5 evaluations | client-server GB | ratio to FedAvg at tau' | wall s per run |")
    print("|---|---|---|---|---|---|---|")
    for v, rows in variants.items():
        if not rows:
            continue
        final = [r["final"] for _, r in rows]
        last5 = [r["last5"] for _, r in rows]
        sent = [r["bytes"] for _, r in rows]
        ratio = [r["bytes"] / r["fedavg_bytes"] if "fedavg_bytes" in r else r["bytes"] / reference for _, r in rows]
        secs = [r["seconds"] for _, r in rows]
        print(f"| {v} | {len(rows)} | {100 * np.mean(final):.2f} % ({', '.join(f'{100 * x:.2f}' for x in final)}) | "
              f"{100 * np.mean(last5):.2f} % | {np.mean(sent) / 1e9:.3f} | {100 * np.mean(ratio):.2f} % | {np.mean(secs):.0f} |")
    for name, rows in variants.items():
        for file, r in rows:
            if "relaxed" in r:
                shares = ", ".join(f"{n} {100 * s:.0f} %" for n, s in r["relaxed"].items())
                print(f"{file}: share of decision points relaxed: {shares}")


def hierarchical(folder):
    variants = {v: [(os.path.basename(p), load(p)) for p in sorted(glob.glob(os.path.join(folder, f"fedlama-{v}-s*.h5")))]
                for v in ("hier-phi2", "hier-fedavg")}
    # The reference: hierarchical FedAvg at edge interval tau' (what
    # /comm/fedavg_bytes of the FedLAMA runs counts; the fedavg runs' own bytes).
    ref = [r["client_edge"] + r["edge_server"] for _, r in variants["hier-fedavg"]] or \
          [r["fedavg_bytes"] for _, r in variants["hier-phi2"]]
    reference = float(np.mean(ref))
    print("| run | seeds | final accuracy (per seed) | mean of last 5 evaluations | client-edge GB | edge-server GB | ratio to hier. FedAvg at tau' | wall s per run |")
    print("|---|---|---|---|---|---|---|---|")
    for v, rows in variants.items():
        if not rows:
            continue
        final = [r["final"] for _, r in rows]
        last5 = [r["last5"] for _, r in rows]
        ce = [r["client_edge"] for _, r in rows]
        es = [r["edge_server"] for _, r in rows]
        ratio = [(r["client_edge"] + r["edge_server"]) / r.get("fedavg_bytes", reference) for _, r in rows]
        secs = [r["seconds"] for _, r in rows]
        print(f"| {v} | {len(rows)} | {100 * np.mean(final):.2f} % ({', '.join(f'{100 * x:.2f}' for x in final)}) | "
              f"{100 * np.mean(last5):.2f} % | {np.mean(ce) / 1e9:.3f} | {np.mean(es) / 1e9:.4f} | "
              f"{100 * np.mean(ratio):.2f} % | {np.mean(secs):.0f} |")
    for file, r in variants["hier-phi2"]:
        if "relaxed" in r:
            shares = ", ".join(f"{n} {100 * s:.0f} %" for n, s in r["relaxed"].items())
            print(f"{file}: share of decision points relaxed: {shares}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--hierarchical":
        hierarchical(sys.argv[2] if len(sys.argv) > 2 else "results/fedlama-hier")
    else:
        main(sys.argv[1] if len(sys.argv) > 1 else "results/fedlama")
