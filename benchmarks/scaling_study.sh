#!/usr/bin/env bash
# Strong and weak scaling of a centralized FedAvg round over rank counts, and
# one plot of both (issue 11's scaling study on this machine).
#  - strong: the same CLIENTS clients (SAMPLES training samples each) at every
#    rank count;
#  - weak: CLIENTS_PER_RANK clients per rank, and TEST_PER_RANK global test
#    samples per rank, so evaluation grows with the ranks too.
# The round time is the median over rounds 2..R (round 1 warms up) of
# /timing/round_seconds (the slowest rank per round), then the median over
# REPEATS interleaved repeats. Efficiency: strong t1 / (k t_k), weak t1 / t_k.
# Prints the 1-minute load average with every run, writes OUT/scaling.csv and
# OUT/scaling.png (benchmarks/plot_scaling.py).
#
#   benchmarks/scaling_study.sh [build-dir]        (default build-release)
#   env: MODEL=seed-cnn RANKS="1 2" CLIENTS=10 CLIENTS_PER_RANK=5 SAMPLES=300
#        TEST_PER_RANK=1000 ROUNDS=4 REPEATS=3 OUT=/tmp/fedhpc-scaling
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build-release}
fedhpc=$build/src/fedhpc
: "${MODEL:=seed-cnn}" "${RANKS:=1 2}" "${CLIENTS:=10}" "${CLIENTS_PER_RANK:=5}" "${SAMPLES:=300}"
: "${TEST_PER_RANK:=1000}" "${ROUNDS:=4}" "${REPEATS:=3}" "${OUT:=/tmp/fedhpc-scaling-$$}"
# shellcheck source=/dev/null
source "$here/cmake/mpi-env.sh"
export PMIX_MCA_psec="${PMIX_MCA_psec:-native}"  # skip PMIx's munge retries (~2.4 s a start)
mkdir -p "$OUT"
load() { cut -d' ' -f1 /proc/loadavg; }

run_one() {  # kind ranks repeat
  local kind=$1 n=$2 rep=$3 clients test
  if [[ $kind == strong ]]; then clients=$CLIENTS test=$TEST_PER_RANK; else
    clients=$((CLIENTS_PER_RANK * n)) test=$((TEST_PER_RANK * n)); fi
  # The local test split takes 20 % of each client's samples: ask for
  # SAMPLES / 0.8 per client so SAMPLES remain for training.
  mpirun -n "$n" --oversubscribe "$fedhpc" run --dataset fashion-mnist --model "$MODEL" --clients "$clients" \
    --partition iid --max-train-samples $((clients * SAMPLES * 5 / 4)) --max-test-samples "$test" \
    --rounds "$ROUNDS" --batch-size 16 --local-iterations 1 --save-weights none --checkpoint-every 0 \
    --quiet --overwrite --output "$OUT/$kind-np$n-rep$rep.h5" >/dev/null
}

for rep in $(seq 1 "$REPEATS"); do
  for kind in strong weak; do
    for n in $RANKS; do
      echo "# $kind np$n repeat $rep: load $(load)"
      run_one "$kind" "$n" "$rep"
    done
  done
done
echo "# done: load $(load)"
/usr/bin/python3 "$here/benchmarks/plot_scaling.py" "$OUT" "$REPEATS" $RANKS
