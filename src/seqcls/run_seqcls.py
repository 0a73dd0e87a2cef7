r"""Fine-tune a (Bio)LinkBERT checkpoint on sequence classification: BLURB PubMedQA, BioASQ, HoC,
ChemProt, DDI, GAD, BIOSSES (see run_examples_blurb_biolinkbert-*.sh for the paper's settings).

    python src/seqcls/run_seqcls.py --model_name_or_path michiyasunaga/BioLinkBERT-base \
        --train_file data/seqcls/chemprot_hf/train.json --validation_file data/seqcls/chemprot_hf/dev.json \
        --test_file data/seqcls/chemprot_hf/test.json --do_train --do_eval --do_predict --metric_name PRF1 \
        --max_seq_length 256 --per_device_train_batch_size 32 --learning_rate 3e-5 --num_train_epochs 10 \
        --output_dir runs/chemprot_hf/BioLinkBERT-base

Predict on new, unlabelled text with the fine-tuned model (records without `label`; the label names
come from the model's config; each prediction comes with its class probabilities):

    python src/seqcls/run_seqcls.py --model_name_or_path runs/chemprot_hf/BioLinkBERT-base \
        --test_file new_sentences.json --do_predict --max_seq_length 256 --output_dir runs/chemprot_new
"""

import sys

from linkbert.finetune.run import run
from linkbert.finetune.tasks.seqcls import SequenceClassification


def main(argv=None) -> int:
    return run(SequenceClassification, argv, doc=__doc__)


if __name__ == "__main__":
    sys.exit(main())
