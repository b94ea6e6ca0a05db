#!/usr/bin/python3
"""Tables and one plot of scaling_study.sh's runs.

usage: plot_scaling.py OUT REPEATS RANK [RANK ...]

Reads OUT/{strong,weak}-np{k}-rep{r}.h5, writes OUT/scaling.csv (one row per
kind and rank count: median round seconds, the phases, speed-up, efficiency)
and OUT/scaling.png (round time and efficiency against ranks), and prints the
table.
"""
import csv
import statistics
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def round_time(path):
    with h5py.File(path, "r") as f:
        seconds = f["timing/round_seconds"][1:]
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in f["timing/phases"].attrs["names"]]
        phases = f["timing/phases"][1:]
    per_phase = {name: statistics.median(row[i] for row in phases) for i, name in enumerate(names)}
    return statistics.median(seconds), per_phase


def main():
    out, repeats, ranks = sys.argv[1], int(sys.argv[2]), [int(r) for r in sys.argv[3:]]
    rows = []
    for kind in ("strong", "weak"):
        base = None
        for n in ranks:
            runs = [round_time(f"{out}/{kind}-np{n}-rep{rep}.h5") for rep in range(1, repeats + 1)]
            t = statistics.median(r[0] for r in runs)
            phases = {k: statistics.median(r[1][k] for r in runs) for k in runs[0][1]}
            base = base or (n, t)
            speedup = base[1] / t * (1 if kind == "strong" else n / base[0])
            efficiency = base[1] / t * (base[0] / n if kind == "strong" else 1)
            rows.append(dict(kind=kind, ranks=n, round_seconds=t, speedup=speedup, efficiency=efficiency,
                             repeats=" ".join(f"{r[0]:.3f}" for r in runs),
                             **{f"phase_{k}": v for k, v in phases.items()}))
    with open(f"{out}/scaling.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        writer.writeheader()
        writer.writerows(rows)
    for r in rows:
        phases = ", ".join(f"{k[6:]} {v:.3f}" for k, v in r.items() if k.startswith("phase_"))
        print(f"{r['kind']} np{r['ranks']}: round {r['round_seconds']:.3f} s (repeats {r['repeats']}), "
              f"speed-up {r['speedup']:.3f}, efficiency {r['efficiency']:.3f}; phases {phases}")
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    for kind, marker in (("strong", "o"), ("weak", "s")):
        mine = [r for r in rows if r["kind"] == kind]
        xs = [r["ranks"] for r in mine]
        left.plot(xs, [r["round_seconds"] for r in mine], marker=marker, label=kind)
        right.plot(xs, [r["efficiency"] for r in mine], marker=marker, label=kind)
    left.set(xlabel="ranks", ylabel="seconds per round (median)", xticks=ranks, title="round time")
    right.set(xlabel="ranks", ylabel="efficiency", xticks=ranks, ylim=(0, 1.1), title="parallel efficiency")
    right.axhline(1.0, color="grey", lw=0.8, ls=":")
    for ax in (left, right):
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(f"{out}/scaling.png", dpi=120)
    print(f"wrote {out}/scaling.csv and {out}/scaling.png")


if __name__ == "__main__":
    main()
