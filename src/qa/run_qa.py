r"""Fine-tune a LinkBERT checkpoint on extractive QA: the MRQA datasets (see
run_examples_mrqa_linkbert-*.sh for the paper's settings).

    python src/qa/run_qa.py --model_name_or_path michiyasunaga/LinkBERT-base \
        --train_file data/qa/squad_hf/train.json --validation_file data/qa/squad_hf/dev.json \
        --test_file data/qa/squad_hf/test.json --do_train --do_eval --do_predict \
        --max_seq_length 384 --doc_stride 128 --per_device_train_batch_size 12 --learning_rate 3e-5 \
        --num_train_epochs 2 --evaluation_strategy steps --eval_steps 1000 --fp16 \
        --output_dir runs/squad_hf/LinkBERT-base

Answer new questions with the fine-tuned model (records without `answers`; each answer comes with
its character offset in the context and its score):

    python src/qa/run_qa.py --model_name_or_path runs/squad_hf/LinkBERT-base \
        --test_file new_questions.json --do_predict --max_seq_length 384 --doc_stride 128 \
        --output_dir runs/squad_new
"""

import sys

from linkbert.finetune.run import run
from linkbert.finetune.tasks.qa import ExtractiveQA


def main(argv=None) -> int:
    return run(ExtractiveQA, argv, doc=__doc__)


if __name__ == "__main__":
    sys.exit(main())
