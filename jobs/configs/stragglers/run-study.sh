#!/usr/bin/env bash
# run-study.sh - the stragglers study on one machine: every case of cases.txt
# x seeds 0 1 2, JOBS runs at a time (default: the number of cores), each on
# RANKS MPI ranks (default 1). Existing outputs are kept (delete them to rerun).
#
#   bash jobs/configs/stragglers/run-study.sh [OUTDIR]     # default results/stragglers
#   python3 jobs/configs/stragglers/summarize.py results/stragglers docs/stragglers
#
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd "$HERE/../../.." && pwd -P)
OUTDIR=${1:-results/stragglers}
FEDHPC=${FEDHPC:-$REPO/build-release/src/fedhpc}
JOBS=${JOBS:-$(nproc)}
RANKS=${RANKS:-1}
[[ -x $FEDHPC ]] || { echo "run-study.sh: error: $FEDHPC is not built (cmake --build --preset release)" >&2; exit 2; }
source "$REPO/cmake/mpi-env.sh"
mkdir -p "$OUTDIR"
export FEDHPC HERE OUTDIR RANKS
one() {
  local name=$1 seed=$2; shift 2
  local out=$OUTDIR/$name-seed$seed.h5
  [[ -f $out ]] && return 0
  mpirun -n "$RANKS" --oversubscribe "$FEDHPC" run --config "$HERE/base.ini" "$@" --seed "$seed" --output "$out" \
    >"$OUTDIR/$name-seed$seed.log" 2>&1 || echo "run-study.sh: $name seed $seed failed (see $OUTDIR/$name-seed$seed.log)" >&2
}
export -f one
grep -v '^#' "$HERE/cases.txt" | grep -v '^ *$' | while read -r name options; do
  for seed in 0 1 2; do echo "$name $seed $options"; done
done | xargs -P "$JOBS" -L 1 bash -c 'one "$@"' _
echo "run-study.sh: outputs in $OUTDIR"
