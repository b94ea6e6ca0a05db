# study-task.sh - sourced (not run) by fedgma-array.sbatch, fedlama-array.sbatch
# and tiers-array.sbatch once they have found the repository (REPO): one
# Slurm array task runs one (config, seed) of a study through fedhpc.sbatch.
#
#   task id = (number of seeds) * config_index + seed_index
#
# The sourcing script sets STUDY (its name in messages), CONFIG_DIR, CONFIGS
# (an array of .ini basenames), SEEDS (an array), OUTDIR, OVERWRITE (0/1),
# DRY_RUN (0/1) and defines `output_name CONFIG SEED` (the file name under
# OUTDIR). Then it calls `pick_task`, which sets CONFIG, SEED and OUTPUT, and
# `run_task [OPTIONS...]`, which runs the config at that seed with OPTIONS
# before FEDHPC_EXTRA_ARGS (the user's, last, so they win) and ends the script.
# shellcheck shell=bash disable=SC2153

die() { printf '%s: error: %s\n' "$STUDY" "$*" >&2; exit 2; }

pick_task() {
    local ntasks=$((${#CONFIGS[@]} * ${#SEEDS[@]})) task=${SLURM_ARRAY_TASK_ID:-} s
    ((${#SEEDS[@]} > 0)) || die "no seeds given"
    for s in "${SEEDS[@]}"; do [[ $s =~ ^[0-9]+$ ]] || die "seed '$s' is not a non-negative integer"; done
    [[ $task =~ ^[0-9]+$ ]] || die "SLURM_ARRAY_TASK_ID must be 0..$((ntasks - 1)) (got '${task}')"
    ((task < ntasks)) || die "task id $task out of range 0..$((ntasks - 1)) (${#CONFIGS[@]} configs x ${#SEEDS[@]} seeds)"
    CONFIG=${CONFIGS[task / ${#SEEDS[@]}]}
    SEED=${SEEDS[task % ${#SEEDS[@]}]}
    OUTPUT=$OUTDIR/$(output_name "$CONFIG" "$SEED")
    [[ -f $CONFIG_DIR/$CONFIG.ini ]] || die "$CONFIG_DIR/$CONFIG.ini is missing"
}

run_task() {
    local extra="$* --seed $SEED"
    [[ $OVERWRITE == 1 ]] && extra+=" --overwrite"
    [[ -n ${FEDHPC_EXTRA_ARGS:-} ]] && extra+=" $FEDHPC_EXTRA_ARGS"
    printf '%s: task %s: %s seed %s -> %s\n' "$STUDY" "${SLURM_ARRAY_TASK_ID}" "$CONFIG" "$SEED" "$OUTPUT"
    if [[ $DRY_RUN == 1 ]]; then
        printf 'command: FEDHPC_CONFIG=%q FEDHPC_OUTPUT=%q FEDHPC_EXTRA_ARGS=%q bash %q\n' \
            "$CONFIG_DIR/$CONFIG.ini" "$OUTPUT" "$extra" "$REPO/jobs/slurm/fedhpc.sbatch"
        exit 0
    fi
    mkdir -p "$(dirname "$OUTPUT")"
    export FEDHPC_REPO=$REPO FEDHPC_CONFIG=$CONFIG_DIR/$CONFIG.ini FEDHPC_OUTPUT=$OUTPUT FEDHPC_EXTRA_ARGS=$extra
    exec bash "$REPO/jobs/slurm/fedhpc.sbatch"
}
