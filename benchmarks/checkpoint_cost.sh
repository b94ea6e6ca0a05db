#!/usr/bin/env bash
# Cost of checkpointing (--checkpoint-every 1, the default) against none
# (--checkpoint-every 0): the same run both ways, interleaved over repeats,
# for a topology without client state (centralized: a checkpoint is the
# global model) and gossip (every client's model). The figure is the median
# of each run's wall time as printed by fedhpc ("wrote ... (X s)", rank 0,
# from start to the file in place; the run ends in a collective step, so
# no rank is still working then);
# /timing/round_seconds would not see it, as a checkpoint is written after
# its round is timed. Prints the load average before and after, as other
# work on the machine moves the figures.
# Usage: benchmarks/checkpoint_cost.sh [ranks] [repeats] [extra fedhpc options]
#   env: CLIENTS=20 ROUNDS=40 TRAIN_SAMPLES=4000 (the run's size; a gossip
#   checkpoint holds CLIENTS models of 50,890 floats). A run writes ROUNDS
#   checkpoints (after round 0 and every round but the last).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=/dev/null
source "$root/cmake/mpi-env.sh"
export PMIX_MCA_psec="${PMIX_MCA_psec:-native}"  # skip PMIx's munge retries (~2.4 s a start)
bin="${FEDHPC_BIN:-$root/build-release/src/fedhpc}"
ranks="${1:-2}"
repeats="${2:-5}"
shift $(( $# > 2 ? 2 : $# ))
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
: "${CLIENTS:=20}" "${ROUNDS:=40}" "${TRAIN_SAMPLES:=4000}"
base=(--dataset synthetic --synthetic-train-samples "$TRAIN_SAMPLES" --synthetic-test-samples 1000 --model mlp --hidden 64
      --clients "$CLIENTS" --rounds "$ROUNDS" --local-iterations 1 --batch-size 32 --quiet --overwrite "$@")
declare -A times
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq 1 "$repeats"); do
  for topology in centralized gossip; do
    for every in 0 1; do
      key="$topology-$every"
      line=$(mpirun -n "$ranks" --oversubscribe "$bin" run "${base[@]}" --topology "$topology" \
               --checkpoint-every "$every" --output "$work/$key.h5" | tail -1)
      times[$key]+="$(sed -E 's/.*\(([0-9.]+) s\)$/\1/' <<<"$line") "
    done
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for topology in centralized gossip; do
  off=$(median "${times[$topology-0]}")
  on=$(median "${times[$topology-1]}")
  awk -v t="$topology" -v r="$ranks" -v n="$repeats" -v off="$off" -v on="$on" -v a="${times[$topology-0]}" \
      -v b="${times[$topology-1]}" -v k="$ROUNDS" \
    'BEGIN { printf "%s ranks=%s repeats=%s wall_seconds every0=%s every1=%s ratio %.3f, %.1f ms per checkpoint (%d a run) (every0: %s| every1: %s)\n", t, r, n, off, on, on / off, 1000 * (on - off) / k, k, a, b }'
done
