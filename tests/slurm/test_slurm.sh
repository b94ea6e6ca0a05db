#!/usr/bin/env bash
# test_slurm.sh - submits the jobs/ batch scripts to a throwaway single-node
# Slurm (jobs/slurm/local-slurm.sh) and checks their HDF5 outputs:
#   1. a single run (fedhpc.sbatch, 2 tasks);
#   2. an array over seeds x scenarios (monitoring-array.sbatch, 4 tasks);
#   3. a scaling study over rank counts 1 and 2 (scaling.sbatch): same bits;
#   4. the same single run with srun --mpi=pmix instead of mpirun;
#   5. a run that gets Slurm's warning signal (SIGUSR1 to the batch shell, as
#      --signal=B:USR1@120 sends it), checkpoints, is requeued by the script,
#      resumes (Slurm holds a requeued job ~2 min first) and ends with the
#      same bits as the same run uninterrupted;
#   6. the study arrays: task ids of fedgma- and fedlama-array.sbatch
#      (dry runs), one fedgma-array task under sbatch (tiny), and the one-round
#      probe by which a tiers-array strong-only task sizes its federation.
# Exits 77 (ctest: skipped) with a message when Slurm cannot start here.
#
#   bash tests/slurm/test_slurm.sh REPO FEDHPC_BINARY
set -euo pipefail
# The test environment's PMIX_MCA_psec=native is for plain mpirun; Slurm's
# PMIx (srun --mpi=pmix) keeps its own security setting.
unset PMIX_MCA_psec
repo=$(cd "$1" && pwd -P)
bin=$(realpath "$2")
work=$(mktemp -d /tmp/fedhpc-slurm-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"

fail() { printf 'test_slurm: FAIL: %s\n' "$*" >&2; exit 1; }
log() { printf 'test_slurm: %s\n' "$*"; }

if [[ $(id -u) -ne 0 ]]; then
    echo "test_slurm: SKIP: local-slurm.sh needs root to start munge/slurmctld/slurmd"
    exit 77
fi
if ! bash "$repo/jobs/slurm/local-slurm.sh" start >slurm-setup.log 2>&1; then
    echo "test_slurm: SKIP: Slurm cannot start here: $(tail -n 3 slurm-setup.log | tr '\n' ' ')"
    exit 77
fi

# status_of FILE -> the root attribute `status`
status_of() {
    /usr/bin/python3 -c '
import sys, h5py
s = h5py.File(sys.argv[1], "r").attrs["status"]
print(s.decode() if isinstance(s, bytes) else s)' "$1"
}
expect_complete() {
    [[ -f $1 ]] || fail "$1 was not written"
    local s
    s=$(status_of "$1")
    [[ $s == complete ]] || fail "$1 has status '$s', expected complete"
}
# submit ARGS...: sbatch --wait, so the exit status is the job's. A job that
# cannot start (it pends) would wait forever: 5 minutes, then it is cancelled.
submit() {
    local rc=0
    timeout 300 sbatch --wait --quiet -t 10 "$@" || rc=$?
    if ((rc == 124)); then
        local queue
        queue=$(squeue -h -o '%i %T %r' 2>&1 | tr '\n' ';')
        scancel --user=root 2>/dev/null || true
        fail "sbatch $* did not finish within 300 s (queue: $queue)"
    fi
    ((rc == 0)) || fail "sbatch $* failed (see $work/*.out: $(cat "$work"/*.out 2>/dev/null | tail -n 5))"
}

cpus=$(scontrol show node 2>/dev/null | sed -n 's/.*CPUTot=\([0-9]*\).*/\1/p' | head -n 1)
if [[ -z $cpus || $cpus -lt 2 ]]; then
    echo "test_slurm: SKIP: the local Slurm node has ${cpus:-no} CPUs; the jobs need 2"
    exit 77
fi

export FEDHPC_BIN=$bin FEDHPC_REPO=$repo

log "1. single run: fedhpc.sbatch, 2 tasks, mpirun"
submit -n 2 -o single.out --export=ALL,FEDHPC_CONFIG="$repo/tests/slurm/tiny.ini",FEDHPC_OUTPUT="$work/single.h5" \
    "$repo/jobs/slurm/fedhpc.sbatch"
expect_complete single.h5
grep -q "2 ranks" single.out || fail "single.out does not report 2 ranks: $(cat single.out)"

log "2. array over seeds x scenarios: monitoring-array.sbatch, tasks 0,1,6,7"
submit -n 1 --array=0,1,6,7 -o 'array-%a.out' \
    --export=ALL,MON_OUTDIR="$work/mon",FEDHPC_EXTRA_ARGS="--clients 4 --max-train-samples 400 --rounds 1 --local-iterations 1 --quiet" \
    "$repo/jobs/slurm/monitoring-array.sbatch"
for f in centralized-baseline-seed0 centralized-baseline-seed1 centralized-exploding-seed0 centralized-exploding-seed1; do
    expect_complete "mon/$f.h5"
done

log "3. scaling study over 1 and 2 ranks: scaling.sbatch"
submit -n 2 -o scaling.out --export=ALL,FEDHPC_CONFIG="$repo/tests/slurm/tiny.ini",SCALING_OUTDIR="$work/scaling" \
    "$repo/jobs/slurm/scaling.sbatch"
expect_complete scaling/tiny-np1.h5
expect_complete scaling/tiny-np2.h5
grep -Eq '^ +2 +[0-9.]+ +[0-9.]+ +[0-9.]+  yes' scaling.out || fail "scaling.out has no 2-rank row with the same bits: $(cat scaling.out)"

log "4. the single run under srun --mpi=pmix"
if srun --mpi=list 2>&1 | grep -qw pmix; then
    submit -n 2 -o srun.out --export=ALL,FEDHPC_LAUNCHER=srun,FEDHPC_CONFIG="$repo/tests/slurm/tiny.ini",FEDHPC_OUTPUT="$work/srun.h5" \
        "$repo/jobs/slurm/fedhpc.sbatch"
    expect_complete srun.h5
    cmp <(h5dump -d /global/test_accuracy single.h5 | tail -n +3) <(h5dump -d /global/test_accuracy srun.h5 | tail -n +3) ||
        fail "srun and mpirun runs differ"
else
    log "4. skipped: srun --mpi=list has no pmix"
fi
log "5. warning signal, requeue and resume: fedhpc.sbatch"
requeue_args="--rounds 40 --local-iterations 30 --hidden 256 --synthetic-train-samples 6000"
jid=$(sbatch --parsable -n 2 -t 10 -o requeue.out --export=ALL,FEDHPC_CONFIG="$repo/tests/slurm/tiny.ini",FEDHPC_OUTPUT="$work/requeue.h5",FEDHPC_EXTRA_ARGS="$requeue_args" \
    "$repo/jobs/slurm/fedhpc.sbatch")
# Signal once the run has written its first checkpoint (after round 0).
for _ in $(seq 1 600); do
    [[ -f requeue.h5.ckpt || -f requeue.h5 ]] && break
    sleep 0.1
done
[[ -f requeue.h5.ckpt ]] || fail "the requeue job wrote no checkpoint (queue: $(squeue -h -o '%i %T %r' | tr '\n' ';'))"
sleep 1
scancel --signal=USR1 --batch "$jid" || fail "scancel --signal=USR1 --batch $jid failed"
waited=0
while [[ -n $(squeue -h -j "$jid" -o %T 2>/dev/null) ]]; do
    ((waited < 480)) || { scancel "$jid"; fail "the requeued job $jid did not finish within 480 s"; }
    sleep 2
    waited=$((waited + 2))
done
grep -q "requeueing job $jid" requeue.out || fail "the job was not requeued: $(tail -n 5 requeue.out)"
grep -q "resuming that run" requeue.out || fail "the requeued job did not resume: $(tail -n 5 requeue.out)"
expect_complete requeue.h5
[[ ! -f requeue.h5.ckpt ]] || fail "the finished run left its checkpoint"
# shellcheck disable=SC2086
mpirun -n 2 "$bin" run --config "$repo/tests/slurm/tiny.ini" $requeue_args --output "$work/straight.h5" >straight.log 2>&1 ||
    fail "the uninterrupted run failed: $(tail -n 3 straight.log)"
/usr/bin/python3 - requeue.h5 straight.h5 <<'PY' || fail "the requeued run differs from the uninterrupted one"
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
names = []
a.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) and not n.startswith("timing") else None)
assert "global/weights" in names, names
for n in names:
    x, y = a[n][()], b[n][()]
    same = x.dtype == y.dtype and np.shape(x) == np.shape(y)
    if same and np.asarray(x).dtype.kind in "fiub":
        same = np.asarray(x).tobytes() == np.asarray(y).tobytes()  # bit for bit, NaN included
    elif same:
        same = np.array_equal(np.asarray(x, dtype=object), np.asarray(y, dtype=object))  # strings
    if not same:
        sys.exit(f"{n} differs")
print(f"{len(names)} datasets identical")
PY
log "6. the study arrays (fedgma-, fedlama-, tiers-array.sbatch): task ids, one fedgma task, the tiers probe"
for t in 0 4 11 17; do
    SLURM_ARRAY_TASK_ID=$t GMA_DRY_RUN=1 bash "$repo/jobs/slurm/fedgma-array.sbatch" >>dry.out ||
        fail "fedgma-array.sbatch task $t: dry run failed"
done
SLURM_ARRAY_TASK_ID=8 LAMA_DRY_RUN=1 bash "$repo/jobs/slurm/fedlama-array.sbatch" >>dry.out || fail "fedlama-array.sbatch dry run failed"
for want in "task 0: fedgma-pathological seed 0" "task 4: fedavg-pathological seed 1" "task 11: fedavg-dirichlet seed 2" "task 17: fedavg-iid seed 2" \
    "task 8: fedavg seed 2 -> results/fedlama/fedlama-fedavg-s2.h5"; do
    grep -qF "$want" dry.out || fail "the study arrays' dry runs lack '$want': $(cat dry.out)"
done
if SLURM_ARRAY_TASK_ID=18 GMA_DRY_RUN=1 bash "$repo/jobs/slurm/fedgma-array.sbatch" 2>/dev/null; then fail "fedgma-array.sbatch accepted task 18"; fi
submit -n 2 --array=0 -o 'gma-%a.out' --export=ALL,GMA_OUTDIR="$work/gma",FEDHPC_EXTRA_ARGS="--rounds 1 --clients 5 --max-train-samples 500 --max-test-samples 200" \
    "$repo/jobs/slurm/fedgma-array.sbatch"
expect_complete gma/fedgma-fedgma-pathological-s0.h5
# A strong-only task finds its seed's strong clients with a one-round probe of mixed.ini (run even in a dry run).
SLURM_ARRAY_TASK_ID=3 TIERS_DRY_RUN=1 TIERS_OUTDIR="$work/tiers" FEDHPC_EXTRA_ARGS="--max-test-samples 200" \
    bash "$repo/jobs/slurm/tiers-array.sbatch" >tiers-dry.out || fail "tiers-array.sbatch task 3: $(tail -n 3 tiers-dry.out)"
strong=$(sed -n 's/.*the mixed run draws \([0-9]*\) strong clients.*/\1/p' tiers-dry.out)
[[ -n $strong ]] && grep -qF -- "--clients\ $strong\ --max-train-samples\ $((300 * strong))" tiers-dry.out ||
    fail "tiers-array.sbatch task 3 did not size strong-only by its probe: $(cat tiers-dry.out)"
[[ -z $(ls -A "$work/tiers") ]] || fail "the tiers probe left files: $(ls -A "$work/tiers")"

log "all Slurm checks passed"
