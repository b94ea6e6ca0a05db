#!/usr/bin/env bash
# The FedLAMA study of docs/fedlama/README.md: FedLAMA phi = 2, FedAvg at
# interval tau' (phi = 1) and plain FedAvg, seeds 0..2, interleaved so a
# changing machine load hits every variant alike. Output in $OUT
# (default results/fedlama). Usage: docs/fedlama/run-study.sh [RANKS]
set -euo pipefail
cd "$(dirname "$0")/../.."
RANKS=${1:-2}
OUT=${OUT:-results/fedlama}
FEDHPC=${FEDHPC:-build-release/src/fedhpc}
mkdir -p "$OUT"
for seed in 0 1 2; do
  for v in phi2 phi1 fedavg; do
    echo "== $v seed $seed $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"
    mpirun -n "$RANKS" "$FEDHPC" run --config "jobs/configs/fedlama/$v.ini" --seed "$seed" \
      --output "$OUT/fedlama-$v-s{seed}.h5" --overwrite --quiet
  done
done
