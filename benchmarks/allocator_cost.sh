#!/usr/bin/env bash
# Allocator cost of a fedhpc run: the same workload (10 clients, seed-cnn,
# 3000 Fashion-MNIST samples, 3 rounds, no local test split, 1 rank, 1
# thread) under each binary given, interleaved repeats; wall, user and system
# seconds from /usr/bin/time, medians, ratios against the first variant.
#
#   benchmarks/allocator_cost.sh [--repeats N] NAME=COMMAND-PREFIX ...
# e.g.
#   benchmarks/allocator_cost.sh \
#     glibc=/tmp/fedhpc-glibc \
#     preload="env LD_PRELOAD=libtcmalloc_minimal.so.4 /tmp/fedhpc-glibc" \
#     linked=build-release/src/fedhpc
# (a binary built with -DFEDHPC_TCMALLOC=OFF, the same with tcmalloc preloaded,
# and the default build that links tcmalloc). Extra run options: FEDHPC_ARGS.
set -euo pipefail
repeats=3
if [[ ${1:-} == --repeats ]]; then repeats=$2; shift 2; fi
(($#)) || { sed -n '2,15p' "$0"; exit 2; }
tmp="$(mktemp -d "${TMPDIR:-/tmp}/fedhpc-alloc.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=1
args=(run --dataset fashion-mnist --max-train-samples 3000 --clients 10 --rounds 3 --local-test-fraction 0
  --model seed-cnn --threads 1 --quiet --overwrite --output "$tmp/run.h5")
# shellcheck disable=SC2206
args+=(${FEDHPC_ARGS:-})
echo "# allocator_cost.sh $(date -u +%FT%TZ) $(lscpu | sed -n 's/^Model name: *//p') nproc=$(getconf _NPROCESSORS_ONLN) repeats=$repeats"
for r in $(seq 1 "$repeats"); do
  for v in "$@"; do
    name=${v%%=*}
    # shellcheck disable=SC2206
    cmd=(${v#*=})
    load=$(cut -d' ' -f1 /proc/loadavg)
    /usr/bin/time -f "%e %U %S %M" -o "$tmp/time" "${cmd[@]}" "${args[@]}" >"$tmp/log" 2>&1 ||
      { cat "$tmp/log"; exit 1; }
    read -r wall user sys rss <"$tmp/time"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$wall" "$user" "$sys" "$rss" "$load" >>"$tmp/results"
    printf 'rep %s  %-8s wall %6.2f s  user %6.2f s  sys %6.2f s  maxrss %6d KB  load %s\n' \
      "$r" "$name" "$wall" "$user" "$sys" "$rss" "$load"
  done
done
python3 - "$tmp/results" <<'EOF'
import statistics, sys
rows = [l.split("\t") for l in open(sys.argv[1])]
names = list(dict.fromkeys(r[0] for r in rows))
med = {n: [statistics.median(float(r[k]) for r in rows if r[0] == n) for k in (1, 2, 3, 5)] for n in names}
base = med[names[0]]
for n in names:
    m = med[n]
    print(f"median {n:8s} wall={m[0]:.2f}s user={m[1]:.2f}s sys={m[2]:.2f}s load={m[3]:.2f}  "
          f"{names[0]}/{n}: wall {base[0] / m[0]:.2f}x  cpu(user+sys) {(base[1] + base[2]) / (m[1] + m[2]):.2f}x")
EOF
