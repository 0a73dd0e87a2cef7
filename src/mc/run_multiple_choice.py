r"""Fine-tune a (Bio)LinkBERT checkpoint on multiple-choice QA: MedQA-USMLE, and predict MMLU
professional medicine with the MedQA model (see run_examples_medqa_biolinkbert-*.sh).

    python src/mc/run_multiple_choice.py --model_name_or_path michiyasunaga/BioLinkBERT-base \
        --train_file data/mc/medqa_usmle_hf/train.json --validation_file data/mc/medqa_usmle_hf/dev.json \
        --test_file data/mc/medqa_usmle_hf/test.json --do_train --do_eval --do_predict \
        --per_device_train_batch_size 4 --gradient_accumulation_steps 8 --learning_rate 2e-5 \
        --warmup_steps 100 --num_train_epochs 2 --max_seq_length 512 --fp16 --save_strategy no \
        --evaluation_strategy no --output_dir runs/medqa_usmle_hf/BioLinkBERT-base --overwrite_output_dir

MMLU reuses the MedQA model and only predicts (the recipe passes a train file, as the original
did; a run without --do_train does not read it: the option count comes from the records, and
records without `label` are predicted, with their option probabilities, and not scored):

    python src/mc/run_multiple_choice.py --model_name_or_path runs/medqa_usmle_hf/BioLinkBERT-large \
        --train_file data/mc/mmlu_hf/professional_medicine/dev.json \
        --validation_file data/mc/mmlu_hf/professional_medicine/val.json \
        --test_file data/mc/mmlu_hf/professional_medicine/test.json --do_predict \
        --per_device_eval_batch_size 4 --max_seq_length 512 --fp16 \
        --output_dir runs/mmlu_professional_medicine_eval/BioLinkBERT-large --overwrite_output_dir
"""

import sys

from linkbert.finetune.run import run
from linkbert.finetune.tasks.mc import MultipleChoice


def main(argv=None) -> int:
    return run(MultipleChoice, argv, doc=__doc__)


if __name__ == "__main__":
    sys.exit(main())
