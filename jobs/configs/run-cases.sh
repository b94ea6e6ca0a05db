#!/usr/bin/env bash
# run-cases.sh - one study of cases on one machine: every case of
# STUDY/cases.txt ("name options...", # comments) x seeds 0 1 2, each run
# with STUDY/base.ini plus the case's options, JOBS runs at a time (default:
# the number of cores), each on RANKS MPI ranks (default 1). Outputs
# OUTDIR/NAME-seedS.h5 and .log; existing outputs are kept (delete them to
# rerun). The studies' own run-study.sh call it.
#
#   bash jobs/configs/run-cases.sh STUDY OUTDIR     # e.g. jobs/configs/robustness results/robustness
set -euo pipefail
[[ $# -eq 2 ]] || { echo "usage: run-cases.sh STUDY OUTDIR" >&2; exit 2; }
HERE=$(cd "$1" && pwd -P)
OUTDIR=$2
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
FEDHPC=${FEDHPC:-$REPO/build-release/src/fedhpc}
JOBS=${JOBS:-$(nproc)}
RANKS=${RANKS:-1}
[[ -f $HERE/cases.txt && -f $HERE/base.ini ]] || { echo "run-study.sh: error: $HERE needs cases.txt and base.ini" >&2; exit 2; }
[[ -x $FEDHPC ]] || { echo "run-study.sh: error: $FEDHPC is not built (cmake --build --preset release)" >&2; exit 2; }
# shellcheck source=/dev/null
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
