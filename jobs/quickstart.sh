#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs the demo FL run
# (jobs/configs/quickstart.ini: 10 clients, Fashion-MNIST, seed CNN) on 2 MPI ranks.
# Usage: bash jobs/quickstart.sh [extra fedhpc run options]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/cmake/setup-debian.sh" release
source "$root/cmake/mpi-env.sh"
mkdir -p "$root/results"
output="$root/results/quickstart.h5"
ranks="${FEDHPC_RANKS:-2}"
echo "== mpirun -n $ranks fedhpc run --config jobs/configs/quickstart.ini"
mpirun -n "$ranks" --oversubscribe "$root/build-release/src/fedhpc" run \
  --config "$root/jobs/configs/quickstart.ini" --output "$output" --overwrite "$@"
echo "== results: $output"
