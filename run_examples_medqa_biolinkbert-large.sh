#!/usr/bin/env bash
# MedQA-USMLE with BioLinkBERT-large (paper Table 8), then MMLU professional medicine evaluated with
# the MedQA-fine-tuned model and no further training (paper Table 9, with the original release's hyperparameters).
#   bash run_examples_medqa_biolinkbert-large.sh medqa mmlu     # or: all
set -euo pipefail
MODEL=BioLinkBERT-large
source "$(dirname "$0")/scripts/recipe_common.sh"
TASKS=(medqa mmlu)

# The MedQA job; its learning rate and epochs also name the grid folders of the models MMLU evaluates.
MEDQA=(--per_device_eval_batch_size 2 --learning_rate 3e-5 --warmup_steps 500 --num_train_epochs 6 --max_seq_length 512 "${WD[@]}" --evaluation_strategy steps --eval_steps 100)

# MMLU: predict only; --train_file is passed as the original did (dev.json), but a run without
# --do_train does not read it. With
# SEEDS / LRS / EPOCHS it evaluates each seed's and grid point's MedQA model into the same subfolder
# (MEDQA_MODEL_PATH, when set, is evaluated for every one of them).
mmlu() {
  local data="$DATA_DIR/mc/mmlu_hf/professional_medicine" base="$OUTPUT_DIR/mmlu_professional_medicine_eval/$MODEL"
  local medqa="$OUTPUT_DIR/medqa_usmle_hf/$MODEL" val=val.json line out model
  local -a run
  if [ "${DEMO:-0}" = 1 ]; then data="$DATA_DIR/mc/medqa_demo_hf" val=dev.json; fi
  run_plan "${MEDQA[@]}" "${EXTRA[@]}"
  for line in "${PLAN[@]}"; do
    read -r -a run <<< "$line"  # only the folder: predicting takes no seed or hyperparameter
    out=$(run_dir "$base" "${run[0]}")
    model=${MEDQA_MODEL_PATH:-$(run_dir "$medqa" "${run[0]}")}
    if [ "${run[0]}" != . ]; then echo "[recipe] mmlu: $out"; fi
    "$PYTHON" -m linkbert.tools.launch --entry "$(entry_script mc)" --log "$out/log.txt" --per_device_train_batch_size 2 -- \
      --model_name_or_path "$model" \
      --train_file "$data/dev.json" --validation_file "$data/$val" --test_file "$data/test.json" \
      --do_predict --per_device_eval_batch_size 4 --max_seq_length 512 --fp16 \
      --output_dir "$out" --overwrite_output_dir "${EXTRA[@]}"
  done
}

run_task() {
  case "$1" in
    medqa) job mc medqa_usmle_hf 2 32 "${MEDQA[@]}" ;;
    mmlu) mmlu ;;
    *) unknown_task "$1" ;;
  esac
}

recipe_main "$@"
