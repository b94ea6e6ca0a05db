#!/usr/bin/env bash
# Cost of writing the output file as a ratio of the whole run: the same
# seed-cnn run with --save-weights none, global and clients (every client's
# model every round, compressed),
# interleaved over repeats. The figure is the median of each run's wall time
# as printed by fedhpc ("wrote ... (X s)", rank 0, from start to the file in
# place), divided by the --save-weights none run's.
# Usage: benchmarks/output_cost.sh [ranks] [repeats] [extra fedhpc options]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/cmake/mpi-env.sh"
bin="${FEDHPC_BIN:-$root/build-release/src/fedhpc}"
ranks="${1:-2}"
repeats="${2:-3}"
shift $(( $# > 2 ? 2 : $# ))
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
base=(--dataset fashion-mnist --clients 20 --max-train-samples 2000 --max-test-samples 2000 --rounds 5
      --local-iterations 2 --batch-size 16 --model seed-cnn --quiet --overwrite "$@")
declare -A times
for rep in $(seq 1 "$repeats"); do
  for mode in none global clients; do
    extra=(--save-weights "$mode")
    line=$(mpirun -n "$ranks" --oversubscribe "$bin" run "${base[@]}" "${extra[@]}" --output "$work/$mode.h5" | tail -1)
    times[$mode]+="$(sed -E 's/.*\(([0-9.]+) s\)$/\1/' <<<"$line") "
  done
done
size() { stat -c %s "$work/$1.h5"; }
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
none=$(median "${times[none]}")
printf 'ranks=%s repeats=%s wall_seconds none=%s' "$ranks" "$repeats" "$none"
for mode in global clients; do
  m=$(median "${times[$mode]}")
  awk -v mode="$mode" -v m="$m" -v none="$none" -v bytes="$(size "$mode")" \
    'BEGIN { printf " %s=%s (ratio %.3f, file %.1f MB)", mode, m, m / none, bytes / 1e6 }'
done
echo
