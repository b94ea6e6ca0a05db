#!/usr/bin/env bash
# End-to-end cost of `fedhpc landscape` (the command a user runs: read the run
# file, rebuild data and model, evaluate the grid, gather, write) at 1 and 2
# ranks, interleaved over repeats (the order alternates) so a change of load
# hits both alike. The figure is the grid's points per second that fedhpc
# prints ("landscape: N points ... (X points/s, R ranks)": the grid's
# evaluation, MPI_Wtime on rank 0 around evaluate_grid, which ends in an
# all-gather, so it is the slowest rank's time), its median per rank count,
# and the 1 -> 2 rank efficiency (speed-up / 2). The 1-minute load average is
# printed with every figure, since other work on the machine moves them.
# On a busy Linux machine with autogroup scheduling (sched_autogroup_enabled
# = 1) CPU time is shared per session, and each mpirun job is one session:
# a 2-rank job then gets no more CPU than a 1-rank job, and this script shows
# no speed-up (benchmarks/RESULTS.md, landstudy section). Use it on an idle
# node or under Slurm; bench_landscape times both inside one job.
#
# It trains the run it maps first (seed CNN, Fashion-MNIST, 10 IID clients,
# 2 rounds on 2000 samples; synthetic data where Fashion-MNIST is missing).
# Usage: benchmarks/landscape_cli.sh [repeats] [grid] [eval-samples]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/cmake/mpi-env.sh"
export PMIX_MCA_psec="${PMIX_MCA_psec:-native}"
export OMPI_MCA_mpi_yield_when_idle=1
bin="${FEDHPC_BIN:-$root/build-release/src/fedhpc}"
repeats="${1:-5}"
grid="${2:-11}"
samples="${3:-500}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
data=(--dataset fashion-mnist)
[[ -d /usr/share/datasets/fashion-mnist ]] || data=(--dataset synthetic --synthetic-train-samples 2000)
mpirun -n 2 "$bin" run "${data[@]}" --max-train-samples 2000 --max-test-samples 500 --clients 10 --rounds 2 \
  --model seed-cnn --optimizer sgd --lr 0.02 --quiet --output "$work/run.h5" >/dev/null
load() { cut -d' ' -f1 /proc/loadavg; }
declare -A rates
echo "# fedhpc landscape: seed-cnn, grid ${grid}x${grid}, --eval-samples $samples, random directions, $repeats repeats"
for rep in $(seq 1 "$repeats"); do
  order=(1 2)
  (( rep % 2 == 0 )) && order=(2 1)
  for n in "${order[@]}"; do
    before=$(load)
    line=$(mpirun -n "$n" "$bin" landscape "$work/run.h5" --grid "$grid" --eval-samples "$samples" \
             --output "$work/l$n.h5" --overwrite | grep '^landscape:')
    rate=$(sed -E 's/.*\(([0-9.]+) points\/s.*/\1/' <<<"$line")
    rates[$n]+="$rate "
    echo "repeat $rep, $n rank(s): $rate points/s (load average $before before, $(load) after)"
  done
done
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
one=$(median "${rates[1]}")
two=$(median "${rates[2]}")
same=$(cmp -s <(h5dump -d /landscape/loss "$work/l1.h5" | tail -n +2) <(h5dump -d /landscape/loss "$work/l2.h5" | tail -n +2) && echo yes || echo NO)
awk -v a="$one" -v b="$two" -v same="$same" 'BEGIN {
  printf "median: 1 rank %.2f points/s, 2 ranks %.2f points/s; speed-up %.3f, efficiency %.1f%%; surfaces bit-identical: %s\n",
         a, b, b / a, 50 * b / a, same }'
