#!/bin/bash
# FedLAMA on the hierarchical topology (docs/fedlama/README.md, "Hierarchical"):
# the study's set-up (jobs/configs/fedlama) on 4 label-balanced edges, for
# ROUNDS x 10 local steps (default 100: 1000 steps, as in the study):
# FedLAMA phi = 2 (clients sync each tensor with their edge every 5 or 10
# steps, the server ends every 10-step round) against
# hierarchical FedAvg with --edge-interval 5 (= FedLAMA with phi = 1, bit for
# bit). Results go to $OUT (default results/fedlama-hier).
# Usage: [SEEDS="0 1 2"] [ROUNDS=100] docs/fedlama/run-hierarchical.sh [RANKS]
set -euo pipefail
cd "$(dirname "$0")/../.."
RANKS=${1:-2}
OUT=${OUT:-results/fedlama-hier}
FEDHPC=${FEDHPC:-build-release/src/fedhpc}
mkdir -p "$OUT"
SEEDS=${SEEDS:-0 1 2}
HIER=(--topology hierarchical --edges 4 --rounds "${ROUNDS:-100}" --overwrite --quiet)
for seed in $SEEDS; do
  echo "== hier-phi2 seed $seed $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"
  mpirun -n "$RANKS" "$FEDHPC" run --config jobs/configs/fedlama/phi2.ini "${HIER[@]}" --seed "$seed" \
    --output "$OUT/fedlama-hier-phi2-s{seed}.h5"
  echo "== hier-fedavg seed $seed $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"
  mpirun -n "$RANKS" "$FEDHPC" run --config jobs/configs/fedlama/fedavg.ini "${HIER[@]}" --seed "$seed" \
    --local-iterations 10 --edge-interval 5 --eval-every 5 --output "$OUT/fedlama-hier-fedavg-s{seed}.h5"
done
echo "== done $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"
