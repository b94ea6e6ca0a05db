#!/usr/bin/env bash
# run-study.sh - the weak-clients study (docs/tiers/README.md), seeds 0 1 2:
#   mixed       20 clients, each strong or weak (dense layer only) with p = 1/2 (mixed.ini)
#   strong-only the strong clients of that seed's mixed run alone: as many
#               clients, 300 samples each (the same per-client share), no weak clients
#   all-strong  20 strong clients (all-strong.ini)
# Runs one after another on RANKS ranks (default 2); existing outputs are kept.
# SEEDS lists the seeds (default "0 1 2"). EXTRA adds options to every run (the non-IID variant of docs/tiers/README.md:
# EXTRA="--partition dirichlet --dirichlet-alpha 0.3").
#
#   bash jobs/configs/tiers/run-study.sh [OUTDIR]          # default results/tiers
#   python3 jobs/configs/tiers/summarize.py results/tiers  # the table of docs/tiers/README.md
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd "$HERE/../../.." && pwd -P)
OUTDIR=${1:-results/tiers}
FEDHPC=${FEDHPC:-$REPO/build-release/src/fedhpc}
RANKS=${RANKS:-2}
[[ -x $FEDHPC ]] || { echo "run-study.sh: error: $FEDHPC is not built (cmake --build --preset release)" >&2; exit 2; }
source "$REPO/cmake/mpi-env.sh"
mkdir -p "$OUTDIR"
run() {
  local out=$1; shift
  [[ -f $out ]] && return 0
  # shellcheck disable=SC2086  # EXTRA is a list of options
  mpirun -n "$RANKS" --oversubscribe "$FEDHPC" run "$@" ${EXTRA:-} --output "$out"
}
for seed in ${SEEDS:-0 1 2}; do
  run "$OUTDIR/mixed-seed$seed.h5" --config "$HERE/mixed.ini" --seed "$seed"
  strong=$(/usr/bin/python3 -c "import h5py,sys; print(int((h5py.File(sys.argv[1])['clients/tier'][...] == 0).sum()))" \
    "$OUTDIR/mixed-seed$seed.h5")
  run "$OUTDIR/strong-only-seed$seed.h5" --config "$HERE/strong-only.ini" --seed "$seed" --clients "$strong" --max-train-samples $((300 * strong))
  run "$OUTDIR/all-strong-seed$seed.h5" --config "$HERE/all-strong.ini" --seed "$seed"
done
echo "run-study.sh: outputs in $OUTDIR"
