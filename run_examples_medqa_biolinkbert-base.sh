#!/usr/bin/env bash
# MedQA-USMLE multiple choice with BioLinkBERT-base (paper Table 8, with the original release's hyperparameters).
#   bash run_examples_medqa_biolinkbert-base.sh medqa
set -euo pipefail
MODEL=BioLinkBERT-base
source "$(dirname "$0")/scripts/recipe_common.sh"
TASKS=(medqa)

run_task() {
  case "$1" in
    medqa) job mc medqa_usmle_hf 4 8 --learning_rate 2e-5 --warmup_steps 100 --num_train_epochs 2 --max_seq_length 512 --evaluation_strategy no ;;
    *) unknown_task "$1" ;;
  esac
}

recipe_main "$@"
