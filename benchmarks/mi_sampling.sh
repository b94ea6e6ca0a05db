#!/usr/bin/env bash
# fedhpc mi sampling throughput at 1 and 2 ranks: a tiny logreg task (3
# clients x S repeats x 12 local steps from the round-1 global model), runs
# interleaved np1, np2, np1, ... R times; prints each run's sampling and
# estimation seconds (rank 0 after the gathers) and the medians, with the
# load average. Usage: benchmarks/mi_sampling.sh [S] [R] [TASK]
# TASK: logreg (default, the tiny task above) or signal (paper 001's signal
# RNN, jobs/configs/mi/signal.ini: 3 clients x S repeats x 20 steps from the
# initial model, the local test MSE evaluated at every step).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/cmake/mpi-env.sh"
fedhpc="$root/build-release/src/fedhpc"
samples="${1:-400}"
repeats="${2:-3}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
task="${3:-logreg}"
args=(mi --dataset synthetic --synthetic-train-samples 600 --synthetic-test-samples 100 --synthetic-side 8
      --clients 4 --model logreg --batch-size 10 --lr 0.05 --optimizer sgd --rounds-at 1
      --mi-samples "$samples" --mi-every 3 --mi-project 8 --overwrite)
if [[ "$task" == signal ]]; then
  args=(mi --config "$root/jobs/configs/mi/signal.ini" --mi-samples "$samples" --overwrite)
fi
declare -A sampling
for r in $(seq "$repeats"); do
  for n in 1 2; do
    line="$(mpirun -n "$n" --bind-to none "$fedhpc" "${args[@]}" --output "$out/np$n.h5" | grep '^start round')"
    s="$(sed -E 's/.*sampling ([0-9.]+) s.*/\1/' <<<"$line")"
    sampling[$n]+="$s "
    echo "repeat $r np$n: $line"
  done
done
cmp <(h5dump -d /mi/ksg "$out/np1.h5" | tail -n +2) <(h5dump -d /mi/ksg "$out/np2.h5" | tail -n +2) && echo "np1 and np2 files: same /mi/ksg"
med() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
m1="$(med <<<"${sampling[1]}")"; m2="$(med <<<"${sampling[2]}")"
jobs=$((3 * samples))
echo "median sampling: np1 $m1 s ($(awk -v j=$jobs -v t=$m1 'BEGIN{printf "%.2f", j/t}') repeats/s), np2 $m2 s ($(awk -v j=$jobs -v t=$m2 'BEGIN{printf "%.2f", j/t}') repeats/s), np1/np2 $(awk -v a=$m1 -v b=$m2 'BEGIN{printf "%.2f", a/b}')x; load $(cut -d' ' -f1-3 /proc/loadavg)"
