"""Flags of run_pretrain, named as in HuggingFace's TrainingArguments / run_mlm.py.

One dataclass parsed by `HfArgumentParser`, so `--help` lists every flag with its help text and the
names are the ones HF users type (`--per_device_train_batch_size`, `--warmup_steps`, `--bf16`, ...).
The original recipes' `--warmup_ratio R` is accepted through the shared translation layer
(linkbert.finetune.args), as elsewhere in the project.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from linkbert.errors import UsageError


@dataclass
class PretrainArguments:
    train_dir: str = field(metadata={"help": "build_pairs output directory: Arrow shards + manifest.json"})
    output_dir: str = field(
        metadata={"help": "Where checkpoints, the training log and the final BERT checkpoint are written"}
    )
    model_name_or_path: str | None = field(
        default=None,
        metadata={
            "help": "BERT (or LinkBERT) checkpoint to start from, as LinkBERT-base/large start from BERT (ACL §5.1)"
        },
    )
    config_name: str | None = field(
        default=None,
        metadata={
            "help": "BertConfig (directory or .json) for pretraining from scratch, as LinkBERT-tiny and BioLinkBERT"
        },
    )
    tokenizer_name: str | None = field(
        default=None,
        metadata={"help": "Tokenizer directory; default: --model_name_or_path. Must be the one build_pairs used"},
    )
    max_steps: int = field(
        default=1000, metadata={"help": "Optimizer steps to train for (paper: 40k for base/large, 10k for tiny)"}
    )
    per_device_train_batch_size: int = field(default=8, metadata={"help": "Instances per device per micro-batch"})
    gradient_accumulation_steps: int = field(
        default=1,
        metadata={"help": "Micro-batches per optimizer step; global batch = this x per-device batch x world size"},
    )
    learning_rate: float = field(
        default=5e-5, metadata={"help": "Peak learning rate (paper: 3e-4 base, 2e-4 large, 5e-3 tiny)"}
    )
    warmup_steps: float = field(
        default=0,
        metadata={"help": "Linear warmup steps, or a fraction of max_steps if below 1; then linear decay to 0"},
    )
    weight_decay: float = field(
        default=0.01, metadata={"help": "AdamW weight decay, not applied to biases and LayerNorm weights (paper: 0.01)"}
    )
    adam_beta1: float = field(default=0.9, metadata={"help": "AdamW beta1 (paper: 0.9)"})
    adam_beta2: float = field(default=0.999, metadata={"help": "AdamW beta2 (paper: 0.98)"})
    adam_epsilon: float = field(default=1e-8, metadata={"help": "AdamW epsilon (not stated in the paper)"})
    max_grad_norm: float = field(default=1.0, metadata={"help": "Gradient clipping norm; 0 disables"})
    bf16: bool = field(default=False, metadata={"help": "bfloat16 autocast (weights and optimizer stay float32)"})
    fp16: bool = field(
        default=False, metadata={"help": "float16 autocast with loss scaling, as the paper's runs (CUDA only)"}
    )
    seed: int = field(default=42, metadata={"help": "Seed of initialisation, data order, masking and dropout"})
    save_steps: int = field(default=500, metadata={"help": "Write output_dir/checkpoint-STEP every this many steps"})
    save_total_limit: int | None = field(
        default=2, metadata={"help": "Keep only the newest N checkpoints (None keeps all)"}
    )
    logging_steps: int = field(
        default=50, metadata={"help": "Log losses, DRP accuracy per pair type and speed every this many steps"}
    )
    streaming: bool = field(
        default=False,
        metadata={
            "help": "Read shards with datasets streaming, shards split over ranks, for corpora that do not fit on "
            "one machine"
        },
    )
    shuffle_buffer_size: int = field(default=10000, metadata={"help": "With --streaming: size of the shuffle buffer"})
    dataloader_num_workers: int | None = field(
        default=None,
        metadata={
            "help": "Processes that read, pad and mask the next micro-batches while the model trains (0: in the "
            "training process); default 2 on CUDA, 0 on CPU. With --streaming at most 1"
        },
    )
    mlm_probability: float = field(default=0.15, metadata={"help": "Fraction of tokens chosen for MLM (BERT: 0.15)"})
    pad_to_multiple_of: int | None = field(
        default=None,
        metadata={"help": "Round padded batch lengths up to a multiple of this (default: 8 with bf16/fp16)"},
    )
    resume_from_checkpoint: str | None = field(
        default=None,
        metadata={
            "help": "Checkpoint directory to resume from, or 'last'; by default the last checkpoint in output_dir is "
            "resumed"
        },
    )
    overwrite_output_dir: bool = field(
        default=False, metadata={"help": "Start from step 0 even if output_dir holds checkpoints"}
    )
    torch_compile: bool = field(
        default=False, metadata={"help": "torch.compile the model (CUDA; fixed shapes via --pad_to_multiple_of help)"}
    )
    peak_tflops: float | None = field(
        default=None,
        metadata={
            "help": "Accelerator peak TFLOP/s for the precision used (e.g. 989 for H100 bf16); when given, MFU is "
            "logged"
        },
    )
    report_to: str = field(
        default="none", metadata={"help": "Only 'none': the JSON-lines log pretrain_log.jsonl is the record"}
    )


def print_help(description: str | None) -> None:
    """`--help`: the entry script's docstring (what it does, launch commands), then every flag."""
    import argparse

    from linkbert.finetune.args import argument_parser

    usage = (
        "%(prog)s --train_dir DIR --output_dir DIR (--model_name_or_path M | --config_name C --tokenizer_name T)\n"
        "       [flags below]"
    )
    parser = argument_parser(
        PretrainArguments, usage=usage, description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.print_help()


def parse_args(argv: list[str]) -> PretrainArguments:
    from linkbert.finetune.args import argument_parser, translate_legacy_flags

    parser = argument_parser(PretrainArguments)
    try:
        (args,) = parser.parse_args_into_dataclasses(args=translate_legacy_flags(argv), look_for_args_file=False)
    except ValueError as err:
        raise UsageError(str(err)) from None
    check_args(args)
    return args


def check_args(args: PretrainArguments) -> None:
    if not args.model_name_or_path and not (args.config_name and args.tokenizer_name):
        raise UsageError(
            "pass --model_name_or_path (start from a BERT checkpoint) or --config_name and --tokenizer_name (from "
            "scratch)"
        )
    if args.bf16 and args.fp16:
        raise UsageError("--bf16 and --fp16 exclude each other")
    if args.fp16:
        import torch

        if not torch.cuda.is_available():
            raise UsageError("--fp16 needs a CUDA device (loss scaling); use --bf16 on CPU")
    for name in (
        "max_steps",
        "per_device_train_batch_size",
        "gradient_accumulation_steps",
        "save_steps",
        "logging_steps",
    ):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name} must be at least 1, got {getattr(args, name)}")
    if args.dataloader_num_workers is not None and args.dataloader_num_workers < 0:
        raise UsageError(f"--dataloader_num_workers must be 0 or more, got {args.dataloader_num_workers}")
    if args.report_to not in ("none", "None", ""):
        raise UsageError("--report_to: only 'none' is supported; the log is output_dir/pretrain_log.jsonl")


def warmup_steps(args: PretrainArguments) -> int:
    """transformers 5 convention: a value below 1 is a fraction of max_steps."""
    return round(args.warmup_steps * args.max_steps) if 0 < args.warmup_steps < 1 else int(args.warmup_steps)


def learning_rate_at(step: int, peak: float, warmup: int, max_steps: int) -> float:
    """Linear warmup to `peak` over `warmup` steps, then linear decay to 0 at `max_steps` (ACL §5.1).
    `step` counts optimizer steps already taken, so the first update uses learning_rate_at(0)."""
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * max(0.0, (max_steps - step) / max(1, max_steps - warmup))
