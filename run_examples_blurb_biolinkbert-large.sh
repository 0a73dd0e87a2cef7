#!/usr/bin/env bash
# BLURB with BioLinkBERT-large (paper Table 7, with the original release's hyperparameters).
#   bash run_examples_blurb_biolinkbert-large.sh chemprot | all
#   NPROC=8 bash run_examples_blurb_biolinkbert-large.sh chemprot     # DDP over 8 GPUs, same effective batch
set -euo pipefail
MODEL=BioLinkBERT-large
source "$(dirname "$0")/scripts/recipe_common.sh"
TASKS=(pubmedqa bioasq BIOSSES HoC chemprot DDI GAD ebmnlp JNLPBA NCBI-disease BC2GM BC5CDR-disease BC5CDR-chem)
COMMON=(--warmup_ratio 0.5 --evaluation_strategy no)

run_task() {
  case "$1" in
    pubmedqa)       job seqcls pubmedqa_hf 8 4 --learning_rate 3e-5 --num_train_epochs 23  --max_seq_length 512 "${COMMON[@]}" ;;
    bioasq)         job seqcls bioasq_hf   8 4 --learning_rate 3e-5 --num_train_epochs 30  --max_seq_length 512 "${COMMON[@]}" ;;
    BIOSSES)        job seqcls BIOSSES_hf  8 4 --learning_rate 3e-5 --num_train_epochs 100 --max_seq_length 512 --metric_name pearsonr "${WD[@]}" "${COMMON[@]}" ;;
    HoC)            job seqcls HoC_hf      8 4 --learning_rate 3e-5 --num_train_epochs 20  --max_seq_length 512 --metric_name hoc "${COMMON[@]}" ;;
    chemprot)       job seqcls chemprot_hf 16 1 --learning_rate 2e-5 --num_train_epochs 4 --max_seq_length 256 --metric_name PRF1 "${COMMON[@]}" ;;
    DDI)            job seqcls DDI_hf      16 1 --learning_rate 2e-5 --num_train_epochs 3 --max_seq_length 256 --metric_name PRF1 "${COMMON[@]}" ;;
    GAD)            job seqcls GAD_hf      16 1 --learning_rate 2e-5 --num_train_epochs 5 --max_seq_length 256 --metric_name PRF1 "${COMMON[@]}" ;;
    ebmnlp)         job tokcls ebmnlp_hf   8 2 --learning_rate 2e-5 --num_train_epochs 1  --max_seq_length 512 --return_macro_metrics "${COMMON[@]}" ;;
    JNLPBA)         job tokcls JNLPBA_hf   8 2 --learning_rate 3e-5 --num_train_epochs 4  --max_seq_length 512 --seed 3 "${WD[@]}" "${COMMON[@]}" ;;
    NCBI-disease)   job tokcls NCBI-disease_hf   8 2 --learning_rate 2e-5 --num_train_epochs 10 --max_seq_length 512 "${COMMON[@]}" ;;
    BC2GM)          job tokcls BC2GM_hf          8 2 --learning_rate 2e-5 --num_train_epochs 30 --max_seq_length 512 "${COMMON[@]}" ;;
    BC5CDR-disease) job tokcls BC5CDR-disease_hf 8 4 --learning_rate 3e-5 --num_train_epochs 20 --max_seq_length 512 "${COMMON[@]}" ;;
    BC5CDR-chem)    job tokcls BC5CDR-chem_hf    8 2 --learning_rate 2e-5 --num_train_epochs 8  --max_seq_length 512 "${COMMON[@]}" ;;
    *) unknown_task "$1" ;;
  esac
}

recipe_main "$@"
