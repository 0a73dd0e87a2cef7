"""Command-line arguments shared by every fine-tuning entry point.

Three dataclasses are parsed by `HfArgumentParser`, as in the HuggingFace example scripts our users
know: `ModelArguments`, a task's `DataArguments` subclass, and `LinkBertTrainingArguments` (the
Trainer's own flags plus `--overwrite_output_dir`). The paper's recipes were written for
transformers 4.9; `translate_legacy_flags` maps the flags that have since been renamed or removed,
so those command lines run verbatim.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import textwrap
from dataclasses import dataclass, field, fields
from pathlib import Path

from linkbert.cli import OneLineErrors, flags_from_mapping
from linkbert.errors import UsageError
from linkbert.jsonl import read_json

logger = logging.getLogger(__name__)
# the attention kernels of --padding_free (linkbert.finetune.padding_free)
ATTENTION_KERNELS = ("auto", "varlen", "repad")


def resolve_attention(requested: str, device_type: str, compiled: bool) -> str:
    """The one place that decides the padding-free attention kernel: "varlen" or "repad".

    `auto` takes varlen (jagged-tensor SDPA, flash varlen kernels) on CUDA in eager mode and repad
    everywhere else. Under torch.compile it is always repad: compiled SDPA on jagged nested tensors
    breaks the graph and its backward fails in open PyTorch issues (also under DDP), while repad is
    plain dense tensors that inductor captures whole. Asking for varlen with compile is refused."""
    if requested not in ATTENTION_KERNELS:
        raise UsageError(f"--padding_free_attention {requested}: expected one of {', '.join(ATTENTION_KERNELS)}")
    if requested == "varlen" and compiled:
        raise UsageError(
            "--padding_free_attention varlen cannot run under --torch_compile (compiled attention on jagged nested "
            "tensors breaks the graph and fails in backward); use --padding_free_attention auto or repad"
        )
    if requested != "auto":
        return requested
    return "varlen" if device_type == "cuda" and not compiled else "repad"


@dataclass
class ModelArguments:
    model_name_or_path: str = field(
        metadata={"help": "Local checkpoint directory or HuggingFace Hub id (e.g. michiyasunaga/BioLinkBERT-base)"}
    )
    config_name: str | None = field(
        default=None, metadata={"help": "Config name or path, if not the same as the model"}
    )
    tokenizer_name: str | None = field(
        default=None, metadata={"help": "Tokenizer name or path, if not the same as the model"}
    )
    cache_dir: str | None = field(default=None, metadata={"help": "Where to store models downloaded from the Hub"})
    model_revision: str = field(default="main", metadata={"help": "Hub revision (branch, tag or commit) of the model"})
    use_fast_tokenizer: bool = field(
        default=True, metadata={"help": "Kept for compatibility: every task uses the fast (Rust) tokenizer"}
    )
    token: str | None = field(
        default=None, metadata={"help": "Hub access token (replaces the removed --use_auth_token)"}
    )
    trust_remote_code: bool = field(
        default=False, metadata={"help": "Allow model code from the Hub to run locally; off unless you ask"}
    )
    attn_implementation: str | None = field(
        default=None,
        metadata={
            "help": "Attention kernel: 'sdpa' (PyTorch scaled-dot-product attention) or 'eager' (the original's); "
            "default: transformers' choice (sdpa)"
        },
    )
    padding_free: bool | None = field(
        default=None,
        metadata={
            "help": "Run the encoder on real tokens only (variable-length attention), skipping all work on padding; "
            "same results (BERT models). Default: on for sequence classification, NER and multiple choice, off for "
            "QA (its loss sees the padding) and under --pad_to_max_length or --attn_implementation eager; "
            "--padding_free false (or --no_padding_free) runs the original padded encoder"
        },
    )
    # set by parse_args: padding_free was chosen by padding_free_default, not on the command line
    padding_free_by_default: bool = field(default=False, init=False)
    padding_free_attention: str = field(
        default="auto",
        metadata={
            "help": "With --padding_free, the attention kernel: 'varlen' (SDPA on jagged tensors: flash varlen "
            "on CUDA), "
            "'repad' (SDPA on a padded copy; everything else stays packed), 'auto' (varlen on CUDA, else repad)"
        },
    )
    padding_free_bucket: int | None = field(
        default=None,
        metadata={
            "help": "With --padding_free, round each batch's packed token count up to a multiple of this, so "
            "that batches share "
            "a few shapes (torch.compile / CUDA graphs reuse their work); the filler rows are dropped"
        },
    )


@dataclass
class DataArguments:
    train_file: str | None = field(default=None, metadata={"help": "Training split, JSON lines"})
    validation_file: str | None = field(default=None, metadata={"help": "Evaluation split, JSON lines"})
    test_file: str | None = field(default=None, metadata={"help": "Prediction split, JSON lines"})
    max_seq_length: int | None = field(
        default=None, metadata={"help": "Maximum tokens per input after tokenization; longer inputs are truncated"}
    )
    pad_to_max_length: bool = field(
        default=False,
        metadata={
            "help": "Pad every input to max_seq_length as the original did; default: pad each batch to its longest "
            "input (same results, less work)"
        },
    )
    pad_to_multiple_of: int | None = field(
        default=None,
        metadata={
            "help": "With dynamic padding, round batch lengths up to a multiple of this (default: 8 under fp16/bf16, "
            "else none)"
        },
    )
    overwrite_cache: bool = field(
        default=False, metadata={"help": "Re-tokenize instead of reusing the cached tokenized splits"}
    )
    preprocessing_num_workers: int | None = field(default=None, metadata={"help": "Processes used for tokenization"})
    max_train_samples: int | None = field(default=None, metadata={"help": "Use only the first N training examples"})
    max_eval_samples: int | None = field(default=None, metadata={"help": "Use only the first N evaluation examples"})
    max_predict_samples: int | None = field(default=None, metadata={"help": "Use only the first N prediction examples"})
    dataset_name: str | None = field(
        default=None, metadata={"help": "Not supported: data comes from --train_file etc. (the Hub is not used)"}
    )
    dataset_config_name: str | None = field(default=None, metadata={"help": "Not supported, see --dataset_name"})


# Boolean flags of transformers 4.9 that no longer exist and are not needed any more.
_DROPPED_FLAGS = ("--use_auth_token", "--tpu_metrics_debug")  # 5.x reads the token from the env or --token
_BOOL_WORDS = ("true", "false", "1", "0", "yes", "no")
# fairscale's sharded DDP modes as PyTorch FSDP2: ZeRO-2 style sharding of gradients and optimizer
# state keeps parameters gathered after the forward pass; ZeRO-3 style re-shards them.
_SHARDED_DDP_RESHARD = {"simple": False, "zero_dp_2": False, "zero_dp_3": True}


def translate_legacy_flags(argv: list[str]) -> list[str]:
    """Rewrite transformers-4.9 flags into today's names: `--evaluation_strategy` -> `--eval_strategy`,
    `--warmup_ratio R` -> `--warmup_steps R` (a float below 1 is a ratio in transformers 5),
    `--group_by_length` -> `--train_sampling_strategy group_by_length`, `--sharded_ddp MODE` ->
    `--fsdp --fsdp_config {...}` (fairscale was replaced by PyTorch FSDP). Unknown flags pass through untouched."""
    out: list[str] = []
    items = _split_equals(argv)
    index = 0
    while index < len(items):
        flag = items[index]
        value = items[index + 1] if index + 1 < len(items) else None
        has_value = value is not None and not value.startswith("--")
        if flag == "--evaluation_strategy":
            out += ["--eval_strategy"]
            index += 1
            continue
        if flag in _DROPPED_FLAGS:
            logger.warning("%s is no longer needed and is ignored", flag)
            index += 2 if has_value and value.lower() in _BOOL_WORDS else 1
            continue
        if flag == "--warmup_ratio":
            ratio = _float_flag(flag, value)
            if not 0 <= ratio < 1:
                raise UsageError(f"--warmup_ratio must be in [0, 1), got {value}")
            out += ["--warmup_steps", repr(ratio)]
            index += 2
            continue
        if flag == "--group_by_length":
            if has_value and value.lower() in ("false", "0", "no"):
                index += 2
                continue
            out += ["--train_sampling_strategy", "group_by_length"]
            index += 2 if has_value else 1
            continue
        if flag == "--sharded_ddp":
            out += _fsdp_flags(value if has_value else "simple")
            index += 2 if has_value else 1
            continue
        out.append(flag)
        index += 1
    return out


def _split_equals(argv: list[str]) -> list[str]:
    """`--flag=value` -> `--flag value`, so the translation sees one shape."""
    items = []
    for item in argv:
        if item.startswith("--") and "=" in item:
            items += item.split("=", 1)
        else:
            items.append(item)
    return items


def _float_flag(flag: str, value: str | None) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{flag} expects a number, got {value!r}") from None


def fsdp_config(mode: str) -> dict:
    """The one FSDP configuration of the project, for the original's `--sharded_ddp MODE` and for the
    recipes' SHARDED=1 (which asks for `zero_dp_3`): FSDP2, one unit per BertLayer, parameters kept
    gathered after the forward pass for ZeRO-2 style modes and re-sharded for ZeRO-3."""
    words = mode.split()
    base = next((w for w in words if w in _SHARDED_DDP_RESHARD), "simple")
    config = {"reshard_after_forward": _SHARDED_DDP_RESHARD[base], "transformer_layer_cls_to_wrap": ["BertLayer"]}
    if "offload" in words:
        config["cpu_offload"] = True
    return config


def _fsdp_flags(mode: str) -> list[str]:
    config = fsdp_config(mode)
    logger.warning(
        "--sharded_ddp %s (fairscale) runs as PyTorch FSDP: --fsdp --fsdp_config '%s'", mode, json.dumps(config)
    )
    return ["--fsdp", "--fsdp_config", json.dumps(config)]


def argument_parser(dataclass_types, **kwargs):
    """HfArgumentParser without abbreviated flags, whose command-line errors (a missing flag, a value of
    the wrong type) are one `error:` line with exit status 2 (linkbert.cli.OneLineErrors)."""
    from transformers import HfArgumentParser

    class ArgumentParser(OneLineErrors, HfArgumentParser):
        pass

    return ArgumentParser(dataclass_types, allow_abbrev=False, **kwargs)


HELP_ALL = "--help_all"
USAGE = (
    "%(prog)s --model_name_or_path MODEL --train_file F [--validation_file F] [--test_file F]\n"
    "       [--do_train] [--do_eval] [--do_predict] --output_dir DIR [more flags below, or --help_all]"
)


def print_help(data_args_class: type[DataArguments], description: str | None) -> None:
    """`--help`: what the script does and an example (the entry script's docstring), then this
    project's flags. transformers' ~100 Trainer flags are listed by --help_all: building their parser
    imports torch, which takes seconds."""
    epilog = (
        "Every flag of transformers' TrainingArguments is accepted as well (--output_dir, --learning_rate, "
        "--num_train_epochs, --per_device_train_batch_size, --fp16, --save_strategy, ...) and the original's "
        f"--overwrite_output_dir, --evaluation_strategy, --warmup_ratio; {HELP_ALL} lists them all."
    )
    parser = argument_parser(
        (ModelArguments, data_args_class),
        usage=USAGE,
        description=description,
        epilog=textwrap.fill(epilog, 100),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.print_help()


def print_full_help(data_args_class: type[DataArguments], description: str | None) -> None:
    """`--help_all`: every flag, the Trainer's included."""
    from linkbert.finetune.training_args import LinkBertTrainingArguments

    parser = argument_parser(
        (ModelArguments, data_args_class, LinkBertTrainingArguments),
        usage=USAGE,
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.print_help()


def parse_args(data_args_class: type[DataArguments], argv: list[str]):
    """Parse argv (or a single .json file of arguments, as the HF scripts allow) into
    (ModelArguments, DataArguments subclass, LinkBertTrainingArguments)."""
    from linkbert.finetune.training_args import LinkBertTrainingArguments

    parser = argument_parser((ModelArguments, data_args_class, LinkBertTrainingArguments))
    if len(argv) == 1 and argv[0].endswith(".json"):
        argv = flags_from_mapping(read_json(argv[0]))
    argv = translate_legacy_flags(argv)
    argv = spell_out_padding_free(argv)
    if _distributed_without_gpu() and "--use_cpu" not in argv:
        # transformers only sets up DDP on CPU (gloo) when told to use the CPU
        argv.append("--use_cpu")
    try:
        model_args, data_args, training_args = parser.parse_args_into_dataclasses(args=argv, look_for_args_file=False)
    except ValueError as err:  # HF raises ValueError for unknown or inconsistent flags
        raise UsageError(str(err)) from None
    _check_data_args(data_args)
    if model_args.padding_free is None:
        model_args.padding_free = padding_free_default(data_args_class, data_args, model_args)
        model_args.padding_free_by_default = True
    if model_args.padding_free_bucket is not None and (
        not model_args.padding_free or model_args.padding_free_bucket < 1
    ):
        raise UsageError(
            f"--padding_free_bucket {model_args.padding_free_bucket}: needs --padding_free and a positive number of "
            "tokens"
        )
    # the kernel itself is chosen once the device is known; an unknown or impossible request fails here
    resolve_attention(
        model_args.padding_free_attention, "cpu", compiled=training_args.torch_compile and model_args.padding_free
    )
    if model_args.padding_free and model_args.attn_implementation not in (None, "sdpa"):
        raise UsageError(
            "--padding_free brings its own variable-length attention; drop --attn_implementation "
            f"{model_args.attn_implementation}"
        )
    return model_args, data_args, training_args


def spell_out_padding_free(argv: list[str]) -> list[str]:
    """`--padding_free` alone -> `--padding_free true`, `--no_padding_free` -> `--padding_free false`.
    HfArgumentParser accepts a bare boolean flag, and adds its --no_ form, only for booleans that
    default to a value; padding_free defaults to None, meaning "the task decides" (padding_free_default)."""
    out: list[str] = []
    for index, flag in enumerate(argv):
        following = argv[index + 1].lower() if index + 1 < len(argv) else None
        if flag == "--no_padding_free":
            out += ["--padding_free", "false"]
        elif flag == "--padding_free" and following not in _BOOL_WORDS:
            out += ["--padding_free", "true"]
        else:
            out.append(flag)
    return out


def padding_free_default(data_args_class: type[DataArguments], data_args: DataArguments, model_args) -> bool:
    """Whether a run that does not set --padding_free runs padding-free: yes for the tasks whose
    inputs are padded per batch by default (sequence classification, NER, multiple choice: their
    losses and predictions never see padding, so packing gives the same results up to float noise,
    and bench/cost_model.py and bench/cpu_check.py measure it fastest); no for a task that pads to
    max_seq_length by default (extractive QA, whose loss is a softmax over the padded window), and
    no when the command asks for the original's computation (--pad_to_max_length, --attn_implementation
    eager)."""
    task_pads_to_max = next(f.default for f in fields(data_args_class) if f.name == "pad_to_max_length")
    if task_pads_to_max or data_args.pad_to_max_length:
        return False
    return model_args.attn_implementation in (None, "sdpa")


def _distributed_without_gpu() -> bool:
    import torch

    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()


def _check_data_args(data_args: DataArguments) -> None:
    if data_args.dataset_name or data_args.dataset_config_name:
        raise UsageError(
            "--dataset_name loads data from the Hub, which this project does not do: pass "
            "--train_file/--validation_file/--test_file"
        )
    for name in ("train_file", "validation_file", "test_file"):
        path = getattr(data_args, name)
        if path is not None and Path(path).suffix not in (".json", ".jsonl"):
            raise UsageError(f"--{name} {path}: expected a JSON-lines file ending in .json or .jsonl")
    for name in (
        "max_seq_length",
        "max_train_samples",
        "max_eval_samples",
        "max_predict_samples",
        "preprocessing_num_workers",
        "pad_to_multiple_of",
    ):
        value = getattr(data_args, name)
        if value is not None and value < 1:
            raise UsageError(f"--{name} {value}: expected a positive number")
