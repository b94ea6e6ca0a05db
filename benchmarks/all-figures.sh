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
echo '$ MODELS=seed-cnn OUT=/tmp/fedhpc-weak benchmarks/weak_scaling.sh'
MODELS=seed-cnn OUT=/tmp/fedhpc-weak bash benchmarks/weak_scaling.sh 2>&1 | tail -n 4
# logreg with the issue's workload per rank (500 clients x 5 SGD steps of
# batch 10), 12 rounds: its rounds last ~50 ms, 5 clients per rank ~5 ms.
logreg_weak=(MODELS=logreg CLIENTS_PER_RANK=500 SAMPLES=50 BATCH=10 LOCAL_TEST_PERCENT=0
  "EXTRA=--iteration-steps 5 --optimizer sgd --lr 0.05 --clip-norm 0" ROUNDS=12 REPEATS=5 OUT=/tmp/fedhpc-weak-logreg)
echo "\$ ${logreg_weak[*]} benchmarks/weak_scaling.sh"
env "${logreg_weak[@]}" bash benchmarks/weak_scaling.sh 2>&1 | tail -n 4
# The gather that bounds it, alone and with both ranks at once.
for n in 1 2; do
  echo "\$ mpirun -n $n build-release/benchmarks/bench_gather"
  mpirun -n "$n" build-release/benchmarks/bench_gather 2>&1 | tail -n 1
done
for n in 1 2; do
  echo "\$ mpirun -n $n build-release/benchmarks/bench_exact_reduce --sizes 1e6 --repeats 21"
  mpirun -n "$n" build-release/benchmarks/bench_exact_reduce --sizes 1e6 --repeats 21 2>&1 | tail -n 1
done
echo '$ benchmarks/compare_peer.sh --repeats 2'
bash benchmarks/compare_peer.sh --repeats 2 2>&1 | tail -n 20
echo "# end $(date -u +%FT%TZ) loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
