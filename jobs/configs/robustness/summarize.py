#!/usr/bin/python3
"""Table and figure of the robustness study.

usage: summarize.py RESULTS_DIR OUT_DIR

Reads RESULTS_DIR/<case>-seed<S>.h5 (cases.txt x seeds), writes
OUT_DIR/results.md (final global test accuracy, mean and standard deviation
over the seeds, and the difference to the clean FedAvg run of the same
partition) and OUT_DIR/robustness.png (the same as bars, plus the accuracy
curves of the Dirichlet sign-flip runs).
"""
import collections
import glob
import os
import re
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

AGGREGATORS = ["fedavg", "trimmed", "trimmed30", "median", "multikrum"]
COLORS = {"fedavg": "tab:blue", "trimmed": "tab:orange", "trimmed30": "tab:brown", "median": "tab:green",
          "multikrum": "tab:purple"}
LABELS = {"fedavg": "FedAvg", "trimmed": "trimmed mean (β 0.2)", "trimmed30": "trimmed mean (β 0.3)", "median": "median", "multikrum": "multi-Krum (f 4)",
          "fedadam": "FedAdam", "fedprox": "FedProx (μ 0.01)"}


def load(results):
    runs = collections.defaultdict(dict)
    for path in sorted(glob.glob(os.path.join(results, "*-seed*.h5"))):
        m = re.match(r"(.*)-seed(\d+)\.h5$", os.path.basename(path))
        with h5py.File(path, "r") as f:
            if f.attrs["status"] != "complete":
                print(f"summarize.py: skipping {path} (status {f.attrs['status']})", file=sys.stderr)
                continue
            runs[m.group(1)][int(m.group(2))] = f["global/test_accuracy"][()]
    return runs


def stats(curves):
    final = np.array([c[-1] for c in curves.values()]) * 100
    return final.mean(), final.std(), len(final)


def table(runs):
    lines = ["| partition | fault | aggregator | final test accuracy (%) | vs clean FedAvg (points) | seeds |",
             "|---|---|---|---|---|---|"]
    for part, part_name in [("iid", "IID"), ("dir05", "Dirichlet α 0.5")]:
        clean = runs.get(f"{part}-clean-fedavg")
        if not clean:
            continue
        base, base_sd, n = stats(clean)
        lines.append(f"| {part_name} | none | FedAvg | {base:.2f} ± {base_sd:.2f} | 0 | {n} |")
        for fault, fault_name in [("signflip", "sign-flip ×4"), ("gaussian", "gaussian σ 10")]:
            for agg in AGGREGATORS:
                case = runs.get(f"{part}-{fault}-{agg}")
                if not case:
                    continue
                m, sd, n = stats(case)
                lines.append(f"| {part_name} | {fault_name} | {LABELS[agg]} | {m:.2f} ± {sd:.2f} | {m - base:+.2f} | {n} |")
    lines += ["", "| topology | server side (Dirichlet α 0.1) | final test accuracy (%) | vs FedAvg (points) | seeds |",
              "|---|---|---|---|---|"]
    for topo, prefix in [("centralized", "dir01"), ("hierarchical (4 edges, 2 local epochs, edges sync after each)", "dir01-hier")]:
        ref = runs.get(f"{prefix}-fedavg")
        if not ref:
            continue
        base, _, _ = stats(ref)
        for kind in ["fedavg", "fedadam", "fedprox"]:
            case = runs.get(f"{prefix}-{kind}")
            if not case:
                continue
            m, sd, n = stats(case)
            lines.append(f"| {topo} | {LABELS[kind]} | {m:.2f} ± {sd:.2f} | {m - base:+.2f} | {n} |")
    return "\n".join(lines) + "\n"


def figure(runs, out):
    fig, axes = plt.subplots(1, 3, figsize=(15, 5.2))
    for ax, (part, part_name) in zip(axes[:2], [("iid", "IID"), ("dir05", "Dirichlet α 0.5")]):
        clean = runs.get(f"{part}-clean-fedavg")
        if clean:
            base, base_sd, _ = stats(clean)
            ax.axhspan(base - 2, base + 2, color="0.9", label="clean FedAvg ± 2 points")
            ax.axhline(base, color="k", lw=1)
        width = 0.16
        for i, agg in enumerate(AGGREGATORS):
            xs, ms, sds = [], [], []
            for j, fault in enumerate(["signflip", "gaussian"]):
                case = runs.get(f"{part}-{fault}-{agg}")
                if case:
                    m, sd, _ = stats(case)
                    xs.append(j + (i - 2) * width)
                    ms.append(m)
                    sds.append(sd)
            if xs:
                ax.bar(xs, ms, width, yerr=sds, label=LABELS[agg], capsize=2, color=COLORS[agg])
        ax.set_xticks([0, 1], ["sign-flip ×4 (20 %)", "gaussian σ 10 (20 %)"])
        ax.set_ylim(0, 100)
        ax.set_ylabel("final global test accuracy (%)")
        ax.set_title(f"{part_name}, 20 clients, 3 seeds")
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3)
    ax = axes[2]
    for agg in AGGREGATORS:
        case = runs.get(f"dir05-signflip-{agg}")
        if case:
            curves = np.array(list(case.values())) * 100
            ax.plot(np.arange(curves.shape[1]), curves.mean(0), label=LABELS[agg], color=COLORS[agg])
    clean = runs.get("dir05-clean-fedavg")
    if clean:
        curves = np.array(list(clean.values())) * 100
        ax.plot(np.arange(curves.shape[1]), curves.mean(0), "k--", label="clean FedAvg")
    ax.set_xlabel("round")
    ax.set_ylabel("global test accuracy (%)")
    ax.set_title("Dirichlet α 0.5, sign-flip ×4: accuracy per round (mean of 3 seeds)", fontsize=10)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=3)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    runs = load(sys.argv[1])
    if not runs:
        sys.exit(f"summarize.py: error: no complete runs in {sys.argv[1]}")
    os.makedirs(sys.argv[2], exist_ok=True)
    with open(os.path.join(sys.argv[2], "results.md"), "w") as f:
        f.write(table(runs))
    figure(runs, os.path.join(sys.argv[2], "robustness.png"))
    print(table(runs))


if __name__ == "__main__":
    main()
