#!/usr/bin/python3
"""Table of the weak-clients study (run-study.sh): per configuration and seed,
the global test accuracy after the last round and averaged over the last 3
rounds, the number of strong and weak clients, and the client-server bytes
of the whole run; then the mean over the seeds. Markdown on stdout.

    python3 jobs/configs/tiers/summarize.py results/tiers
"""
import os
import sys

import h5py
import numpy as np

CONFIGS = ["strong-only", "mixed", "all-strong"]


def row(path):
    with h5py.File(path, "r") as f:
        acc = f["global/test_accuracy"][...]
        n = int(f.attrs["num_clients"])
        tiers = f["clients/tier"][...] if "clients/tier" in f else np.zeros(n, dtype=np.int64)
        mb = f["comm/bytes"][:, 0].sum() / 1e6
    return acc[-1], acc[-3:].mean(), int((tiers == 0).sum()), int((tiers == 2).sum()), mb


def main(outdir):
    print("| configuration | seed | strong | weak | final test acc | mean of last 3 rounds | client-server MB |")
    print("|---|---|---|---|---|---|---|")
    means, by_seed = {}, {}
    for name in CONFIGS:
        rows = []
        for seed in range(100):
            path = os.path.join(outdir, f"{name}-seed{seed}.h5")
            if not os.path.exists(path):
                continue
            r = row(path)
            rows.append(r)
            by_seed.setdefault(name, {})[seed] = r
            print(f"| {name} | {seed} | {r[2]} | {r[3]} | {r[0]:.4f} | {r[1]:.4f} | {r[4]:.1f} |")
        if rows:
            means[name] = np.mean([[r[0], r[1], r[4]] for r in rows], axis=0), len(rows)
    print()
    print("| configuration | seeds | mean final test acc | mean of last 3 rounds | client-server MB |")
    print("|---|---|---|---|---|")
    for name, (m, k) in means.items():
        print(f"| {name} | {k} | {m[0]:.4f} | {m[1]:.4f} | {m[2]:.1f} |")
    # Paired by seed: the mixed run and the strong-only run of its strong clients.
    seeds = sorted(set(by_seed.get("mixed", {})) & set(by_seed.get("strong-only", {})))
    if seeds:
        d = np.array([[by_seed["mixed"][s][i] - by_seed["strong-only"][s][i] for i in (0, 1)] for s in seeds])
        print()
        print("| mixed − strong-only | " + " | ".join(f"seed {s}" for s in seeds) + " | mean | seeds above 0 |")
        print("|---|" + "---|" * (len(seeds) + 2))
        for i, label in enumerate(("final test acc", "mean of last 3 rounds")):
            cells = " | ".join(f"{v:+.4f}" for v in d[:, i])
            print(f"| {label} | {cells} | {d[:, i].mean():+.4f} | {int((d[:, i] > 0).sum())} of {len(seeds)} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "results/tiers")
