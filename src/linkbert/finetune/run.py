"""The shared fine-tuning core: one run of any task, from argv to results files.

    python src/seqcls/run_seqcls.py --model_name_or_path DIR --train_file train.json ... \
        --do_train --do_eval --do_predict --output_dir OUT

Order matters for the user's safety: arguments are parsed, every record of every split is
validated, and only then is the output directory checked, the model loaded and anything written.
After training the run writes, like the HuggingFace examples, `train_results.json`,
`eval_results.json` (keys `eval_*`), `predict_results.json` (keys `test_*`), `all_results.json`,
per example `eval_predictions.jsonl` / `predict_predictions.jsonl` with id, prediction, label (and
the task's further fields), and the files a task adds (QA's n-best answers, the original's raw-logit
`test_outputs.json`). A test file without labels is predicted, not scored: its results file holds
only counts and timings.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import sys
from functools import partial
from pathlib import Path

from linkbert.errors import report_errors
from linkbert.finetune.args import HELP_ALL, parse_args, print_full_help, print_help
from linkbert.finetune.data import SPLITS, Split, check_file, load_examples, split_paths
from linkbert.finetune.tasks.base import Task
from linkbert.loading import check_source, check_tokenizer_fits, load_config, load_model, load_tokenizer
from linkbert.run_info import run_info, write_run_info
from linkbert.runs import (
    check_output_dir,
    check_resume,
    checkpoint_step,
    clean_staging,
    close_process_group,
    configure_logging,
    file_identity,
    local_identity,
    resolve_checkpoint,
)

logger = logging.getLogger("linkbert")

# split name -> metric key prefix (the files' prefix is trainer.FILE_PREFIX of it)
METRIC_PREFIX = {"validation": "eval", "test": "test"}


def run(task_class: type[Task], argv: list[str] | None = None, doc: str | None = None) -> int:
    """Entry point of every fine-tuning script: returns the exit status; errors meant for the user
    (bad data, bad flags, a checkpoint that cannot be found) print one line, not a traceback. `doc`,
    the entry script's docstring (what it does, an example), heads its --help."""
    argv = sys.argv[1:] if argv is None else argv
    if HELP_ALL in argv:
        print_full_help(task_class.data_args_class, doc)
        return 0
    if "-h" in argv or "--help" in argv:
        print_help(task_class.data_args_class, doc)
        return 0
    try:
        return report_errors(lambda: (check_sources_early(argv), _run(task_class, argv)))
    finally:
        close_process_group()


def flag_value(argv: list[str], flag: str) -> str | None:
    """The value of `flag` in argv (`--flag value` or `--flag=value`), the last one given."""
    value = None
    for index, item in enumerate(argv):
        if item == flag and index + 1 < len(argv):
            value = argv[index + 1]
        elif item.startswith(flag + "="):
            value = item.split("=", 1)[1]
    return value


def check_sources_early(argv: list[str]) -> None:
    """Before the seconds of importing torch and transformers: a model or tokenizer name that points
    to no folder, or to the Hub while it cannot be reached and the name is not cached, fails now."""
    model = flag_value(argv, "--model_name_or_path")
    for name in {model, flag_value(argv, "--tokenizer_name") or model} - {None}:
        check_source(name, cache_dir=flag_value(argv, "--cache_dir"))


def _run(task_class: type[Task], argv: list[str]) -> None:
    # imported here, not at the top: --help and the flag checks answer without torch and the Trainer
    from linkbert.finetune.padding_free import input_pad_multiple, make_padding_free
    from linkbert.finetune.trainer import TaskTrainer

    model_args, data_args, training_args = parse_args(task_class.data_args_class, argv)
    setup_logging(training_args)
    task = task_class(data_args)

    # 1. Validate every input before touching output_dir or loading anything heavy.
    paths = split_paths(data_args, training_args, task.always_needed)
    if any(name not in paths for name in task.always_needed):
        # no train file and no training: the label set comes from the fine-tuned checkpoint
        task.labels_from_checkpoint(load_config(model_args), model_args.model_name_or_path)
    for name, path in paths.items():
        count = check_file(path, partial(task.check_record, name), limit=getattr(data_args, SPLITS[name][2]))
        task.finish_check(name)
        logger.info("%s: %d examples in %s", name, count, path)
        if not task.labelled(name):
            logger.warning("%s: %s has no labels: writing predictions only, no metrics", name, path)

    # 2. Only now look at output_dir: resume (with the same settings only), refuse, or start fresh.
    settings = run_settings(model_args, data_args, training_args)
    if training_args.should_save:
        check_output_dir(training_args.output_dir)
    checkpoint = None
    if training_args.do_train:
        explicit = training_args.resume_from_checkpoint
        checkpoint = resolve_checkpoint(training_args.output_dir, explicit, training_args.overwrite_output_dir)
        if training_args.process_index == 0:
            clean_staging(training_args.output_dir)
        if checkpoint is not None:
            check_resume(checkpoint, checkpoint_step(checkpoint), settings, explicit=bool(explicit))
    from transformers import set_seed

    set_seed(training_args.seed)
    configure_speed(data_args, training_args)

    # 3. Tokenizer checks, then model, features, trainer.
    tokenizer = load_tokenizer(model_args)
    for name, path in paths.items():
        task.check_with_tokenizer(name, path, tokenizer)
    config = load_config(model_args, **task.config_overrides())
    check_tokenizer_fits(tokenizer, config, model_args.tokenizer_name or model_args.model_name_or_path)
    if model_args.padding_free_by_default:
        # a default, not a request: packing is implemented for BERT encoders, others keep the padded forward
        model_args.padding_free = model_args.padding_free and config.model_type == "bert" and not config.is_decoder
        if model_args.padding_free:
            logger.info("padding-free encoder: on by default (--no_padding_free runs the original padded encoder)")
    # tokenized before the model is loaded: worker processes fork a smaller parent
    splits = build_splits(task, paths, tokenizer, data_args, training_args)
    log_settings(training_args, model_args, splits)
    pad_multiple = data_args.pad_to_multiple_of or (8 if training_args.fp16 or training_args.bf16 else None)
    model = load_model(model_args, task.model_class, config)
    if training_args.process_index == 0:
        batch = training_args.per_device_train_batch_size * training_args.gradient_accumulation_steps
        info = run_info(task.name, argv, model_args.model_name_or_path, config, paths, batch * training_args.world_size)
        write_run_info(training_args.output_dir, info)
    if model_args.padding_free:
        pad_multiple = input_pad_multiple(pad_multiple, model_args.padding_free_bucket, task.max_length(tokenizer))
    collator = task.collator(tokenizer, pad_multiple)
    if model_args.padding_free:
        collator = make_padding_free(
            model,
            collator,
            model_args.padding_free_attention,
            model_args.padding_free_bucket,
            device_type=training_args.device.type,
            compiled=training_args.torch_compile,
        )
    trainer = TaskTrainer(
        model=model,
        args=training_args,
        train_dataset=splits["train"].features if training_args.do_train else None,
        eval_dataset=splits["validation"].features if "validation" in splits else None,
        eval_split=splits.get("validation"),
        processing_class=tokenizer,
        data_collator=collator,
        task=task,
        run_settings=settings,
    )

    trained = False
    try:
        if training_args.do_train:
            result = trainer.train(resume_from_checkpoint=checkpoint)
            trained = True
            metrics = dict(result.metrics, train_samples=len(splits["train"].features))
            trainer.log_metrics("train", metrics)
            trainer.save_metrics("train", metrics)
        for name in ("validation", "test"):
            if name in splits and getattr(training_args, SPLITS[name][1]):
                evaluate_and_write(trainer, task, splits[name], name)
    finally:
        # The weights last: the results files are small and already written when a full disk stops
        # the (large) model save; and a failure while scoring still keeps the trained model.
        if trained:
            trainer.save_final()


def evaluate_and_write(trainer, task: Task, split: Split, name: str) -> dict:
    """Score one split and write its results file and predictions (on the main process)."""
    from linkbert.finetune.trainer import FILE_PREFIX, write_predictions

    prefix = METRIC_PREFIX[name]
    file_prefix = FILE_PREFIX[prefix]
    logger.info("*** %s on %s ***", "Evaluate" if name == "validation" else "Predict", split.path)
    metrics, decoded = trainer.evaluate_split(split) if name == "validation" else trainer.predict_split(split, prefix)
    metrics[f"{file_prefix}_samples"] = task.sample_count(split)
    trainer.log_metrics(file_prefix, metrics)
    trainer.save_metrics(file_prefix, metrics)
    if trainer.is_world_process_zero():
        write_predictions(Path(trainer.args.output_dir), file_prefix, decoded)
    return metrics


def build_splits(task: Task, paths: dict[str, Path], tokenizer, data_args, training_args) -> dict[str, Split]:
    """Load each validated split and tokenize it with the task (batched, in
    --preprocessing_num_workers processes, cached by datasets' fingerprinting)."""
    from datasets.fingerprint import Hasher

    # The cache key of a tokenized split, taken before any tokenization: the tokenizer's own state
    # changes once it has truncated (so hashing it later would miss the cache whenever train came
    # from it), and datasets hashes a bound method by reference (so a new version of featurize
    # would reuse stale features) - hence the source of the whole package is part of the key.
    code_and_settings = Hasher.hash([Hasher.hash(task), Hasher.hash(tokenizer), package_source_hash()])
    splits = {}
    for name, path in paths.items():
        if not getattr(training_args, SPLITS[name][1]):
            continue  # read only for its labels (sequence classification and NER without --do_train)
        # the main process builds the Arrow caches first; the others then read them
        with training_args.main_process_first(desc=f"loading and tokenizing {name}"):
            examples = load_examples(path, limit=getattr(data_args, SPLITS[name][2]))
            features = examples.map(
                partial(task.featurize, tokenizer=tokenizer, split=name),
                batched=True,
                new_fingerprint=Hasher.hash([examples._fingerprint, name, code_and_settings]),
                num_proc=tokenizing_processes(data_args.preprocessing_num_workers, len(examples)),
                remove_columns=examples.column_names,
                load_from_cache_file=not data_args.overwrite_cache,
                desc=f"Tokenizing {name}",
            )
        splits[name] = Split(name, path, examples, features, labelled=task.labelled(name))
    return splits


# Each tokenizing process is a fork of this one (hundreds of MB with torch loaded): the MRQA recipes'
# 10 workers took 3.6 GB on a 160-example demo split. A process per this many examples at most.
EXAMPLES_PER_PROCESS = 2000


def tokenizing_processes(requested: int | None, examples: int) -> int | None:
    """--preprocessing_num_workers, but no more processes than the split has slices of
    EXAMPLES_PER_PROCESS examples (the tokenized features are the same either way)."""
    if requested is None:
        return None
    useful = max(1, -(-examples // EXAMPLES_PER_PROCESS))
    return min(requested, useful) if min(requested, useful) > 1 else None


@functools.cache
def package_source_hash() -> str:
    """A digest of every module of the linkbert package, as this run imports them."""
    root = Path(__file__).resolve().parents[1]  # the whole linkbert package
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def run_settings(model_args, data_args, training_args) -> dict:
    """The settings that shape training, saved with every checkpoint: a resume with any of them
    changed would continue one run with another's optimizer state and data position."""

    def plain(value):  # enums (scheduler, optimizer) as their names
        return getattr(value, "value", value)

    names = (
        "learning_rate",
        "num_train_epochs",
        "max_steps",
        "per_device_train_batch_size",
        "gradient_accumulation_steps",
        "world_size",
        "seed",
        "weight_decay",
        "warmup_steps",
        "lr_scheduler_type",
        "optim",
        "max_grad_norm",
    )
    settings = {name: plain(getattr(training_args, name)) for name in names}
    settings.update(
        model_name_or_path=local_identity(model_args.model_name_or_path),
        train_file=file_identity(data_args.train_file),
        max_seq_length=data_args.max_seq_length,
        max_train_samples=data_args.max_train_samples,
    )
    return settings


def configure_speed(data_args, training_args) -> None:
    """With dynamic padding every batch can have a new length; PyTorch's cuDNN attention backend
    builds a plan per new shape (measured at 100-140 ms each on H100, which made naive dynamic padding
    2x slower than padding to 512), so it is turned off and SDPA uses the flash / memory-efficient
    kernels, which have no such cost. Pinned host memory only helps copies to a GPU."""
    import torch

    if torch.cuda.is_available() and not data_args.pad_to_max_length:
        torch.backends.cuda.enable_cudnn_sdp(False)
    if not torch.cuda.is_available():
        training_args.dataloader_pin_memory = False


def log_settings(training_args, model_args, splits: dict) -> None:
    """The resolved settings of the run, in a few lines at the start."""
    sizes = ", ".join(
        f"{name} {len(split.examples)} examples ({len(split.features)} inputs)" for name, split in splits.items()
    )
    world = training_args.world_size
    batch = training_args.per_device_train_batch_size * training_args.gradient_accumulation_steps * world
    length = (
        f"{training_args.max_steps} steps"
        if training_args.max_steps > 0
        else f"{training_args.num_train_epochs:g} epochs"
    )
    precision = "bf16" if training_args.bf16 else "fp16" if training_args.fp16 else "fp32"
    logger.info("model %s -> %s", model_args.model_name_or_path, training_args.output_dir)
    logger.info("data: %s", sizes)
    if training_args.do_train:
        logger.info(
            "training: %s, effective batch %d = %d per device x %d accumulation x %d process(es), "
            "learning rate %g, %s, seed %d",
            length,
            batch,
            training_args.per_device_train_batch_size,
            training_args.gradient_accumulation_steps,
            world,
            training_args.learning_rate,
            precision,
            training_args.seed,
        )


def setup_logging(training_args) -> None:
    """At the default log level the main process shows this project's INFO lines (the resolved
    settings, the loaded model, the results) and transformers' warnings; no download, loading, saving
    or tokenizing progress bars, only the Trainer's own. --log_level sets both."""
    import datasets
    import transformers

    passive = training_args.log_level == "passive" and training_args.process_index == 0
    level = logging.INFO if passive else training_args.get_process_log_level()
    configure_logging(level)
    transformers.utils.logging.set_verbosity(logging.WARNING if passive else level)
    transformers.utils.logging.disable_progress_bar()
    datasets.utils.logging.set_verbosity_warning()
    datasets.disable_progress_bars()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
