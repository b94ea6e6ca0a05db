#!/usr/bin/python3
"""The figures behind docs/landscape/README.md: per run, from its file and the analysis outputs of
jobs/slurm/landscape-array.sbatch in one folder (default results/landscape/workstation).

    /usr/bin/python3 jobs/configs/landscape/summarize.py [FOLDER]

Per run: the final global test accuracy and loss; ||theta_R - theta_R(iid)||, the distance of its
final model from the IID run's (same start, same seed); the path length of its global models
sum ||theta_t - theta_{t-1}|| and its ratio to the net displacement ||theta_R - theta_0||
(1 = a straight path; larger = a more winding trajectory); the mean |change| of the test accuracy
from round to round (over the second half of the rounds). Then each interpolation's barrier height,
and the PCA planes' explained variance and each run's final point on them.
"""
import os
import sys

import h5py
import numpy as np


def run_figures(path, reference=None):
    with h5py.File(path, "r") as f:
        w = f["global/weights"][...].astype(np.float64)
        acc = f["global/test_accuracy"][...]
        loss = f["global/test_loss"][...]
    steps = np.linalg.norm(np.diff(w, axis=0), axis=1)
    half = len(acc) // 2
    out = {
        "acc": acc[-1], "loss": loss[-1],
        "path": steps.sum(), "winding": steps.sum() / max(np.linalg.norm(w[-1] - w[0]), 1e-12),
        "jitter": np.mean(np.abs(np.diff(acc[half:]))),
        "to_iid": np.linalg.norm(w[-1] - reference) if reference is not None else np.nan,
    }
    return out, w[-1]


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else "results/landscape/workstation"
    at = lambda name: os.path.join(folder, name)  # noqa: E731
    print(f"{'run':<14} {'test acc':>8} {'test loss':>9} {'|θ_R-θ_R(iid)|':>15} {'path':>7} {'winding':>8} "
          f"{'|Δacc| 2nd half':>15}")
    for prefix in ("", "warm-", "long-", "long-warm-"):
        if not os.path.exists(at(prefix + "iid.h5")):
            continue
        _, iid = run_figures(at(prefix + "iid.h5"))
        for name in ("iid", "a1.0", "a0.5", "a0.1"):
            if os.path.exists(at(prefix + name + ".h5")):
                r, _ = run_figures(at(prefix + name + ".h5"), iid)
                print(f"{prefix + name:<14} {r['acc']:8.4f} {r['loss']:9.4f} {r['to_iid']:15.4f} {r['path']:7.3f} "
                      f"{r['winding']:8.3f} {r['jitter']:15.4f}")
    for name in ("p0.8", "p0.2"):
        if os.path.exists(at(name + ".h5")):
            r, _ = run_figures(at(name + ".h5"))
            print(f"{name:<14} {r['acc']:8.4f} {r['loss']:9.4f} {'':>15} {r['path']:7.3f} {r['winding']:8.3f} "
                  f"{r['jitter']:15.4f}")
    for prefix in ("interp-", "interp-warm-", "interp-long-", "interp-long-warm-"):
        for name in ("a1.0", "a0.5", "a0.1"):
            path = at(prefix + name + ".h5")
            if os.path.exists(path):
                with h5py.File(path, "r") as f:
                    g = f["interpolation"]
                    s, loss = g["s"][...], g["loss"][...]
                    mid = loss[np.argmin(np.abs(s - 0.5))]
                    print(f"{prefix + name:<22} barrier {g.attrs['barrier_height']:.4f}  L(0) {loss[s == 0][0]:.4f}  "
                          f"L(0.5) {mid:.4f}  L(1) {loss[s == 1][0]:.4f}  max L on [0,1] "
                          f"{loss[(s >= 0) & (s <= 1)].max():.4f}")
    for name in ("study1-pca", "study3-pca", "study4-pca", "local-a0.1", "local-a0.1-client0"):
        path = at(name + ".h5")
        if not os.path.exists(path):
            continue
        with h5py.File(path, "r") as f:
            g = f["landscape"]
            ev = g["explained_variance"][...]
            runs = [os.path.basename(str(r)) for r in g.attrs["runs"]]
            traj = g["trajectory"][...]
            loss = g["loss"][...]
            ends = ", ".join(f"{r} ({t[np.isfinite(t[:, 0])][-1][0]:+.2f}, {t[np.isfinite(t[:, 0])][-1][1]:+.2f})"
                             for r, t in zip(runs, traj))
            print(f"{name}: explained {ev[0]:.3f} + {ev[1]:.3f}; loss on the grid {loss.min():.3f}..{loss.max():.3f}; "
                  f"final points {ends}")
            if "local" in g:
                local = g["local"][...]
                d = np.linalg.norm(local, axis=1)
                print(f"  local round {g.attrs['local_round']}: start {g['local_global'][0]}, clients' distance from "
                      f"theta_t on the plane: mean {np.nanmean(d):.3f}, max {np.nanmax(d):.3f}")


if __name__ == "__main__":
    main()
