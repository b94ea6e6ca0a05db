#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite with ctest.
# Usage: bash tests/run-all.sh [extra ctest options]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/cmake/setup-debian.sh" release
source "$root/cmake/mpi-env.sh"
cd "$root"
ctest --preset release "$@"
