#!/usr/bin/env bash
# Memory of one data copy per node (--data-copies node) against one per rank
# (--data-copies rank), on the full Fashion-MNIST and its coloured variant.
# Each run is short (logreg, one round of one local iteration): loading the
# data dominates its memory. Two figures per run:
#  - node_peak_MB: the peak, over the run, of the sum of the ranks'
#    proportional set sizes (Pss in /proc/PID/smaps_rollup, sampled every
#    20 ms): the node's real memory, where a shared page counts once;
#  - rss_MB: /timing/peak_rss_bytes per rank, which counts the shared pixels
#    in every rank that maps them.
# Usage: benchmarks/data_copies.sh [ranks...]   (default: 1 2)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/cmake/mpi-env.sh"
export PMIX_MCA_psec="${PMIX_MCA_psec:-native}"  # skip PMIx's munge retries (~2.4 s a start)
bin="${FEDHPC_BIN:-$root/build-release/src/fedhpc}"
rank_counts=("$@")
((${#rank_counts[@]})) || rank_counts=(1 2)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
base=(--model logreg --clients 10 --rounds 1 --local-iterations 1 --batch-size 32 --quiet --overwrite)

# Peak of the summed Pss of every process running "$bin run", until $1 exits.
sample_pss() {
  local watched=$1 peak=0 total pid kb
  while kill -0 "$watched" 2>/dev/null; do
    total=0
    for pid in $(pgrep -f -- "$bin run" || true); do
      kb=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null || echo 0)
      total=$((total + ${kb:-0}))
    done
    ((total > peak)) && peak=$total
    sleep 0.02
  done
  echo "$peak"
}

peak_rss_mb() {
  /usr/bin/python3 -c "import h5py,sys; f=h5py.File(sys.argv[1],'r'); print(' '.join('%.0f' % (v/1e6) for v in f['timing/peak_rss_bytes'][:]))" "$1"
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for dataset in fashion-mnist colored-fashion-mnist; do
  for ranks in "${rank_counts[@]}"; do
    for copies in rank node; do
      out="$work/$dataset-$ranks-$copies.h5"
      mpirun -n "$ranks" --oversubscribe "$bin" run "${base[@]}" --dataset "$dataset" --data-copies "$copies" \
        --output "$out" &
      launcher=$!
      peak_kb=$(sample_pss "$launcher")
      wait "$launcher"
      printf '%s ranks=%s data-copies=%s node_peak_MB=%.0f rss_MB=[%s]\n' "$dataset" "$ranks" "$copies" \
        "$(awk -v k="$peak_kb" 'BEGIN {print k / 1024}')" "$(peak_rss_mb "$out")"
    done
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
