#!/usr/bin/env bash
# Client-batched training (--client-batch) against the per-client path, in
# whole rounds: Fashion-MNIST, 1000 iid clients of 50 samples, 5 SGD steps
# of batch 10 per round (--iteration-steps 5), no clipping, 1 rank, 1 thread.
# Two figures per variant, both in microseconds per client-step (round / 5000):
#   wall  the median of /timing/round_seconds (rounds 2..R of every repeat);
#   cpu   CPU seconds of a run of R rounds minus those of a 1-round run of the
#         same variant (GNU time, user + sys), over R - 1 rounds: it leaves out
#         start-up and data loading and is far less sensitive to other load
#         on the machine than wall time.
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
      --model "$model" --threads 1 --quiet --overwrite "$@")
declare -A extra=(
  [per-client]="--client-batch 1" [batched]="--client-batch 0" [test-1k]="--client-batch 0 --max-test-samples 1000"
  [weights-none]="--client-batch 0 --save-weights none" [no-upload]="--client-batch 0 --dropout-rate 0.99")
variants=(per-client batched test-1k weights-none no-upload)
for rep in $(seq 1 "$repeats"); do
  for v in "${variants[@]}"; do
    for r in "$rounds" 1; do
      # shellcheck disable=SC2086
      /usr/bin/time -f "%U %S" -o "$work/$v-$rep-r$r.cpu" \
        mpirun -n 1 "$bin" run "${base[@]}" ${extra[$v]} --rounds "$r" --output "$work/$v-$rep-r$r.h5" >/dev/null
    done
  done
done
echo "model=$model clients=1000 steps=5 batch=10 ranks=1 threads=1 repeats=$repeats rounds=$rounds $(date -u +%FT%TZ)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 - "$work" "$repeats" "$rounds" "${variants[@]}" <<'PY'
import sys, statistics, h5py
work, repeats, rounds, variants = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
steps = 1000 * 5
def cpu(v, rep, r):
    return sum(map(float, open(f"{work}/{v}-{rep}-r{r}.cpu").read().split()[-2:]))
wall, cpus = {}, {}
for v in variants:
    w = []
    for rep in range(1, repeats + 1):
        w += list(h5py.File(f"{work}/{v}-{rep}-r{rounds}.h5")["timing/round_seconds"][1:])
    wall[v] = statistics.median(w)
    cpus[v] = statistics.median((cpu(v, rep, rounds) - cpu(v, rep, 1)) / (rounds - 1) for rep in range(1, repeats + 1))
us = lambda s: s * 1e6 / steps
for v in variants:
    print(f"{v:13s} wall {us(wall[v]):7.1f} us/client-step (ratio {wall[v]/wall['per-client']:.3f})   "
          f"cpu {us(cpus[v]):7.1f} us/client-step (ratio {cpus[v]/cpus['per-client']:.3f})")
a = h5py.File(f"{work}/per-client-1-r{rounds}.h5")["global/weights"][...]
c = h5py.File(f"{work}/batched-1-r{rounds}.h5")["global/weights"][...]
print("global weights of every round, batched vs per-client:", "identical bits" if (a.view("u4") == c.view("u4")).all()
      else f"max abs difference {abs(a - c).max():.3g}")
b = cpus["batched"]
ev, io, agg = (b - cpus["test-1k"]) * 10 / 9, b - cpus["weights-none"], (b - cpus["no-upload"]) / 0.99
print(f"cpu split of the batched round (us/client-step): evaluation of 10k test images {us(ev):.1f}, "
      f"weights to HDF5 {us(io):.1f}, aggregation {us(agg):.1f}, rest (training, engine, other output) {us(b - ev - io - agg):.1f}")
PY
