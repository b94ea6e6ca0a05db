#!/usr/bin/env python3
"""Table of the stragglers study: per case, mean and standard deviation over
the seeds of the final global test accuracy, the simulated seconds of all
rounds, the share of late client-rounds, and the test accuracy reached by the
simulated time the deadline cases need for all their rounds (a fixed budget
of simulated time).

    python3 jobs/configs/stragglers/summarize.py results/stragglers docs/stragglers
"""
import glob
import os
import re
import sys

import h5py
import numpy as np

CASES = ["no-deadline", "drop", "partial"]


def load(path):
    with h5py.File(path, "r") as f:
        acc = f["global/test_accuracy"][:]  # [R + 1], row 0 = initial model
        sim = f["timing/simulated_seconds"][:]
        late = f["clients/late"][:]
        dropped = f["clients/dropped"][:]
        participated = f["clients/participated"][:]
    return dict(acc=acc, sim=sim, late=late.sum() / max(1, participated.sum()),
                aggregated=(participated.sum() - dropped.sum()) / max(1, participated.sum()))


def accuracy_by(run, budget):
    """Test accuracy of the last round finished within `budget` simulated seconds."""
    done = np.cumsum(run["sim"]) <= budget + 1e-12
    rounds = int(done.sum())
    return run["acc"][rounds]


def main(results, out_dir):
    runs = {}
    for case in CASES:
        runs[case] = [load(p) for p in sorted(glob.glob(os.path.join(results, f"{case}-seed*.h5")))]
    budget = max(float(np.sum(r["sim"])) for case in ("drop", "partial") for r in runs[case])
    lines = ["| case | seeds | final test accuracy | simulated seconds (all rounds) | late client-rounds | "
             f"aggregated client-rounds | test accuracy by {budget:.2f} simulated s |",
             "|---|---|---|---|---|---|---|"]
    for case in CASES:
        rs = runs[case]
        if not rs:
            continue
        def ms(values, fmt="{:.4f}"):
            v = np.array(values, dtype=float)
            return (fmt + " ± " + fmt).format(v.mean(), v.std(ddof=1) if len(v) > 1 else 0.0)
        lines.append("| {} | {} | {} | {} | {} | {} | {} |".format(
            case, len(rs), ms([r["acc"][-1] for r in rs]), ms([np.sum(r["sim"]) for r in rs], "{:.2f}"),
            ms([r["late"] for r in rs], "{:.3f}"), ms([r["aggregated"] for r in rs], "{:.3f}"),
            ms([accuracy_by(r, budget) for r in rs])))
    table = "\n".join(lines)
    print(table)
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        with open(os.path.join(out_dir, "table.md"), "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "results/stragglers", sys.argv[2] if len(sys.argv) > 2 else "")
