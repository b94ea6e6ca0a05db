#!/usr/bin/env bash
# Cost of the monitoring suite as a ratio of round time: the same run with
# --monitor off, last and every, interleaved over repeats; the figure is the
# median of each run's mean /timing/round_seconds (slowest rank per round).
# Usage: benchmarks/monitoring_cost.sh [ranks] [repeats] [extra fedhpc options]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/cmake/mpi-env.sh"
bin="${FEDHPC_BIN:-$root/build-release/src/fedhpc}"
ranks="${1:-2}"
repeats="${2:-3}"
shift $(( $# > 2 ? 2 : $# ))
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
base=(--dataset fashion-mnist --clients 10 --max-train-samples 3000 --rounds 2 --local-iterations 20
      --batch-size 16 --optimizer adam --model seed-cnn --quiet --overwrite "$@")
for rep in $(seq 1 "$repeats"); do
  for mode in off last every; do
    mpirun -n "$ranks" --oversubscribe "$bin" run "${base[@]}" --monitor "$mode" --output "$work/$mode-$rep.h5" >/dev/null
  done
done
/usr/bin/python3 - "$work" "$repeats" "$ranks" <<'PY'
import sys, statistics, h5py
work, repeats, ranks = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def median_round(mode):
    return statistics.median(h5py.File(f"{work}/{mode}-{r}.h5")["timing/round_seconds"][...].mean()
                             for r in range(1, repeats + 1))
off, last, every = (median_round(m) for m in ("off", "last", "every"))
print(f"ranks={ranks} repeats={repeats} round_seconds off={off:.3f} last={last:.3f} every={every:.3f} "
      f"ratio_last={last / off:.3f} ratio_every={every / off:.3f}")
PY
