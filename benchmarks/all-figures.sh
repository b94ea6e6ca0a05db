#!/usr/bin/env bash
# Every issue-10 figure in one run (client training, weak scaling, exact
# reduce, peer comparison); the build must exist (cmake --preset release).
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source cmake/mpi-env.sh
echo "# $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD) $(lscpu | grep 'Model name' | sed 's/  */ /g') loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
echo '$ mpirun -n 1 build-release/benchmarks/bench_client_training --repeats 9'
mpirun -n 1 build-release/benchmarks/bench_client_training --repeats 9 2>&1 | grep -v "^# repeat\|checksum"
echo '$ mpirun -n 2 build-release/benchmarks/bench_client_training --repeats 9'
mpirun -n 2 build-release/benchmarks/bench_client_training --repeats 9 2>&1 | grep -v "^# repeat\|checksum"
echo '$ OUT=/tmp/fedhpc-weak benchmarks/weak_scaling.sh'
OUT=/tmp/fedhpc-weak bash benchmarks/weak_scaling.sh 2>&1 | tail -n 30
echo '$ mpirun -n 2 build-release/benchmarks/bench_exact_reduce --sizes 1e6 --repeats 21'
mpirun -n 2 build-release/benchmarks/bench_exact_reduce --sizes 1e6 --repeats 21 2>&1 | tail -n 3
echo '$ benchmarks/compare_peer.sh --repeats 2'
bash benchmarks/compare_peer.sh --repeats 2 2>&1 | tail -n 20
echo "# end $(date -u +%FT%TZ) loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
