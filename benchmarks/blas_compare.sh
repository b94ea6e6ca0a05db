#!/usr/bin/env bash
# Client training throughput (bench_client_training, fedhpc side) under
# several BLAS libraries without touching the system's alternatives: each
# variant puts its libblas.so.3 first with LD_LIBRARY_PATH. For every
# (ranks, --threads) pair the variants run back to back, so their ratio is
# measured under the same load.
#
#   benchmarks/blas_compare.sh [--build DIR] [--models "mlp seed-cnn"] [--repeats N]
#                              [--configs "1x1 1x2 2x1 2x2"] [--variants "pthread openmp blas"]
# configs are RANKSxTHREADS; variants are folders under /usr/lib/x86_64-linux-gnu
# (openblas-pthread, openblas-openmp, blas = the reference BLAS).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="$here/../build-release"
models="mlp seed-cnn"
configs="1x1 1x2 2x1 2x2"
variants="openblas-pthread openblas-openmp"
repeats=5
while (($#)); do
  case "$1" in
    --build) build=$2 ;;
    --models) models=$2 ;;
    --configs) configs=$2 ;;
    --variants) variants=$2 ;;
    --repeats) repeats=$2 ;;
    *) echo "blas_compare.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift 2
done
bench="$build/benchmarks/bench_client_training"
# shellcheck source=../cmake/mpi-env.sh
source "$here/../cmake/mpi-env.sh"
echo "# blas_compare.sh $(date -u +%FT%TZ) $(lscpu | sed -n 's/^Model name: *//p') nproc=$(getconf _NPROCESSORS_ONLN)"
for model in $models; do
  for c in $configs; do
    n=${c%x*} t=${c#*x}
    declare -A secs=()
    for v in $variants; do
      out=$(LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/$v mpirun -x LD_LIBRARY_PATH --oversubscribe --bind-to none \
        -n "$n" "$bench" --model "$model" --threads "$t" --repeats "$repeats" --side fedhpc 2>&1)
      line=$(grep '^model=' <<<"$out")
      load=$(sed -n 's/.*loadavg before=\([0-9.]*\) after=\([0-9.]*\).*/\1-\2/p' <<<"$out")
      secs[$v]=$(sed -n 's/.* fedhpc=\([0-9.]*\)s .*/\1/p' <<<"$line")
      printf '%-9s -n %s --threads %s  %-16s median wall=%ss  median cpu=%s  load %s  blas: %s\n' "$model" "$n" "$t" "$v" \
        "${secs[$v]}" "$(sed -n 's/^# median cpu fedhpc=\([0-9.]*s\).*/\1/p' <<<"$out")" "$load" \
        "$(sed -n 's/^# blas //p' <<<"$out" | cut -c1-60)"
    done
    first=${variants%% *}
    for v in $variants; do
      [[ $v == "$first" ]] && continue
      echo "$model -n $n --threads $t: $v / $first = $(echo "scale=3; ${secs[$v]} / ${secs[$first]}" | bc -l)"
    done
    unset secs
  done
done
