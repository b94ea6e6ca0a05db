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
# before FEDHPC_EXTRA_ARGS (the user's, last; an option both give is the
# user's alone) and ends the script.
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

# user_gives OPTION: whether FEDHPC_EXTRA_ARGS holds OPTION (alone or as OPTION=VALUE).
user_gives() {
    local word
    for word in ${FEDHPC_EXTRA_ARGS:-}; do [[ $word == "$1" || $word == "$1="* ]] && return 0; done
    return 1
}

run_task() {
    # The study's options, less those the user gives too (fedhpc refuses an
    # option given twice, and the user's win); a word after an option that
    # does not start with -- is its value.
    local -a ours=("$@" --seed "$SEED") kept=()
    local i
    [[ $OVERWRITE == 1 ]] && ours+=(--overwrite)
    for ((i = 0; i < ${#ours[@]}; i++)); do
        if [[ ${ours[i]} == --* ]] && user_gives "${ours[i]}"; then
            [[ ${ours[i + 1]:-} != --* ]] && i=$((i + 1))
            continue
        fi
        kept+=("${ours[i]}")
    done
    local extra="${kept[*]}"
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
