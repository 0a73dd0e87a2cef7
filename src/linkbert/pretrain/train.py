"""The LinkBERT pretraining loop: MLM + document relation prediction, single process or DDP.

A plain loop in the manner of nanoGPT rather than the HF Trainer, because the things pretraining
needs are the things the Trainer hides: per-pair-type DRP accuracy in the log, a data stream that
resumes mid-epoch on every rank, and the learning rate as a plain function of the step. Launch
commands are in src/pretrain/run_pretrain.py.

Per optimizer step each process runs `gradient_accumulation_steps` micro-batches of
`per_device_train_batch_size` instances (DDP synchronises gradients on the last one only), clips
the gradient norm, sets the learning rate for the step and steps AdamW. Every `logging_steps` the
MLM loss, DRP loss and DRP accuracy per pair type, summed over processes, go to stdout and to
output_dir/pretrain_log.jsonl. Every `save_steps` a checkpoint-STEP directory is written (model,
tokenizer, optimizer, trainer_state.json and, per process, the data position and RNG states); at the
end output_dir itself holds a standard BERT checkpoint plus train_results.json.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

from linkbert.errors import LinkBertError, UsageError, report_errors
from linkbert.loading import check_tokenizer_fits, load_fast_tokenizer, load_pretrained
from linkbert.pretrain.args import (
    PretrainArguments,
    learning_rate_at,
    parse_args,
    warmup_steps,
)
from linkbert.pretrain.checkpoints import (
    LOG_FILE,
    load_checkpoint,
    run_settings,
    save_checkpoint,
    save_final,
    trim_log,
)
from linkbert.pretrain.collator import PretrainCollator
from linkbert.pretrain.distributed import Dist, barrier, setup_distributed
from linkbert.pretrain.meter import Meter, flops_per_token
from linkbert.pretrain.model import LinkBertForPreTraining, from_config
from linkbert.pretrain.pairs import PAIR_TYPES
from linkbert.pretrain.shards import read_manifest, shard_paths, vocab_sha256
from linkbert.pretrain.stream import BatchLoader, MappedStream, StreamingStream, default_workers
from linkbert.runs import (
    check_output_dir,
    check_resume,
    checkpoint_step,
    clean_staging,
    close_process_group,
    configure_logging,
    resolve_checkpoint,
    write_json,
)

logger = logging.getLogger("linkbert.pretrain")


# ---------------------------------------------------------------- loading


def load_tokenizer(args: PretrainArguments):
    """The tokenizer build_pairs used: --tokenizer_name, else the model's."""
    return load_fast_tokenizer(args.tokenizer_name or args.model_name_or_path)


def load_model(args: PretrainArguments, tokenizer, checkpoint: str | None) -> LinkBertForPreTraining:
    """From the checkpoint being resumed, else from a BERT checkpoint, else from a config."""
    from transformers import BertConfig

    source = checkpoint or args.model_name_or_path
    if source:
        model, info = load_pretrained(
            "BERT checkpoint", source, LinkBertForPreTraining.from_pretrained, output_loading_info=True
        )
        logger.info(
            "loaded %s; newly initialised: %s; not used: %s",
            source,
            sorted(info["missing_keys"]),
            sorted(info["unexpected_keys"]),
        )
        return model
    path = Path(args.config_name)
    config = BertConfig.from_json_file(str(path)) if path.is_file() else BertConfig.from_pretrained(args.config_name)
    config.pad_token_id = tokenizer.pad_token_id
    return from_config(config, args.seed)


def check_compatible(manifest: dict, tokenizer, model, train_dir: str) -> None:
    """Shards are token ids: they mean something only with the tokenizer that produced them."""
    if manifest.get("vocab_sha256") != vocab_sha256(tokenizer):
        raise UsageError(
            f"{train_dir} was built with tokenizer {manifest.get('tokenizer')}, whose vocabulary differs from this "
            "run's tokenizer"
        )
    check_tokenizer_fits(tokenizer, model.config, tokenizer.name_or_path)
    if model.config.max_position_embeddings < manifest["settings"]["max_seq_length"]:
        raise UsageError(
            f"instances of {manifest['settings']['max_seq_length']} tokens exceed max_position_embeddings "
            f"{model.config.max_position_embeddings}"
        )


def build_optimizer(model: torch.nn.Module, args: PretrainArguments, device: torch.device) -> torch.optim.AdamW:
    """AdamW; no weight decay on biases and LayerNorm weights, as BERT and the HF Trainer do."""
    decay, no_decay = [], []
    for param in model.parameters():
        if param.requires_grad:
            (no_decay if param.ndim < 2 else decay).append(param)
    groups = [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(
        groups,
        lr=args.learning_rate,
        betas=(args.adam_beta1, args.adam_beta2),
        eps=args.adam_epsilon,
        fused=device.type == "cuda",
    )


def make_stream(args: PretrainArguments, manifest: dict, env: Dist):
    paths = shard_paths(args.train_dir, manifest)
    if args.streaming:
        return StreamingStream(
            paths,
            rank=env.rank,
            world_size=env.world_size,
            seed=args.seed,
            buffer_size=args.shuffle_buffer_size,
            total_rows=manifest["num_pairs"],
        )
    return MappedStream(paths, rank=env.rank, world_size=env.world_size, seed=args.seed)


def make_loader(args: PretrainArguments, manifest: dict, tokenizer, env: Dist) -> BatchLoader:
    """The stream of this rank, batched and masked in `--dataloader_num_workers` worker processes."""
    pad_multiple = args.pad_to_multiple_of or (8 if args.bf16 or args.fp16 else None)
    collator = PretrainCollator.for_tokenizer(
        tokenizer, mlm_probability=args.mlm_probability, pad_to_multiple_of=pad_multiple
    )
    workers = args.dataloader_num_workers
    return BatchLoader(
        make_stream(args, manifest, env),
        collator,
        batch_size=args.per_device_train_batch_size,
        seed=args.seed,
        rank=env.rank,
        num_workers=default_workers(env.device) if workers is None else workers,
        pin_memory=env.device.type == "cuda",
    )


def configure_attention() -> None:
    """Every micro-batch is padded to its own longest instance, so sequence lengths keep changing:
    the same setting as fine-tuning's dynamic padding (cuDNN attention off, see configure_speed)."""
    from types import SimpleNamespace

    from linkbert.finetune.run import configure_speed

    configure_speed(SimpleNamespace(pad_to_max_length=False), SimpleNamespace(dataloader_pin_memory=True))


# ---------------------------------------------------------------- the loop


def autocast(args: PretrainArguments, device: torch.device):
    if args.bf16:
        return torch.autocast(device.type, dtype=torch.bfloat16)
    if args.fp16:
        return torch.autocast(device.type, dtype=torch.float16)
    return contextlib.nullcontext()


def train_step(
    model, batches, optimizer, scaler, meter: Meter, lr: float, args: PretrainArguments, env: Dist
) -> torch.Tensor:
    """One optimizer step over gradient_accumulation_steps micro-batches from `batches.next_batch()`;
    returns the gradient norm as a tensor on the device: reading it (float, .item()) would make the
    host wait for the step to finish, so the loop does that only when it logs."""
    for group in optimizer.param_groups:
        group["lr"] = lr
    for micro in range(args.gradient_accumulation_steps):
        batch = {k: v.to(env.device, non_blocking=True) for k, v in batches.next_batch().items()}
        last = micro == args.gradient_accumulation_steps - 1
        sync = contextlib.nullcontext() if last or env.world_size == 1 else model.no_sync()
        with sync:
            with autocast(args, env.device):
                output = model(**batch)
            loss = output.loss / args.gradient_accumulation_steps
            (scaler.scale(loss) if scaler else loss).backward()
        meter.add(output, batch)
    if scaler:
        scaler.unscale_(optimizer)
    norm = torch.nn.utils.clip_grad_norm_(
        model.parameters(), args.max_grad_norm if args.max_grad_norm > 0 else float("inf")
    )
    if scaler:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return norm.detach()


class NormCheck:
    """Whether every gradient norm since the last check was finite, kept on the device. Without loss
    scaling a non-finite norm means the weights are now NaN or inf: the run stops at the next check,
    before any checkpoint is written from such weights (fp16's GradScaler skips those steps itself)."""

    def __init__(self, device: torch.device, step: int, check: bool):
        self.finite = torch.ones((), dtype=torch.bool, device=device)
        self.since, self.enabled = step, check

    def add(self, norm: torch.Tensor) -> None:
        if self.enabled:
            self.finite &= torch.isfinite(norm)

    def check(self, step: int) -> None:
        if self.enabled and not bool(self.finite):
            raise LinkBertError(
                f"steps {self.since + 1}-{step}: the gradient norm was not finite; lower --learning_rate or check "
                "the data"
            )
        self.since = step


def log_step(
    output_dir: Path,
    step: int,
    lr: float,
    norm: float,
    meter: Meter,
    loader: BatchLoader,
    config,
    args: PretrainArguments,
    env: Dist,
) -> dict:
    record = {"step": step, "epoch": round(loader.epochs_done(), 4), "learning_rate": lr, "grad_norm": norm}
    record.update(meter.result(env))
    tflops = flops_per_token(config, record["mean_length"]) * record["tokens_per_second"] / 1e12
    record["tflops"] = tflops
    if args.peak_tflops:
        record["mfu"] = tflops / args.peak_tflops
    meter.reset()
    if env.main:
        accuracy = " ".join(f"{name[:4]} {_fmt(record[f'drp_accuracy_{name}'])}" for name in PAIR_TYPES)
        logger.info(
            "step %d | loss %.4f (mlm %.4f, drp %.4f) | drp acc %.3f (%s) | lr %.2e | %.0f tok/s%s",
            step,
            record["loss"],
            record["mlm_loss"],
            record["drp_loss"],
            record["drp_accuracy"],
            accuracy,
            lr,
            record["tokens_per_second"],
            f" | mfu {record['mfu']:.1%}" if "mfu" in record else "",
        )
        with open(output_dir / LOG_FILE, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
    return record


def _fmt(value: float | None) -> str:
    return "  - " if value is None else f"{value:.3f}"


def train(args: PretrainArguments) -> dict:
    env = setup_distributed()
    output_dir = Path(args.output_dir)
    manifest = read_manifest(args.train_dir)
    settings = run_settings(args, manifest, env.world_size)
    if env.main:
        check_output_dir(output_dir)
    checkpoint = resolve_checkpoint(output_dir, args.resume_from_checkpoint, args.overwrite_output_dir)
    if env.main:
        clean_staging(output_dir)
    if checkpoint is not None:
        check_resume(checkpoint, checkpoint_step(checkpoint), settings, explicit=bool(args.resume_from_checkpoint))
    tokenizer = load_tokenizer(args)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(args.seed)  # heads missing from the checkpoint (DRP) start the same every run
        model = load_model(args, tokenizer, checkpoint)
    check_compatible(manifest, tokenizer, model, args.train_dir)
    if env.main:
        output_dir.mkdir(parents=True, exist_ok=True)
    barrier(env)

    torch.manual_seed(args.seed + env.rank)  # dropout: different per rank, saved in checkpoints
    model.to(env.device)
    optimizer = build_optimizer(model, args, env.device)
    scaler = torch.amp.GradScaler("cuda") if args.fp16 else None
    loader = make_loader(args, manifest, tokenizer, env)
    configure_attention()

    step = load_checkpoint(checkpoint, optimizer, scaler, loader, env) if checkpoint else 0
    if env.main:
        trim_log(output_dir, step)  # a fresh start (step 0, --overwrite_output_dir) empties an old log
    wrapped = model
    if env.world_size > 1:
        wrapped = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[env.local_rank] if env.device.type == "cuda" else None
        )
    if args.torch_compile:
        wrapped = torch.compile(wrapped)
    global_batch = args.per_device_train_batch_size * args.gradient_accumulation_steps * env.world_size
    if env.main:
        logger.info(
            "%d instances (%s); global batch %d = %d per device x %d accumulation x %d processes; steps %d -> %d on %s",
            manifest["num_pairs"],
            manifest["pair_counts"],
            global_batch,
            args.per_device_train_batch_size,
            args.gradient_accumulation_steps,
            env.world_size,
            step,
            args.max_steps,
            env.device,
        )
    try:
        return run_loop(wrapped, model, tokenizer, loader, optimizer, scaler, step, args, env, output_dir, settings)
    finally:
        loader.close()


def run_loop(wrapped, model, tokenizer, loader, optimizer, scaler, step, args, env, output_dir, settings) -> dict:
    start_step, started = step, time.time()
    wrapped.train()
    meter = Meter(env.device)
    norms = NormCheck(env.device, step, check=scaler is None)
    last = {}
    while step < args.max_steps:
        lr = learning_rate_at(step, args.learning_rate, warmup_steps(args), args.max_steps)
        norm = train_step(wrapped, loader, optimizer, scaler, meter, lr, args, env)
        step += 1
        norms.add(norm)
        logging_step = step % args.logging_steps == 0 or step == args.max_steps
        saving_step = step % args.save_steps == 0 and step < args.max_steps
        if logging_step or saving_step:
            norms.check(step)  # one host read per logged or saved step, not per step
        if logging_step:
            last = log_step(output_dir, step, lr, norm.item(), meter, loader, model.config, args, env)
        if saving_step:
            save_checkpoint(output_dir, step, model, tokenizer, optimizer, scaler, loader, env, args, settings)
    save_checkpoint(output_dir, step, model, tokenizer, optimizer, scaler, loader, env, args, settings)
    runtime = time.time() - started
    results = {"global_step": step, "train_runtime": runtime, "steps_this_run": step - start_step}
    results.update({k: v for k, v in last.items() if k.startswith(("mlm_", "drp_", "loss"))})
    results["train_samples_per_second"] = (
        (step - start_step)
        * args.per_device_train_batch_size
        * args.gradient_accumulation_steps
        * env.world_size
        / max(runtime, 1e-9)
    )
    if env.main:
        save_final(output_dir, model, tokenizer)
        write_json(output_dir / "train_results.json", results)
        write_json(output_dir / "all_results.json", results)
        write_json(output_dir / "pretrain_args.json", asdict(args))
    barrier(env)
    return results


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    configure_logging(logging.INFO if int(os.environ.get("RANK", "0")) == 0 else logging.WARNING)

    def body() -> None:
        results = train(parse_args(argv))
        logger.info("done: %s", {k: results[k] for k in ("global_step", "train_runtime")})

    try:
        return report_errors(body)
    finally:
        close_process_group()
