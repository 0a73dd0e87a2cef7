#!/usr/bin/env bash
# MRQA extractive QA with LinkBERT-large (paper Table 1, with the original release's hyperparameters).
#   bash run_examples_mrqa_linkbert-large.sh squad | all
set -euo pipefail
MODEL=LinkBERT-large
source "$(dirname "$0")/scripts/recipe_common.sh"
TASKS=(hotpot triviaqa searchqa naturalqa newsqa squad)
MRQA=(--max_seq_length 384 --doc_stride 128 --preprocessing_num_workers 10 --evaluation_strategy steps --eval_steps 1000)

run_task() {
  case "$1" in
    hotpot)    job qa hotpot_hf    16 1 --learning_rate 2e-5 --num_train_epochs 4 "${MRQA[@]}" ;;
    triviaqa)  job qa triviaqa_hf  16 1 --learning_rate 2e-5 --num_train_epochs 4 "${MRQA[@]}" ;;
    searchqa)  job qa searchqa_hf  16 1 --learning_rate 2e-5 --num_train_epochs 2 "${MRQA[@]}" ;;
    naturalqa) job qa naturalqa_hf 16 1 --learning_rate 2e-5 --num_train_epochs 4 "${MRQA[@]}" ;;
    newsqa)    job qa newsqa_hf    16 1 --learning_rate 2e-5 --num_train_epochs 2 "${MRQA[@]}" ;;
    squad)     job qa squad_hf     16 1 --learning_rate 2e-5 --num_train_epochs 2 "${MRQA[@]}" ;;
    *) unknown_task "$1" ;;
  esac
}

recipe_main "$@"
