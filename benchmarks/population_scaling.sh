#!/usr/bin/env bash
# A million-client population (issue 11): round time of
# --dataset synthetic-population --model logreg at 1k, 2k, 5k and 10k
# clients per round (N = 10^6, --participation m/N), and the peak memory of
# the 1M-client run against a 10k-client population with the same 10k
# clients per round (the difference is what 990,000 idle clients cost).
# Sizes are interleaved over repeats; a run's figure is the median of its
# rounds 2..R of /timing/round_seconds (the slowest rank's round, every
# phase: generating the participants' data, training, aggregation,
# evaluation); the script prints the median over repeats, a least-squares
# line t = a + b m, and the load average before and after (other work on the
# machine moves the figures).
# Usage: benchmarks/population_scaling.sh [ranks] [repeats] [rounds] [extra fedhpc options]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/cmake/mpi-env.sh"
export PMIX_MCA_psec="${PMIX_MCA_psec:-native}"  # skip PMIx's munge retries (~2.4 s a start)
bin="${FEDHPC_BIN:-$root/build-release/src/fedhpc}"
ranks="${1:-2}"
repeats="${2:-3}"
rounds="${3:-4}"
shift $(( $# > 3 ? 3 : $# ))
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
N=1000000
base=(--dataset synthetic-population --model logreg --rounds "$rounds" --quiet --overwrite "$@")
run() {  # name, then fedhpc options
  local name="$1"
  shift
  mpirun -n "$ranks" --oversubscribe "$bin" run "${base[@]}" "$@" --output "$work/$name.h5" >/dev/null
}
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for rep in $(seq 1 "$repeats"); do
  for m in 1000 2000 5000 10000; do
    run "m$m-r$rep" --clients "$N" --participation "$(awk -v m="$m" -v n="$N" 'BEGIN { print m / n }')"
  done
  run "small-r$rep" --clients 10000 --participation 1
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 - "$work" "$repeats" "$ranks" <<'PY'
import sys
import h5py
import numpy as np

work, repeats, ranks = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
names = ["select", "train", "aggregate", "evaluate"]
sizes = [1000, 2000, 5000, 10000]
medians = []
for m in sizes:
    per_run, phases, peaks = [], [], []
    for rep in range(1, repeats + 1):
        with h5py.File(f"{work}/m{m}-r{rep}.h5", "r") as f:
            per_run.append(float(np.median(f["timing/round_seconds"][1:])))
            phases.append(np.median(f["timing/phases"][1:, :4], axis=0))
            peaks.append(int(f["timing/peak_rss_bytes"][...].max()))
    t = float(np.median(per_run))
    medians.append(t)
    phase = np.median(np.array(phases), axis=0)
    print(f"clients_per_round={m} N=1000000 ranks={ranks} round_seconds={t:.3f} "
          f"({1000 * t / m:.3f} s per 1000 clients; runs: {' '.join(f'{x:.3f}' for x in per_run)}) "
          f"phases {' '.join(f'{n}={p:.3f}' for n, p in zip(names, phase))} peak_rss_max_rank={max(peaks) / 2**20:.0f} MiB")
b, a = np.polyfit(sizes, medians, 1)
fit = [a + b * m for m in sizes]
worst = max(abs(t - f) / t for t, f in zip(medians, fit))
print(f"linear fit: round_seconds = {a:.3f} + {1000 * b:.3f} * (clients per round / 1000); "
      f"largest deviation {100 * worst:.1f} %; 10k/1k ratio {medians[-1] / medians[0]:.2f}")
big, small = [], []
for rep in range(1, repeats + 1):
    with h5py.File(f"{work}/m10000-r{rep}.h5", "r") as f:
        big.append(f["timing/peak_rss_bytes"][...])
    with h5py.File(f"{work}/small-r{rep}.h5", "r") as f:
        small.append(f["timing/peak_rss_bytes"][...])
big_rank = np.max(np.array(big), axis=0)
small_rank = np.max(np.array(small), axis=0)
print("peak_rss per rank, N=1000000 participation 0.01: "
      + " ".join(f"{x / 2**20:.0f} MiB" for x in big_rank)
      + f" (limit 2048 MiB); N=10000 participation 1: " + " ".join(f"{x / 2**20:.0f} MiB" for x in small_rank)
      + f"; per idle client {float(np.sum(big_rank - small_rank)) / 990000:.0f} bytes (summed over the ranks)")
PY
