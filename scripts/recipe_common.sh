# Shared by the run_examples_*.sh recipes (sourced, not run). A recipe sets MODEL and defines
# run_task NAME (one `job` line per benchmark, the paper's hyperparameters) and TASKS.
#
# Overrides: MODEL_PATH (checkpoint dir or Hub id; default michiyasunaga/$MODEL), DATA_DIR (default
# data), OUTPUT_DIR (default runs), PYTHON (default: the project's .venv/bin/python when it exists,
# else python, so a recipe runs right after `make demo` / `make test` without activating anything),
# EXTRA_ARGS (flags added to every job after the paper's, e.g. EXTRA_ARGS="--num_train_epochs 1"),
# DEMO=1 (run on the bundled demo/sample_data with the tiny model `make demo` builds), and the
# launcher's NPROC, NNODES, NODE_RANK, MASTER_ADDR, MASTER_PORT, SHARDED, RESUME, SAVE_STEPS, DRY_RUN
# (see src/linkbert/tools/launch.py). Unlike the original files (which began with `exit 0` and
# started every job in the background at once), jobs run one after another, each logging to
# $OUTPUT_DIR/<task>_hf/$MODEL/log.txt.
#
# Seeds and a small hyperparameter grid (every value checked before the first job runs):
#   SEEDS="1 2 3"              each job once per seed (--seed k), into <task>_hf/$MODEL/seed<k>/
#   LRS="1e-5 2e-5" EPOCHS="3 5"   each job once per grid point (--learning_rate, --num_train_epochs),
#                              into <task>_hf/$MODEL/lr<lr>_ep<epochs>/ (with SEEDS: .../seed<k>/); the
#                              dimension not given keeps the job's own value, which names the folder
# These flags come after the paper's and EXTRA_ARGS, so they win and the folder names what ran.
# Without them a job runs once into <task>_hf/$MODEL/, as before.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PYTHONPATH="$REPO_ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
if [ -x "$REPO_ROOT/.venv/bin/python" ]; then DEFAULT_PYTHON="$REPO_ROOT/.venv/bin/python"; else DEFAULT_PYTHON=python; fi
PYTHON="${PYTHON:-$DEFAULT_PYTHON}"
if [ "${DEMO:-0}" = 1 ]; then
  # the bundled synthetic samples, one folder per task format (see demo_data below)
  DATA_DIR="${DATA_DIR:-$REPO_ROOT/demo/sample_data}"
  MODEL_PATH="${MODEL_PATH:-$REPO_ROOT/demo_runs/tiny-bert}"
  OUTPUT_DIR="${OUTPUT_DIR:-$REPO_ROOT/demo_runs/recipes}"
  if [ ! -f "$MODEL_PATH/config.json" ]; then
    echo "error: DEMO=1 uses the tiny model that \`make demo\` builds in $MODEL_PATH; run \`make demo\` first (or set MODEL_PATH)" >&2
    exit 2
  fi
fi
MODEL_PATH="${MODEL_PATH:-michiyasunaga/$MODEL}"
DATA_DIR="${DATA_DIR:-data}"
OUTPUT_DIR="${OUTPUT_DIR:-runs}"
# Split on whitespace only: `read -a` neither evaluates nor expands globs, so a value is never run.
read -r -a EXTRA <<< "${EXTRA_ARGS:-}"
WD=(--weight_decay 0.01 --adam_beta1 0.9 --adam_beta2 0.98 --adam_epsilon 1e-6)

# demo_data FAMILY TASK_DIR: the bundled sample folder in the same format as TASK_DIR (DEMO=1)
demo_data() {
  case "$1/$2" in
    seqcls/pubmedqa_hf | seqcls/bioasq_hf) echo pubmedqa_demo_hf ;;
    seqcls/BIOSSES_hf) echo BIOSSES_demo_hf ;;
    seqcls/HoC_hf) echo HoC_demo_hf ;;
    seqcls/*) echo chemprot_demo_hf ;;
    tokcls/*) echo ner_demo_hf ;;
    mc/*) echo medqa_demo_hf ;;
    qa/*) echo mrqa_demo_hf ;;
  esac
}

entry_script() {
  case "$1" in
    qa) echo "$REPO_ROOT/src/qa/run_qa.py" ;;
    seqcls) echo "$REPO_ROOT/src/seqcls/run_seqcls.py" ;;
    tokcls) echo "$REPO_ROOT/src/tokcls/run_ner.py" ;;
    mc) echo "$REPO_ROOT/src/mc/run_multiple_choice.py" ;;
    *) echo "unknown family $1" >&2; return 2 ;;
  esac
}

# ---------------------------------------------------------------- seeds and grid (SEEDS, LRS, EPOCHS)

# a positive decimal number as Python and the Trainer read it (2e-5, 0.00002, 3, 2.5); the exponent
# is kept short so that the value never overflows to inf
NUMBER_RE='^([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]{1,2})?$'
MAX_SEED=4294967295  # numpy's seeds are 32-bit
SEED_LIST=() LR_LIST=() EPOCH_LIST=()

# list_words NAME: the whitespace-separated words of the variable NAME in WORDS (split by `read`:
# never evaluated, never glob-expanded; newlines split too)
list_words() {
  WORDS=()
  read -r -d '' -a WORDS <<< "${!1:-}" || true
}

list_error() {  # list_error NAME MESSAGE: one error line naming the variable, exit 2
  echo "error: $1: $2" >&2
  exit 2
}

is_listed() {  # is_listed VALUE WORD...: whether VALUE is one of the words
  local value=$1 word
  shift
  for word in "$@"; do if [ "$word" = "$value" ]; then return 0; fi; done
  return 1
}

# check_run_lists: SEEDS into SEED_LIST (decimal, leading zeros dropped), LRS and EPOCHS into LR_LIST
# and EPOCH_LIST; the first bad or repeated value stops the recipe before any job runs
check_run_lists() {
  local value name
  list_words SEEDS
  for value in "${WORDS[@]}"; do
    # digits first, then the length, so that the arithmetic only ever sees at most 10 digits
    if ! [[ $value =~ ^[0-9]+$ ]] || ((${#value} > 10)) || ((10#$value > MAX_SEED)); then
      list_error SEEDS "'$value' is not a non-negative integer (0 to $MAX_SEED; e.g. SEEDS=\"1 2 3\")"
    fi
    value=$((10#$value))
    if is_listed "$value" "${SEED_LIST[@]}"; then list_error SEEDS "$value is listed twice"; fi
    SEED_LIST+=("$value")
  done
  for name in LRS EPOCHS; do
    list_words "$name"
    for value in "${WORDS[@]}"; do
      # a number, and not zero: some digit of the mantissa is not 0
      if ! [[ $value =~ $NUMBER_RE ]] || ! [[ ${value%%[eE]*} =~ [1-9] ]]; then
        list_error "$name" "'$value' is not a positive number (e.g. LRS=\"1e-5 2e-5\", EPOCHS=\"3 5\")"
      fi
      if [ "$name" = LRS ]; then
        if is_listed "$value" "${LR_LIST[@]}"; then list_error LRS "$value is listed twice"; fi
        LR_LIST+=("$value")
      else
        if is_listed "$value" "${EPOCH_LIST[@]}"; then list_error EPOCHS "$value is listed twice"; fi
        EPOCH_LIST+=("$value")
      fi
    done
  done
}

# last_value FLAG ARGS...: the value of the last FLAG in ARGS (the one the entry script uses), or
# "default" when ARGS do not set it
last_value() {
  local flag=$1 found=default
  shift
  while [ $# -gt 0 ]; do
    if [ "$1" = "$flag" ] && [ $# -gt 1 ]; then found=$2; fi
    shift
  done
  echo "$found"
}

# run_plan ARGS...: the runs of one job whose own flags are ARGS, in PLAN, one entry each:
# "SUBDIR [FLAG VALUE]..." with SUBDIR the output folder under <task>_hf/$MODEL/ ("." without SEEDS,
# LRS and EPOCHS: the one run of today's layout) and the flags that make the run (grid point, seed).
run_plan() {
  PLAN=()
  local lrs=("${LR_LIST[@]}") epochs=("${EPOCH_LIST[@]}") lr ep seed dir flags value
  if [ ${#lrs[@]} -eq 0 ]; then lrs=("$(last_value --learning_rate "$@")"); fi
  if [ ${#epochs[@]} -eq 0 ]; then epochs=("$(last_value --num_train_epochs "$@")"); fi
  for lr in "${lrs[@]}"; do
    for ep in "${epochs[@]}"; do
      dir=. flags=""
      if [ ${#LR_LIST[@]} -gt 0 ] || [ ${#EPOCH_LIST[@]} -gt 0 ]; then
        # a value from EXTRA_ARGS names a folder too: a number, or it is refused here
        for value in "$lr" "$ep"; do
          if [ "$value" != default ] && ! [[ $value =~ $NUMBER_RE ]]; then
            echo "error: EXTRA_ARGS: '$value' is not a number (it would name the grid folder)" >&2
            exit 2
          fi
        done
        dir="lr${lr}_ep${ep}"
        if [ ${#LR_LIST[@]} -gt 0 ]; then flags+=" --learning_rate $lr"; fi
        if [ ${#EPOCH_LIST[@]} -gt 0 ]; then flags+=" --num_train_epochs $ep"; fi
      fi
      if [ ${#SEED_LIST[@]} -eq 0 ]; then
        PLAN+=("$dir$flags")
        continue
      fi
      for seed in "${SEED_LIST[@]}"; do
        if [ "$dir" = . ]; then PLAN+=("seed$seed$flags --seed $seed"); else PLAN+=("$dir/seed$seed$flags --seed $seed"); fi
      done
    done
  done
}

run_dir() {  # run_dir BASE SUBDIR: the output folder of one run
  if [ "$2" = . ]; then echo "$1"; else echo "$1/$2"; fi
}

# ---------------------------------------------------------------- jobs

# job FAMILY DATA_SUBDIR BATCH ACCUM [entry-script flags...]
#   trains on $DATA_DIR/FAMILY/DATA_SUBDIR/{train,dev,test}.json with the flags every original job
#   passed (--do_train --do_eval --do_predict --fp16 --save_strategy no --overwrite_output_dir),
#   once per seed and grid point (run_plan), each run's own flags last.
job() {
  local family=$1 task=$2 batch=$3 accum=$4
  shift 4
  local data="$DATA_DIR/$family/$task" base="$OUTPUT_DIR/$task/$MODEL" entry line out
  local -a run
  if [ "${DEMO:-0}" = 1 ]; then data="$DATA_DIR/$family/$(demo_data "$family" "$task")"; fi
  entry=$(entry_script "$family")
  run_plan "$@" "${EXTRA[@]}"
  for line in "${PLAN[@]}"; do
    read -r -a run <<< "$line"
    out=$(run_dir "$base" "${run[0]}")
    if [ "${run[0]}" != . ]; then echo "[recipe] $task: $out"; fi
    "$PYTHON" -m linkbert.tools.launch --entry "$entry" --log "$out/log.txt" \
      --per_device_train_batch_size "$batch" --gradient_accumulation_steps "$accum" -- \
      --model_name_or_path "$MODEL_PATH" \
      --train_file "$data/train.json" --validation_file "$data/dev.json" --test_file "$data/test.json" \
      --do_train --do_eval --do_predict --fp16 --save_strategy no \
      --output_dir "$out" --overwrite_output_dir "$@" "${EXTRA[@]}" "${run[@]:1}"
  done
}

recipe_main() {
  if [ $# -eq 0 ]; then
    echo "usage: bash $(basename "$0") TASK [TASK ...] | all" >&2
    echo "tasks: ${TASKS[*]}" >&2
    exit 2
  fi
  local name own
  for name in "$@"; do  # every name is checked before the first job starts
    if [ "$name" != all ] && [[ " ${TASKS[*]} " != *" $name "* ]]; then unknown_task "$name"; fi
  done
  check_run_lists  # so are SEEDS, LRS and EPOCHS
  if [ ${#EXTRA[@]} -gt 0 ]; then echo "[recipe] EXTRA_ARGS added to every job: ${EXTRA[*]}"; fi
  if [ ${#SEED_LIST[@]} -gt 0 ]; then echo "[recipe] SEEDS: each job once per seed (--seed k), into seed<k>/: ${SEED_LIST[*]}"; fi
  if [ ${#LR_LIST[@]} -gt 0 ] || [ ${#EPOCH_LIST[@]} -gt 0 ]; then
    own="each job's own"
    echo "[recipe] grid, into lr<lr>_ep<epochs>/: learning rates ${LR_LIST[*]:-$own}; epochs ${EPOCH_LIST[*]:-$own}"
  fi
  for name in "$@"; do
    if [ "$name" = all ]; then
      for name in "${TASKS[@]}"; do run_task "$name"; done
    else
      run_task "$name"
    fi
  done
}

unknown_task() {
  echo "error: unknown task '$1'; tasks: ${TASKS[*]} (or all); flags for every job go in EXTRA_ARGS" >&2
  exit 2
}
