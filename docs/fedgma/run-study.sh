#!/usr/bin/env bash
# The FedGMA study of docs/fedgma/README.md: FedGMA (workshop version,
# p = 0.8, server lr 0.5) and FedAvg on the coloured binary task, per
# partition (pathological, Dirichlet alpha = 0.1, then IID), the two interleaved
# per seed so a changing machine load hits both alike. Existing outputs are
# kept (delete them to rerun). Output in $OUT (default results/fedgma).
#
#   [SEEDS="0 1 2"] [PARTITIONS="pathological dirichlet iid"] [EXTRA="--rounds 1"] \
#       docs/fedgma/run-study.sh [RANKS]
#   /usr/bin/python3 docs/fedgma/summarize.py results/fedgma
set -euo pipefail
cd "$(dirname "$0")/../.."
RANKS=${1:-2}
OUT=${OUT:-results/fedgma}
FEDHPC=${FEDHPC:-build-release/src/fedhpc}
[[ -x $FEDHPC ]] || { echo "run-study.sh: error: $FEDHPC is not built (cmake --build --preset release)" >&2; exit 2; }
source cmake/mpi-env.sh
mkdir -p "$OUT"
run() {  # ALGORITHM PARTITION SEED
  local out="$OUT/fedgma-$1-$2-s$3.h5"
  [[ -f $out ]] && return 0
  echo "== $1 $2 seed $3 $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"
  # shellcheck disable=SC2086  # EXTRA is a list of options
  mpirun -n "$RANKS" --oversubscribe "$FEDHPC" run --config "jobs/configs/fedgma/$1-$2.ini" --seed "$3" \
    ${EXTRA:-} --output "$out"
}
for partition in ${PARTITIONS:-pathological dirichlet iid}; do
  for seed in ${SEEDS:-0 1 2}; do run fedgma "$partition" "$seed"; run fedavg "$partition" "$seed"; done
done
echo "run-study.sh: outputs in $OUT"
