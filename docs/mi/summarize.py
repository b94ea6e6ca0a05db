#!/usr/bin/python3
"""Numbers behind docs/mi/README.md: per client pair of a `fedhpc mi` file,
MI (bits) and distances at the first and last recorded step, the minimum MI,
and the trend (Spearman rank correlation with the step, and last third mean
minus first third mean), plus the clients' local test metric.

    /usr/bin/python3 docs/mi/summarize.py results/mi-signal.h5
"""
import sys

import h5py
import numpy as np

LN2 = np.log(2.0)


def ranks(x):
    order = np.argsort(x, kind="stable")
    r = np.empty(len(x))
    r[order] = np.arange(len(x))
    return r


def spearman(x, y):
    rx, ry = ranks(x), ranks(y)
    return float(np.corrcoef(rx, ry)[0, 1])


def thirds(y):
    n = max(1, len(y) // 3)
    return float(np.mean(y[-n:]) - np.mean(y[:n]))


def main(path):
    with h5py.File(path, "r") as f:
        mi = f["mi"]
        steps = mi["steps"][...]
        pairs = mi["pairs"][...]
        print(f"{path}: {mi.attrs['samples']} repeats, {len(steps)} steps ({steps[0]}..{steps[-1]}), "
              f"{mi.attrs['dims']} dims, loss {mi.attrs.get('loss', '?')}")
        for s, r in enumerate(mi["rounds_at"][...]):
            print(f"start round {r}")
            for name, scale, unit in (("gaussian", 1 / LN2, "bits"), ("ksg", 1 / LN2, "bits"),
                                      ("d_euclidean", 1, ""), ("d_manhattan", 1, ""), ("d_chebyshev", 1, "")):
                t = mi[name][s] * scale
                for p, (a, b) in enumerate(pairs):
                    y = t[:, p]
                    print(f"  {name:12s} ({a},{b}) first {y[0]:8.4f} last {y[-1]:8.4f} min {y.min():8.4f} "
                          f"max {y.max():8.4f} {unit:4s} spearman(step) {spearman(steps, y):+.2f} "
                          f"last-third minus first-third {thirds(y):+.4f}")
            for name in ("test_loss", "test_accuracy"):
                if name not in mi or not np.isfinite(mi[name][s]).any():
                    continue
                t = mi[name][s]
                for c, client in enumerate(mi["clients"][...]):
                    print(f"  {name:12s} client {client}: first {t[0, c]:.4f} last {t[-1, c]:.4f}")


if __name__ == "__main__":
    for p in sys.argv[1:]:
        main(p)
