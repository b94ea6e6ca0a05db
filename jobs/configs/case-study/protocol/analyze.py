#!/usr/bin/python3
"""analyze.py - the protocol-scale case study's figures (GSC paper, Figures
6-11 counterparts) and its search for drops.

    /usr/bin/python3 jobs/configs/case-study/protocol/analyze.py RESULTS_DIR -o docs/case-study

Also: the mean training loss per group per iteration (clients/train_loss) and
its rises (at a round's first iteration or inside a round), and the weight
difference at a round's first iteration against the others.

RESULTS_DIR holds <topology>-<clip>[<suffix>]-seed<S>.h5 files (or .h5.partial
while runs go), as written by run-local.sh or the Slurm array.  Runs of the
same name and different seeds are drawn as their mean (line) and min-max
band.  Prints a markdown summary (drops, accuracy, costs) on stdout.

What the paper recorded and what is read here (per client c, round r,
local iteration i; all from --monitor every):
  Figure 7/9  "mean cluster aggregated loss" after every local iteration:
              the mean over a group's clients of clients/iteration_test_loss
              (the local test loss after the iteration, before that
              iteration's edge average or ring pass); a group is an edge
              (/topology/edge_of_client), a ring (/topology/ring_of_client),
              or all clients (centralized).
  Figure 8/10 "client weight differences": the sum over the group's clients
              of clients/update_sum = sum(theta_after - theta_before).
  Figure 6/11 aggregated accuracy per round: global/aggregated_accuracy.

A drop is an iteration t (global index r*I + i + 1, 1-based) after which a
group's mean local test loss rose by more than --rise (default 50 %) over
the previous iteration's value, or a round after which the aggregated
accuracy fell by more than --acc-drop (default 0.05) below the previous
round's.  Drops after --after (default iteration 200, the paper's onset)
are counted separately.
"""
import argparse
import glob
import os
import re
import sys

import h5py
import numpy as np

os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")  # read .partial files of running jobs

NAME = re.compile(r"^(?P<topo>[a-z]+)-(?P<clip>noclip|clip)(?P<suffix>[-a-z0-9]*?)-seed(?P<seed>\d+)\.h5(\.partial)?$")
TOPOLOGIES = ("centralized", "hierarchical", "ring")
COLORS = {"centralized": "tab:orange", "hierarchical": "tab:purple", "ring": "tab:green"}


class Run:
    """One output file: the per-iteration traces, by group of clients."""

    def __init__(self, path, match):
        self.path = path
        self.topo, self.clip = match["topo"], match["clip"]
        self.suffix, self.seed = match["suffix"], int(match["seed"])
        with h5py.File(path, "r") as f:
            self.rounds = int(f.attrs["rounds_completed"])
            self.status = f.attrs["status"]
            r = self.rounds
            c = f["clients"]
            self.test_loss = c["iteration_test_loss"][:r]   # [R, I, N]
            self.train_loss = c["train_loss"][:r]
            self.update_sum = c["update_sum"][:r]
            self.update_l1 = c["update_l1"][:r]
            self.gsc = c["gsc"][:r]
            self.grad_l2 = c["grad_l2"][:r]                 # [R, I, N, Lw]
            self.layers = list(f["model/weight_layers"].asstr()[...])
            self.agg_acc = f["global/aggregated_accuracy"][:r]
            self.test_acc = f["global/test_accuracy"][: r + 1]
            self.seconds = f["timing/round_seconds"][:r]
            n = self.test_loss.shape[2]
            t = f["topology"]
            if "edge_of_client" in t:
                self.kind, self.group = "edge", t["edge_of_client"][...]
            elif "ring_of_client" in t:
                self.kind, self.group = "ring", t["ring_of_client"][...]
            else:
                self.kind, self.group = "all clients", np.zeros(n, dtype=np.int64)
        self.iters = self.test_loss.shape[1]

    @property
    def setting(self):
        return f"{self.topo}-{self.clip}{self.suffix}"

    def per_iteration(self, trace):
        """[R*I, N]: a per-client trace along the global iteration axis."""
        return trace.reshape(-1, trace.shape[2])

    def group_mean(self, trace):
        """{group: [R*I]} mean over the group's clients."""
        flat = self.per_iteration(trace)
        return {g: np.nanmean(flat[:, self.group == g], axis=1) for g in np.unique(self.group)}

    def group_sum(self, trace):
        flat = self.per_iteration(trace)
        return {g: np.nansum(flat[:, self.group == g], axis=1) for g in np.unique(self.group)}


def load(results):
    runs = []
    for path in sorted(glob.glob(os.path.join(results, "*.h5*"))):
        m = NAME.match(os.path.basename(path))
        if not m or (path.endswith(".partial") and os.path.exists(path[: -len(".partial")])):
            continue
        try:
            run = Run(path, m)
        except (OSError, KeyError) as e:
            print(f"analyze.py: note: skipping {path}: {e}", file=sys.stderr)
            continue
        if run.rounds > 0:
            runs.append(run)
    return runs


def by_setting(runs):
    out = {}
    for r in runs:
        out.setdefault(r.setting, []).append(r)
    return out


def find_drops(series, rise, start=1):
    """Iterations t (1-based) where series[t-1] > (1 + rise) * series[t-2]."""
    s = np.asarray(series, dtype=float)
    ratio = s[1:] / s[:-1]
    idx = np.nonzero(ratio > 1 + rise)[0] + 2
    return [int(t) for t in idx if t >= start]


def acc_drops(acc, drop):
    a = np.asarray(acc, dtype=float)
    return [int(r) + 2 for r in np.nonzero(a[1:] < a[:-1] - drop)[0]]


def round_lines(ax, run):
    for r in range(1, run.rounds):
        ax.axvline(r * run.iters + 0.5, color="0.85", lw=0.6, zorder=0)


def band(ax, x, curves, color, label, lw=1.0):
    y = np.vstack(curves)
    ax.plot(x, np.nanmean(y, axis=0), color=color, lw=lw, label=label)
    if len(curves) > 1:
        ax.fill_between(x, np.nanmin(y, axis=0), np.nanmax(y, axis=0), color=color, alpha=0.2, lw=0)


def plot_accuracy(settings, out, plt, suffix):
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, clip, fig_no in zip(axes, ("noclip", "clip"), (6, 11)):
        for topo in TOPOLOGIES:
            runs = settings.get(f"{topo}-{clip}{suffix}")
            if not runs:
                continue
            rounds = min(r.rounds for r in runs)
            x = np.arange(1, rounds + 1)
            band(ax, x, [r.agg_acc[:rounds] for r in runs], COLORS[topo],
                 f"{topo} ({len(runs)} seed{'s' if len(runs) > 1 else ''})")
            ax.plot(x, np.nanmean([r.test_acc[1:rounds + 1] for r in runs], axis=0), color=COLORS[topo],
                    ls=":", lw=0.8)
        ax.set_title(f"Figure {fig_no}: {'without' if clip == 'noclip' else 'with'} clipping")
        ax.set_xlabel("round")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("aggregated accuracy (solid), global test (dotted)")
    axes[0].legend(fontsize=8)
    save(fig, out, f"accuracy{suffix}.png", plt)


def plot_grouped(settings, out, plt, suffix, what):
    """Figures 7/9 (what='loss') or 8/10 (what='update'): one panel per topology and clipping."""
    fig, axes = plt.subplots(3, 2, figsize=(12, 9), sharex=True)
    for row, topo in enumerate(TOPOLOGIES):
        for col, clip in enumerate(("noclip", "clip")):
            ax = axes[row, col]
            runs = settings.get(f"{topo}-{clip}{suffix}")
            if not runs:
                ax.text(0.5, 0.5, f"{topo}-{clip}{suffix}: not run", ha="center", transform=ax.transAxes)
                ax.set_yticks([])
                continue
            iters = min(r.rounds for r in runs) * runs[0].iters
            x = np.arange(1, iters + 1)
            groups = [r.group_sum(r.update_sum) if what == "update" else
                      r.group_mean(r.test_loss if what == "loss" else r.train_loss) for r in runs]
            cmap = plt.get_cmap("tab10")
            for g in sorted(groups[0]):
                band(ax, x, [gr[g][:iters] for gr in groups], cmap(int(g) % 10), f"{runs[0].kind} {g}", lw=0.8)
            round_lines(ax, runs[0])
            ax.axvline(200.5, color="red", lw=0.6, ls="--")
            ax.set_title(f"{topo}, {'no clipping' if clip == 'noclip' else 'clip-norm 1'}", fontsize=9)
            ax.grid(alpha=0.3, axis="y")  # vertical lines are the round boundaries
            if what != "update":
                ax.set_yscale("log")
            if col == 0 and len(groups[0]) > 1:
                ax.legend(fontsize=7, ncol=2)
    for ax in axes[-1]:
        ax.set_xlabel("local iteration (grey: round boundaries; red: iteration 200)")
    if what == "loss":
        fig.suptitle("Figures 7/9: mean local test loss per edge / ring after every local iteration")
        name = f"loss-per-group{suffix}.png"
    elif what == "train":
        fig.suptitle("Mean training loss per edge / ring in every local iteration (clients/train_loss)")
        name = f"train-loss-per-group{suffix}.png"
    else:
        fig.suptitle("Figures 8/10: summed weight difference sum(theta_after - theta_before) per edge / ring")
        name = f"weight-difference-per-group{suffix}.png"
    save(fig, out, name, plt)


def plot_gsc(settings, out, plt, suffix):
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, what in zip(axes, ("gsc", "dense")):
        for topo in TOPOLOGIES:
            for clip, ls in (("noclip", "-"), ("clip", "--")):
                runs = settings.get(f"{topo}-{clip}{suffix}")
                if not runs:
                    continue
                iters = min(r.rounds for r in runs) * runs[0].iters
                x = np.arange(1, iters + 1)
                if what == "gsc":
                    ys = [np.nanmedian(r.per_iteration(r.gsc), axis=1)[:iters] for r in runs]
                else:
                    ys = [np.nanmedian(r.grad_l2[..., -1].reshape(-1, r.grad_l2.shape[2]), axis=1)[:iters]
                          for r in runs]
                ax.plot(x, np.nanmean(ys, axis=0), color=COLORS[topo], ls=ls, lw=0.7, label=f"{topo} {clip}")
        ax.set_yscale("log")
        ax.set_xlabel("local iteration")
        ax.grid(alpha=0.3)
    axes[0].set_title("GSC, median over clients")
    axes[1].set_title("L2 norm of the dense layer's gradient, median over clients")
    axes[0].legend(fontsize=7)
    save(fig, out, f"gsc{suffix}.png", plt)


def save(fig, out, name, plt):
    fig.tight_layout()
    fig.savefig(os.path.join(out, name), dpi=110)
    plt.close(fig)
    print(f"wrote {os.path.join(out, name)}", file=sys.stderr)


def summary(settings, args):
    print(f"Drop: a group's mean local test loss rising by more than {args.rise:.0%} from one local "
          f"iteration to the next; accuracy drop: aggregated accuracy falling by more than "
          f"{args.acc_drop} from one round to the next. 'after {args.after}' counts iterations > {args.after}.\n")
    print("| run | rounds | final agg. acc | final test acc | loss rises (all / after "
          f"{args.after}) | largest one-iteration rise after {args.after} (iteration, group) | "
          "accuracy drops (rounds) | s/round |")
    print("|---|---|---|---|---|---|---|---|")
    for name in sorted(settings):
        for r in sorted(settings[name], key=lambda r: r.seed):
            all_drops, late = [], []
            best = (0.0, None, None)
            for g, s in r.group_mean(r.test_loss).items():
                d = find_drops(s, args.rise, start=r.iters + 1)
                all_drops += d
                late += [t for t in d if t > args.after]
                if len(s) > args.after + 1:
                    ratio = s[args.after + 1:] / s[args.after:-1]
                    k = int(np.nanargmax(ratio))
                    if ratio[k] > best[0]:
                        best = (float(ratio[k]), args.after + 2 + k, int(g))
            where = f"x{best[0]:.2f} ({best[1]}, {r.kind} {best[2]})" if best[1] else "-"
            ad = acc_drops(r.agg_acc, args.acc_drop)
            print(f"| {name} seed {r.seed} | {r.rounds}{'' if r.status == 'complete' else ' (' + r.status + ')'} | "
                  f"{r.agg_acc[-1]:.4f} | {r.test_acc[-1]:.4f} | {len(all_drops)} / {len(late)} "
                  f"{sorted(set(late))[:8] if late else ''} | {where} | {ad if ad else 'none'} | "
                  f"{np.nanmean(r.seconds):.0f} |")


def explain(settings, args):
    """For every rise that counts as a drop after --after: which clients and which layers."""
    for name in sorted(settings):
        for r in settings[name]:
            flat_loss = r.per_iteration(r.test_loss)
            flat_g = r.grad_l2.reshape(-1, r.grad_l2.shape[2], r.grad_l2.shape[3])  # [R*I, N, Lw]
            for g, s in r.group_mean(r.test_loss).items():
                for t in find_drops(s, args.rise, start=args.after + 1):
                    members = np.nonzero(r.group == g)[0]
                    before, after = flat_loss[t - 2, members], flat_loss[t - 1, members]
                    worst = members[int(np.nanargmax(after / before))]
                    med = np.nanmedian(flat_g[: t - 1, worst], axis=0)
                    ratio = flat_g[t - 1, worst] / med
                    layers = ", ".join(f"{n} x{q:.1f}" for n, q in zip(r.layers, ratio))
                    print(f"- {name} seed {r.seed}, iteration {t} (round {(t - 1) // r.iters + 1}, "
                          f"iteration {(t - 1) % r.iters + 1}), {r.kind} {g}: mean loss "
                          f"{s[t - 2]:.3f} -> {s[t - 1]:.3f}; client {worst} {flat_loss[t - 2, worst]:.3f} -> "
                          f"{flat_loss[t - 1, worst]:.3f}; its gradient L2 per layer vs its median so far: {layers}")


def train_spikes(settings, args):
    """Rises of a group's mean training loss by more than --train-rise: at a round's first iteration or inside it."""
    print(f"| run | training-loss rises > {args.train_rise:.0%} after iteration {args.after}: "
          "at a round's first iteration / inside a round | inside a round: (iteration, group, before -> after) |")
    print("|---|---|---|")
    for name in sorted(settings):
        for r in sorted(settings[name], key=lambda r: r.seed):
            start, inside = 0, []
            for g, s in r.group_mean(r.train_loss).items():
                for t in find_drops(s, args.train_rise, start=args.after + 1):
                    if (t - 1) % r.iters == 0:
                        start += 1
                    else:
                        inside.append(f"({t}, {g}, {s[t - 2]:.4f} -> {s[t - 1]:.4f})")
            print(f"| {name} seed {r.seed} | {start} / {len(inside)} | {' '.join(inside) if inside else '-'} |")


def round_start(settings):
    """The weight difference at a round's first local iteration (fresh Adam moments) vs the others."""
    print("| run | update_sum, iteration 1 of rounds 2+ (median over rounds and groups) | "
          "update_sum, iterations 2-I | update_l1 per client, iteration 1 / 2-I |")
    print("|---|---|---|---|")
    for name in sorted(settings):
        for r in sorted(settings[name], key=lambda r: r.seed):
            groups = np.stack(list(r.group_sum(r.update_sum).values()), axis=1).reshape(r.rounds, r.iters, -1)
            l1 = np.nanmean(r.update_l1, axis=2)
            print(f"| {name} seed {r.seed} | {np.nanmedian(groups[1:, 0]):.1f} | {np.nanmedian(groups[1:, 1:]):.1f} | "
                  f"{np.nanmedian(l1[1:, 0]):.1f} / {np.nanmedian(l1[1:, 1:]):.1f} |")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results", help="directory of <topology>-<clip>-seed<S>.h5 files")
    ap.add_argument("-o", "--out", default=".", help="where the PNG files go")
    ap.add_argument("--suffix", default="", help="only runs whose name carries this suffix (e.g. -relu)")
    ap.add_argument("--rise", type=float, default=0.5, help="relative loss rise that counts as a drop")
    ap.add_argument("--acc-drop", type=float, default=0.05, help="accuracy fall per round that counts")
    ap.add_argument("--train-rise", type=float, default=1.0, help="relative training-loss rise that counts")
    ap.add_argument("--after", type=int, default=200, help="the paper's onset (local iteration)")
    args = ap.parse_args(argv)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    runs = [r for r in load(args.results) if r.suffix == args.suffix]
    if not runs:
        sys.exit(f"analyze.py: error: no runs with suffix '{args.suffix}' in {args.results}")
    os.makedirs(args.out, exist_ok=True)
    settings = by_setting(runs)
    plot_accuracy(settings, args.out, plt, args.suffix)
    plot_grouped(settings, args.out, plt, args.suffix, "loss")
    plot_grouped(settings, args.out, plt, args.suffix, "update")
    plot_grouped(settings, args.out, plt, args.suffix, "train")
    plot_gsc(settings, args.out, plt, args.suffix)
    summary(settings, args)
    print()
    round_start(settings)
    print()
    train_spikes(settings, args)
    print()
    explain(settings, args)


if __name__ == "__main__":
    main()
