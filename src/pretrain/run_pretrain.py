r"""Pretrain LinkBERT: masked language modeling + document relation prediction (ACL §4).

Input: a build_pairs output directory (--train_dir). Output: output_dir holds a standard BERT
checkpoint (config model_type "bert", `bert.*` weights, tokenizer files) that the fine-tuning
scripts load with --model_name_or_path, plus checkpoint-STEP/ directories, pretrain_log.jsonl (MLM
loss, DRP loss, DRP accuracy per pair type, tokens/s) and train_results.json.

One process (GPU if there is one, else CPU):

    python src/pretrain/run_pretrain.py --model_name_or_path bert-base-cased --train_dir data/pretrain/wiki_pairs \
        --output_dir runs/pretrain/linkbert-base --max_steps 40000 --per_device_train_batch_size 64 \
        --gradient_accumulation_steps 32 --learning_rate 3e-4 --warmup_steps 5000 --weight_decay 0.01 \
        --adam_beta1 0.9 --adam_beta2 0.98 --bf16 --save_steps 1000 --logging_steps 50

One node, 4 GPUs (DDP; the global batch is per-device x accumulation x 4):

    torchrun --standalone --nproc_per_node 4 src/pretrain/run_pretrain.py ... --gradient_accumulation_steps 8

Several nodes (here 2 x 8 GPUs; run on every node with its own --node_rank, output_dir on a shared
file system):

    torchrun --nnodes 2 --node_rank 0 --nproc_per_node 8 --master_addr 10.0.0.1 --master_port 29500 \
        src/pretrain/run_pretrain.py ... --gradient_accumulation_steps 2 --streaming

From scratch (LinkBERT-tiny, BioLinkBERT): --config_name CONFIG.json --tokenizer_name DIR instead of
--model_name_or_path. A run into an output_dir with checkpoints resumes from the newest one
(--resume_from_checkpoint DIR|last to choose, --overwrite_output_dir to start over).
run_pretrain_linkbert-base.sh wraps all this with the paper's hyperparameters.
"""

import sys


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if "-h" in argv or "--help" in argv:  # answered without importing torch
        from linkbert.pretrain.args import print_help

        print_help(__doc__)
        return 0
    from linkbert.pretrain.train import main as train_main

    return train_main(argv)


if __name__ == "__main__":
    sys.exit(main())
