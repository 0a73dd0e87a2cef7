#!/usr/bin/env bash
# BLURB with BioLinkBERT-base (paper Table 7, with the original release's hyperparameters).
#   bash run_examples_blurb_biolinkbert-base.sh chemprot    # one benchmark
#   bash run_examples_blurb_biolinkbert-base.sh all         # the thirteen, one after another
#   MODEL_PATH=/ckpt/BioLinkBERT-base NPROC=2 bash run_examples_blurb_biolinkbert-base.sh HoC
set -euo pipefail
MODEL=BioLinkBERT-base
source "$(dirname "$0")/scripts/recipe_common.sh"
TASKS=(pubmedqa bioasq BIOSSES HoC chemprot DDI GAD ebmnlp JNLPBA NCBI-disease BC2GM BC5CDR-disease BC5CDR-chem)
NO_EVAL=(--evaluation_strategy no)

run_task() {
  case "$1" in
    pubmedqa)       job seqcls pubmedqa_hf 16 1 --learning_rate 2e-5 --warmup_steps 100 --num_train_epochs 30 --max_seq_length 512 "${NO_EVAL[@]}" ;;
    bioasq)         job seqcls bioasq_hf   16 1 --learning_rate 2e-5 --warmup_steps 100 --num_train_epochs 20 --max_seq_length 512 "${NO_EVAL[@]}" ;;
    BIOSSES)        job seqcls BIOSSES_hf  16 1 --learning_rate 1e-5 --num_train_epochs 30 --max_seq_length 512 --metric_name pearsonr --seed 5 "${NO_EVAL[@]}" ;;
    HoC)            job seqcls HoC_hf      32 1 --learning_rate 4e-5 --num_train_epochs 40 --max_seq_length 512 --metric_name hoc "${NO_EVAL[@]}" ;;
    chemprot)       job seqcls chemprot_hf 32 1 --learning_rate 3e-5 --num_train_epochs 10 --max_seq_length 256 --metric_name PRF1 "${NO_EVAL[@]}" ;;
    DDI)            job seqcls DDI_hf      32 1 --learning_rate 2e-5 --num_train_epochs 5  --max_seq_length 256 --metric_name PRF1 "${NO_EVAL[@]}" ;;
    GAD)            job seqcls GAD_hf      32 1 --learning_rate 3e-5 --num_train_epochs 10 --max_seq_length 256 --metric_name PRF1 "${NO_EVAL[@]}" ;;
    ebmnlp)         job tokcls ebmnlp_hf   32 1 --learning_rate 5e-5 --num_train_epochs 1  --max_seq_length 512 --return_macro_metrics "${NO_EVAL[@]}" ;;
    JNLPBA)         job tokcls JNLPBA_hf   16 1 --learning_rate 1e-5 --warmup_ratio 0.1 --num_train_epochs 5  --max_seq_length 512 "${NO_EVAL[@]}" ;;
    NCBI-disease)   job tokcls NCBI-disease_hf   32 1 --learning_rate 5e-5 --warmup_ratio 0.1 --num_train_epochs 20 --max_seq_length 512 "${NO_EVAL[@]}" ;;
    BC2GM)          job tokcls BC2GM_hf          32 1 --learning_rate 6e-5 --warmup_ratio 0.1 --num_train_epochs 50 --max_seq_length 512 "${NO_EVAL[@]}" ;;
    BC5CDR-disease) job tokcls BC5CDR-disease_hf 16 1 --learning_rate 5e-5 --warmup_ratio 0.1 --num_train_epochs 8  --max_seq_length 512 "${NO_EVAL[@]}" ;;
    BC5CDR-chem)    job tokcls BC5CDR-chem_hf    32 1 --learning_rate 5e-5 --warmup_ratio 0.1 --num_train_epochs 20 --max_seq_length 512 "${NO_EVAL[@]}" ;;
    *) unknown_task "$1" ;;
  esac
}

recipe_main "$@"
