# Shared by the run_examples_*.sh recipes (sourced, not run). A recipe sets MODEL and defines
# run_task NAME (one `job` line per benchmark, the paper's hyperparameters) and TASKS.
#
# Overrides: MODEL_PATH (checkpoint dir or Hub id; default michiyasunaga/$MODEL), DATA_DIR (default
# data), OUTPUT_DIR (default runs), PYTHON (default python), and the launcher's NPROC, NNODES,
# NODE_RANK, MASTER_ADDR, MASTER_PORT, SHARDED, RESUME, SAVE_STEPS, DRY_RUN (see src/linkbert/tools/launch.py).
# Unlike the original files (which began with `exit 0` and started every job in the background at
# once), jobs run one after another, each logging to $OUTPUT_DIR/<task>/$MODEL/log.txt.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PYTHONPATH="$REPO_ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
MODEL_PATH="${MODEL_PATH:-michiyasunaga/$MODEL}"
DATA_DIR="${DATA_DIR:-data}"
OUTPUT_DIR="${OUTPUT_DIR:-runs}"
PYTHON="${PYTHON:-python}"
WD=(--weight_decay 0.01 --adam_beta1 0.9 --adam_beta2 0.98 --adam_epsilon 1e-6)

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
  "$PYTHON" -m linkbert.tools.launch --entry "$(entry_script "$family")" --log "$out/log.txt" \
    --per_device_train_batch_size "$batch" --gradient_accumulation_steps "$accum" -- \
    --model_name_or_path "$MODEL_PATH" \
    --train_file "$data/train.json" --validation_file "$data/dev.json" --test_file "$data/test.json" \
    --do_train --do_eval --do_predict --fp16 --save_strategy no \
    --output_dir "$out" --overwrite_output_dir "$@"
}

recipe_main() {
  if [ $# -eq 0 ]; then
    echo "usage: bash $(basename "$0") TASK [TASK ...] | all" >&2
    echo "tasks: ${TASKS[*]}" >&2
    exit 2
  fi
  local name
  for name in "$@"; do
    if [ "$name" = all ]; then
      for name in "${TASKS[@]}"; do run_task "$name"; done
    else
      run_task "$name"
    fi
  done
}

unknown_task() {
  echo "unknown task '$1'; tasks: ${TASKS[*]} (or all)" >&2
  exit 2
}
