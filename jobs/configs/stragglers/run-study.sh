#!/usr/bin/env bash
# run-study.sh - the stragglers study on one machine: every case of cases.txt
# x seeds 0 1 2, JOBS runs at a time (default: the number of cores), each on
# RANKS MPI ranks (default 1). Existing outputs are kept (delete them to rerun).
# The loop is jobs/configs/run-cases.sh, shared with the other case studies.
#
#   bash jobs/configs/stragglers/run-study.sh [OUTDIR]     # default results/stragglers
#   python3 jobs/configs/stragglers/summarize.py results/stragglers docs/stragglers
#
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
exec bash "$HERE/../run-cases.sh" "$HERE" "${1:-results/stragglers}"
