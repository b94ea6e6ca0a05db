#!/usr/bin/env bash
# step-time.sh - measured training time per step of each tier, to set beside
# the analytic /clients/tier_cost: the quickstart's seed CNN (10 clients, 6000
# Fashion-MNIST samples, batch 16, 30 steps per client and round), 3 rounds on
# one rank, every client in one tier; the tiers interleaved, REPEATS times
# (default 3). Prints per run the train phase (/timing/phases) per step and the
# load average; then the median per tier and its ratio to strong.
#
#   bash jobs/configs/tiers/step-time.sh [OUTDIR]      # default results/tiers-time
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd "$HERE/../../.." && pwd -P)
OUTDIR=${1:-results/tiers-time}
FEDHPC=${FEDHPC:-$REPO/build-release/src/fedhpc}
REPEATS=${REPEATS:-3}
mkdir -p "$OUTDIR"
declare -A TIER=([strong]="--client-tiers strong:1" [moderate]="--client-tiers moderate:1 --tier-trainable moderate:2"
                 [weak]="--client-tiers weak:1 --tier-trainable weak:1")
for r in $(seq 1 "$REPEATS"); do
  for t in strong moderate weak; do
    out=$OUTDIR/$t-$r.h5
    # shellcheck disable=SC2086  # TIER holds options
    "$FEDHPC" run --config "$REPO/jobs/configs/quickstart.ini" --rounds 3 --max-test-samples 500 --quiet --overwrite \
      ${TIER[$t]} --output "$out" >/dev/null
    echo "$t $r $(cut -d' ' -f1 /proc/loadavg) $out"
  done
done | /usr/bin/python3 -c '
import sys, statistics, h5py
per = {}
for line in sys.stdin:
    tier, rep, load, path = line.split()
    with h5py.File(path, "r") as f:
        train = f["timing/phases"][:, 1].sum()
        steps = sum((int(b) - int(a) + 15) // 16 for a, b in zip(f["data/train_offsets"][:-1], f["data/train_offsets"][1:])) * int(f.attrs["rounds"])
    ms = 1e3 * train / steps
    per.setdefault(tier, []).append(ms)
    print(f"{tier:8s} repeat {rep}  {ms:.3f} ms/step  (load average {load})")
base = statistics.median(per["strong"])
for tier, v in per.items():
    print(f"median {tier:8s} {statistics.median(v):.3f} ms/step  ratio to strong {statistics.median(v) / base:.3f}")
'
