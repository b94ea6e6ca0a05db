#!/usr/bin/env bash
# Weak scaling of a fedhpc round: the same work per rank at 1 and 2 ranks
# (CLIENTS_PER_RANK clients of SAMPLES training samples each, and
# TEST_PER_RANK global test samples per rank, so evaluation scales too),
# centralized FedAvg, for each model in MODELS. Efficiency = t1 / t2, t the
# median over rounds 2..R (round 1 warms up) of /timing/round_seconds (the
# slowest rank per round), then the median over REPEATS interleaved repeats
# (np1, np2, np1, np2, ...); the same from each side's fastest repeat, which
# other jobs on a shared machine disturb least. Also prints the median /timing/phases of each
# side and the 1-minute load average before every figure.
# With CEILING=1 (the default) every repeat also runs as many independent
# 1-rank jobs at once as the largest rank count, each with np1's work (their
# own mpirun, unbound, so the kernel spreads them over the cores): the
# slowest one's median round gives the machine's own ceiling t1/t1xN, what
# sharing memory bandwidth and caches costs with no MPI between the ranks,
# and fedhpc's efficiency is also given relative to it.
#
#   benchmarks/weak_scaling.sh [build-dir]        (default build-release)
#   env: MODELS="seed-cnn logreg" CLIENTS_PER_RANK=5 SAMPLES=300 TEST_PER_RANK=1000
#        ROUNDS=4 REPEATS=3 RANKS="1 2" BATCH=16 LOCAL_TEST_PERCENT=20 EXTRA="" CEILING=1 OUT=/tmp/fedhpc-weak
#   The issue-10 logreg workload (compare_peer.sh's: 5 SGD steps of batch 10
#   per client, no local test split), 500 clients per rank:
#        MODELS=logreg CLIENTS_PER_RANK=500 SAMPLES=50 BATCH=10 LOCAL_TEST_PERCENT=0 \
#        EXTRA="--iteration-steps 5 --optimizer sgd --lr 0.05 --clip-norm 0"
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build-release}
fedhpc=$build/src/fedhpc
: "${MODELS:=seed-cnn logreg}" "${CLIENTS_PER_RANK:=5}" "${SAMPLES:=300}" "${TEST_PER_RANK:=1000}"
: "${ROUNDS:=4}" "${REPEATS:=3}" "${RANKS:=1 2}" "${BATCH:=16}" "${LOCAL_TEST_PERCENT:=20}" "${EXTRA:=}"
: "${CEILING:=1}"
: "${OUT:=/tmp/fedhpc-weak-$$}"
# shellcheck source=/dev/null
source "$here/cmake/mpi-env.sh"
mkdir -p "$OUT"
load() { cut -d' ' -f1 /proc/loadavg; }

run_one() {  # model ranks output [mpirun options]
  local model=$1 n=$2 output=$3 clients=$(( CLIENTS_PER_RANK * $2 ))
  # The local test split takes LOCAL_TEST_PERCENT of each client's samples:
  # ask for SAMPLES / (1 - that) per client so SAMPLES remain for training.
  local train=$(( clients * SAMPLES * 100 / (100 - LOCAL_TEST_PERCENT) ))
  # shellcheck disable=SC2086  # EXTRA is a list of options
  mpirun -n "$n" --oversubscribe "${@:4}" "$fedhpc" run --dataset fashion-mnist --model "$model" --clients "$clients" \
    --partition iid --local-test-fraction "0.$(printf %02d "$LOCAL_TEST_PERCENT")" --max-train-samples "$train" --max-test-samples $(( TEST_PER_RANK * n )) \
    --rounds "$ROUNDS" --batch-size "$BATCH" --local-iterations 1 --save-weights none --quiet --overwrite \
    $EXTRA --output "$output" >/dev/null
}

run_copies() {  # model repeat: independent 1-rank jobs at once, one per rank of the largest run
  local model=$1 rep=$2 copies=${RANKS##* } c pids=()
  for c in $(seq 1 "$copies"); do
    run_one "$model" 1 "$OUT/$model-solo$c-rep$rep.h5" --bind-to none &
    pids+=($!)
  done
  for c in "${pids[@]}"; do wait "$c"; done
}

for model in $MODELS; do
  for rep in $(seq 1 "$REPEATS"); do
    for n in $RANKS; do
      echo "# $model np$n repeat $rep: load $(load)"
      run_one "$model" "$n" "$OUT/$model-np$n-rep$rep.h5"
    done
    if [[ $CEILING == 1 ]]; then
      echo "# $model ${RANKS##* } independent 1-rank jobs at once, repeat $rep: load $(load)"
      run_copies "$model" "$rep"
    fi
  done
  echo "# $model done: load $(load)"
  # shellcheck disable=SC2086  # RANKS is a list
  /usr/bin/python3 - "$OUT" "$model" "$REPEATS" "$CEILING" $RANKS <<'PY'
import sys, statistics, h5py
out, model, repeats, ceiling = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
ranks = [int(r) for r in sys.argv[5:]]
t, tmin, phases = {}, {}, {}
for n in ranks:
    per_run, rows = [], []
    for rep in range(1, repeats + 1):
        with h5py.File(f"{out}/{model}-np{n}-rep{rep}.h5", "r") as f:
            s = f["timing/round_seconds"][1:]
            per_run.append(statistics.median(s))
            rows.extend(f["timing/phases"][1:])
            names = list(f["timing/phases"].attrs["names"])
    t[n] = statistics.median(per_run)
    tmin[n] = min(per_run)
    phases[n] = {k: statistics.median(r[i] for r in rows) for i, k in enumerate(names)}
    print(f"{model} np{n}: round {t[n]:.3f} s (repeats: {', '.join(f'{x:.3f}' for x in per_run)}); phases "
          + ", ".join(f"{k} {v:.3f}" for k, v in phases[n].items()))
base = ranks[0]
for n in ranks[1:]:
    print(f"{model} weak-scaling efficiency t{base}/t{n} = {t[base] / t[n]:.3f} (medians; "
          f"of the fastest repeats: {tmin[base] / tmin[n]:.3f})")
if ceiling:
    copies = ranks[-1]
    per_run = []
    for rep in range(1, repeats + 1):
        slowest = 0.0
        for c in range(1, copies + 1):
            with h5py.File(f"{out}/{model}-solo{c}-rep{rep}.h5", "r") as f:
                slowest = max(slowest, statistics.median(f["timing/round_seconds"][1:]))
        per_run.append(slowest)
    tc = statistics.median(per_run)
    print(f"{model} {copies} independent np{base} jobs at once: round {tc:.3f} s (slowest job; repeats: "
          + ", ".join(f"{x:.3f}" for x in per_run) + f"); machine ceiling t{base}/t{base}x{copies} = {t[base] / tc:.3f}; "
          f"fedhpc t{base}/t{copies} relative to it = {tc / t[copies]:.3f}")
PY
done
