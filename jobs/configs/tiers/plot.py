#!/usr/bin/python3
"""Figure of the weak-clients study: global test accuracy per round, mean over
the seeds with a min-max band, for strong-only, mixed and all-strong; one panel
per results folder (IID, Dirichlet).

    python3 jobs/configs/tiers/plot.py docs/tiers/accuracy.png IID=/tmp/tiers-study "Dirichlet 0.3=/tmp/tiers-study-dir"
"""
import glob
import os
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

CONFIGS = [("strong-only", "strong clients alone"), ("mixed", "strong + weak (dense only)"),
           ("all-strong", "20 strong clients")]


def curves(folder, name):
    out = []
    for path in sorted(glob.glob(os.path.join(folder, f"{name}-seed*.h5"))):
        with h5py.File(path, "r") as f:
            out.append(f["global/test_accuracy"][...])
    return np.array(out)


def main(target, panels):
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.2), sharey=True, squeeze=False)
    for ax, panel in zip(axes[0], panels):
        title, folder = panel.rsplit("=", 1)
        for name, label in CONFIGS:
            acc = curves(folder, name)
            if acc.size == 0:
                continue
            x = np.arange(acc.shape[1])
            line, = ax.plot(x, acc.mean(axis=0), label=f"{label} ({acc.shape[0]} seeds)")
            ax.fill_between(x, acc.min(axis=0), acc.max(axis=0), color=line.get_color(), alpha=0.15)
        ax.set_title(f"{title}: global test accuracy (mean, min-max band)", fontsize=10)
        ax.set_xlabel("round (0 = initial model)")
        ax.set_ylim(0.2, 0.8)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("accuracy (fraction)")
    axes[0][-1].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(target, dpi=90)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
