r"""Fine-tune a (Bio)LinkBERT checkpoint on named-entity recognition / token classification: BLURB
BC5CDR-chem, BC5CDR-disease, NCBI-disease, BC2GM, JNLPBA and EBM PICO (see
run_examples_blurb_biolinkbert-*.sh for the paper's settings). EBM PICO adds --return_macro_metrics.

    python src/tokcls/run_ner.py --model_name_or_path michiyasunaga/BioLinkBERT-base \
        --train_file data/tokcls/NCBI-disease_hf/train.json --validation_file data/tokcls/NCBI-disease_hf/dev.json \
        --test_file data/tokcls/NCBI-disease_hf/test.json --do_train --do_eval --do_predict \
        --per_device_train_batch_size 32 --learning_rate 5e-5 --warmup_ratio 0.1 --num_train_epochs 20 \
        --max_seq_length 512 --fp16 --save_strategy no --evaluation_strategy no \
        --output_dir runs/NCBI-disease_hf/BioLinkBERT-base --overwrite_output_dir

Predict on new, unlabelled sentences with the fine-tuned model (records with `tokens` only; the tags
come from the model's config; each prediction lists its entities with character offsets):

    python src/tokcls/run_ner.py --model_name_or_path runs/NCBI-disease_hf/BioLinkBERT-base \
        --test_file new_sentences.json --do_predict --max_seq_length 512 --output_dir runs/NCBI-disease_new
"""

import sys

from linkbert.finetune.run import run
from linkbert.finetune.tasks.tokcls import TokenClassification


def main(argv=None) -> int:
    return run(TokenClassification, argv, doc=__doc__)


if __name__ == "__main__":
    sys.exit(main())
