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

# job FAMILY DATA_SUBDIR BATCH ACCUM [entry-script flags...]
#   trains on $DATA_DIR/FAMILY/DATA_SUBDIR/{train,dev,test}.json with the flags every original job
#   passed (--do_train --do_eval --do_predict --fp16 --save_strategy no --overwrite_output_dir).
job() {
  local family=$1 task=$2 batch=$3 accum=$4
  shift 4
  local data="$DATA_DIR/$family/$task" out="$OUTPUT_DIR/$task/$MODEL"
  if [ "${DEMO:-0}" = 1 ]; then data="$DATA_DIR/$family/$(demo_data "$family" "$task")"; fi
  "$PYTHON" -m linkbert.tools.launch --entry "$(entry_script "$family")" --log "$out/log.txt" \
    --per_device_train_batch_size "$batch" --gradient_accumulation_steps "$accum" -- \
    --model_name_or_path "$MODEL_PATH" \
    --train_file "$data/train.json" --validation_file "$data/dev.json" --test_file "$data/test.json" \
    --do_train --do_eval --do_predict --fp16 --save_strategy no \
    --output_dir "$out" --overwrite_output_dir "$@" "${EXTRA[@]}"
}

recipe_main() {
  if [ $# -eq 0 ]; then
    echo "usage: bash $(basename "$0") TASK [TASK ...] | all" >&2
    echo "tasks: ${TASKS[*]}" >&2
    exit 2
  fi
  local name
  for name in "$@"; do  # every name is checked before the first job starts
    if [ "$name" != all ] && [[ " ${TASKS[*]} " != *" $name "* ]]; then unknown_task "$name"; fi
  done
  if [ ${#EXTRA[@]} -gt 0 ]; then echo "[recipe] EXTRA_ARGS added to every job: ${EXTRA[*]}"; fi
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
