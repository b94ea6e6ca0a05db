#!/usr/bin/env bash
# The FedLAMA study of docs/fedlama/README.md: FedLAMA phi = 2 and FedAvg at
# interval tau' (phi = 1), interleaved per seed so a changing machine load
# hits both alike, then plain FedAvg. Output in $OUT
# (default results/fedlama). Usage: [SEEDS="0 1 2"] docs/fedlama/run-study.sh [RANKS]
set -euo pipefail
cd "$(dirname "$0")/../.."
RANKS=${1:-2}
OUT=${OUT:-results/fedlama}
FEDHPC=${FEDHPC:-build-release/src/fedhpc}
mkdir -p "$OUT"
SEEDS=${SEEDS:-0 1 2}
run() {
  echo "== $1 seed $2 $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"
  mpirun -n "$RANKS" "$FEDHPC" run --config "jobs/configs/fedlama/$1.ini" --seed "$2" \
    --output "$OUT/fedlama-$1-s{seed}.h5" --overwrite --quiet
}
for seed in $SEEDS; do run phi2 "$seed"; run phi1 "$seed"; done
for seed in $SEEDS; do run fedavg "$seed"; done
