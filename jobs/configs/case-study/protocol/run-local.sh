#!/usr/bin/env bash
# run-local.sh - run the protocol-scale case study on one machine, PAR runs at
# a time (one MPI rank each, niced), and write OUTDIR/<config>-seed<S>.h5 plus
# a .log per run.  From the repository root:
#
#   bash jobs/configs/case-study/protocol/run-local.sh                  # 6 configs, seed 0
#   SEEDS="1 2" CONFIGS="centralized-noclip hierarchical-noclip ring-noclip" \
#       bash jobs/configs/case-study/protocol/run-local.sh
#
# Environment: SEEDS (default "0"), CONFIGS (default: all six), OUTDIR
# (default results/case-study/protocol), PAR (default 2), FEDHPC_BIN (default
# build-release/src/fedhpc), EXTRA (extra fedhpc options, e.g. "--activation relu"),
# SUFFIX (appended to the output names, e.g. -relu).
#
# Scaling down further (what a shared 2-core machine allows): CLIENTS=N keeps
# 392 samples per client (--max-train-samples 392N) and sets --clients N,
# EDGES (hierarchical, default 2) and RINGS (ring, default 2); ROUNDS=R sets
# --rounds R.  E.g. the local runs of docs/case-study/README.md:
#
#   CLIENTS=6 ROUNDS=15 OUTDIR=/work/results-protocol bash jobs/configs/case-study/protocol/run-local.sh
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo=$(cd "$here/../../../.." && pwd -P)
bin=${FEDHPC_BIN:-$repo/build-release/src/fedhpc}
outdir=${OUTDIR:-$repo/results/case-study/protocol}
par=${PAR:-2}
configs=${CONFIGS:-centralized-noclip centralized-clip hierarchical-noclip hierarchical-clip ring-noclip ring-clip}
[[ -x $bin ]] || { echo "run-local.sh: error: $bin not found (build first or set FEDHPC_BIN)" >&2; exit 2; }
mkdir -p "$outdir"
# shellcheck disable=SC1091
source "$repo/cmake/mpi-env.sh"
jobs=()
for s in ${SEEDS:-0}; do
    for c in $configs; do
        [[ -f $here/$c.ini ]] || { echo "run-local.sh: error: $here/$c.ini not found" >&2; exit 2; }
        jobs+=("$c $s")
    done
done
scale_args() {  # the CLIENTS/ROUNDS overrides of config $1
    local c=$1 a=""
    if [[ -n ${CLIENTS:-} ]]; then
        a+=" --clients $CLIENTS --max-train-samples $((CLIENTS * 392))"
        [[ $c == hierarchical-* ]] && a+=" --edges ${EDGES:-2}"
        [[ $c == ring-* ]] && a+=" --rings ${RINGS:-2}"
    fi
    [[ -n ${ROUNDS:-} ]] && a+=" --rounds $ROUNDS"
    printf '%s' "$a"
}
run_one() {
    local c=$1 s=$2 out
    out=$outdir/$c${SUFFIX:-}-seed$s
    /usr/bin/time -f "$c${SUFFIX:-} seed $s: %e s wall, %U s user, %M KB max RSS" \
        nice -n 5 mpirun -n 1 "$bin" run --config "$here/$c.ini" --seed "$s" \
        --output "$out.h5" $(scale_args "$c") ${EXTRA:-} >"$out.log" 2>&1
    tail -n 1 "$out.log"
}
export -f run_one scale_args
export here outdir bin SUFFIX EXTRA CLIENTS EDGES RINGS ROUNDS
printf '%s\n' "${jobs[@]}" | xargs -P "$par" -L 1 bash -c 'run_one $0 $1'
