#!/usr/bin/env bash
# MRQA extractive QA with LinkBERT-base (paper Table 1, with the original release's hyperparameters).
#   bash run_examples_mrqa_linkbert-base.sh squad        # one benchmark
#   bash run_examples_mrqa_linkbert-base.sh all          # the six, one after another
#   MODEL_PATH=/ckpt/LinkBERT-base NPROC=4 bash run_examples_mrqa_linkbert-base.sh hotpot
set -euo pipefail
MODEL=LinkBERT-base
source "$(dirname "$0")/scripts/recipe_common.sh"
TASKS=(hotpot triviaqa searchqa naturalqa newsqa squad)
MRQA=(--max_seq_length 384 --doc_stride 128 --preprocessing_num_workers 10 --evaluation_strategy steps --eval_steps 1000)

run_task() {
  case "$1" in
    hotpot)    job qa hotpot_hf    12 2 --learning_rate 3e-5 --num_train_epochs 4 "${MRQA[@]}" ;;
    triviaqa)  job qa triviaqa_hf  12 2 --learning_rate 3e-5 --num_train_epochs 4 "${MRQA[@]}" ;;
    searchqa)  job qa searchqa_hf  12 2 --learning_rate 3e-5 --num_train_epochs 1 "${MRQA[@]}" ;;
    naturalqa) job qa naturalqa_hf 12 2 --learning_rate 3e-5 --num_train_epochs 4 "${MRQA[@]}" ;;
    newsqa)    job qa newsqa_hf    12 2 --learning_rate 3e-5 --num_train_epochs 4 "${MRQA[@]}" ;;
    squad)     job qa squad_hf     12 1 --learning_rate 3e-5 --num_train_epochs 2 "${MRQA[@]}" ;;
    *) unknown_task "$1" ;;
  esac
}

recipe_main "$@"
