#!/usr/bin/env bash
# Client-batched training (--client-batch) against the per-client path, in
# whole rounds: Fashion-MNIST, 1000 iid clients of 50 samples, 5 SGD steps
# of batch 10 per round (--iteration-steps 5), no clipping, 1 rank, 1 thread.
# The figure is microseconds per client-step over the whole round: the
# median of /timing/round_seconds (rounds 2..R, every repeat) / (1000 x 5).
# Variants run interleaved (repeat 1: all of them, repeat 2: all, ...):
#   per-client   --client-batch 1
#   batched      --client-batch 0 (automatic K)
#   test-1k      batched, --max-test-samples 1000 (evaluation split)
#   weights-none batched, --save-weights none (HDF5 writing of the model)
#   no-upload    batched, --dropout-rate 0.99 (clients train, ~all skip aggregation)
# Usage: benchmarks/client_batch.sh [model logreg|mlp] [repeats] [rounds] [extra fedhpc options]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/cmake/mpi-env.sh"
bin="${FEDHPC_BIN:-$root/build-release/src/fedhpc}"
model="${1:-logreg}"
repeats="${2:-2}"
rounds="${3:-4}"
shift $(( $# > 3 ? 3 : $# ))
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
base=(--dataset fashion-mnist --max-train-samples 50000 --clients 1000 --partition iid --local-test-fraction 0
      --batch-size 10 --iteration-steps 5 --local-iterations 1 --optimizer sgd --lr 0.05 --clip-norm 0
      --model "$model" --rounds "$rounds" --threads 1 --quiet --overwrite "$@")
declare -A extra=(
  [per-client]="--client-batch 1" [batched]="--client-batch 0" [test-1k]="--client-batch 0 --max-test-samples 1000"
  [weights-none]="--client-batch 0 --save-weights none" [no-upload]="--client-batch 0 --dropout-rate 0.99")
variants=(per-client batched test-1k weights-none no-upload)
for rep in $(seq 1 "$repeats"); do
  for v in "${variants[@]}"; do
    # shellcheck disable=SC2086
    mpirun -n 1 "$bin" run "${base[@]}" ${extra[$v]} --output "$work/$v-$rep.h5" >/dev/null
  done
done
echo "model=$model clients=1000 steps=5 batch=10 ranks=1 threads=1 repeats=$repeats rounds=$rounds $(date -u +%FT%TZ)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 - "$work" "$repeats" "${variants[@]}" <<'PY'
import sys, statistics, h5py
work, repeats, variants = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
steps = 1000 * 5
med = {}
for v in variants:
    rounds = []
    for rep in range(1, repeats + 1):
        rounds += list(h5py.File(f"{work}/{v}-{rep}.h5")["timing/round_seconds"][1:])
    med[v] = statistics.median(rounds)
for v in variants:
    print(f"{v:13s} {med[v]*1e6/steps:8.1f} us/client-step  round {med[v]:.4f} s  (ratio to per-client {med[v]/med['per-client']:.3f})")
a = h5py.File(f"{work}/per-client-1.h5")["global/weights"][...]
c = h5py.File(f"{work}/batched-1.h5")["global/weights"][...]
print("global weights of every round, batched vs per-client:", "identical bits" if (a.view("u4") == c.view("u4")).all()
      else f"max abs difference {abs(a - c).max():.3g}")
b = med["batched"]
print(f"split of the batched round: evaluation of 10k test images ~{(b - med['test-1k'])*10/9*1e6/steps:.1f} us/client-step, "
      f"weights to HDF5 ~{(b - med['weights-none'])*1e6/steps:.1f}, aggregation ~{(b - med['no-upload'])/0.99*1e6/steps:.1f}, "
      f"rest (training, selection, round bookkeeping) ~{(med['no-upload'] - (b - med['test-1k'])*10/9 - (b - med['weights-none']))*1e6/steps:.1f}")
PY
