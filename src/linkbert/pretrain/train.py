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
import math
import os
import re
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from linkbert.errors import LinkBertError, UsageError
from linkbert.jsonl import atomic_output
from linkbert.pretrain.args import PretrainArguments, learning_rate_at, parse_args, warmup_steps
from linkbert.pretrain.collator import PretrainCollator
from linkbert.pretrain.model import LinkBertForPreTraining, from_config
from linkbert.pretrain.pairs import PAIR_TYPES
from linkbert.pretrain.shards import read_manifest, shard_paths, vocab_sha256
from linkbert.pretrain.stream import MappedStream, StreamingStream
from linkbert.runs import check_resume, checkpoint_step, local_identity, save_settings

logger = logging.getLogger("linkbert.pretrain")
LOG_FILE = "pretrain_log.jsonl"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


@dataclass
class Dist:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_distributed() -> Dist:
    """torchrun sets RANK / LOCAL_RANK / WORLD_SIZE; without them this is one process."""
    if "RANK" not in os.environ:
        return Dist(device=torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    import torch.distributed as dist

    local_rank = int(os.environ["LOCAL_RANK"])
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return Dist(dist.get_rank(), local_rank, dist.get_world_size(), device)


def barrier(env: Dist) -> None:
    if env.world_size > 1:
        torch.distributed.barrier()


# ---------------------------------------------------------------- loading


def load_tokenizer(args: PretrainArguments):
    from transformers import AutoTokenizer

    name = args.tokenizer_name or args.model_name_or_path
    try:
        return AutoTokenizer.from_pretrained(name)
    except (OSError, ValueError) as err:
        raise UsageError(f"could not load the tokenizer {name}: {str(err).splitlines()[0] if str(err) else err}") from None


def load_model(args: PretrainArguments, tokenizer, checkpoint: str | None) -> LinkBertForPreTraining:
    """From the checkpoint being resumed, else from a BERT checkpoint, else from a config."""
    from transformers import BertConfig

    source = checkpoint or args.model_name_or_path
    if source:
        try:
            model, info = LinkBertForPreTraining.from_pretrained(source, output_loading_info=True)
        except (OSError, ValueError) as err:
            raise UsageError(f"could not load a BERT checkpoint from {source}: {str(err).splitlines()[0] if str(err) else err}") from None
        logger.info("loaded %s; newly initialised: %s; not used: %s", source, sorted(info["missing_keys"]), sorted(info["unexpected_keys"]))
        return model
    path = Path(args.config_name)
    config = BertConfig.from_json_file(str(path)) if path.is_file() else BertConfig.from_pretrained(args.config_name)
    config.pad_token_id = tokenizer.pad_token_id
    return from_config(config, args.seed)


def check_compatible(manifest: dict, tokenizer, model, train_dir: str) -> None:
    """Shards are token ids: they mean something only with the tokenizer that produced them."""
    if manifest.get("vocab_sha256") != vocab_sha256(tokenizer):
        raise UsageError(f"{train_dir} was built with tokenizer {manifest.get('tokenizer')}, whose vocabulary differs from this run's tokenizer")
    if model.config.vocab_size < len(tokenizer):
        raise UsageError(f"the model's vocab_size {model.config.vocab_size} is smaller than the tokenizer's {len(tokenizer)}")
    if model.config.max_position_embeddings < manifest["settings"]["max_seq_length"]:
        raise UsageError(f"instances of {manifest['settings']['max_seq_length']} tokens exceed max_position_embeddings {model.config.max_position_embeddings}")


def build_optimizer(model: torch.nn.Module, args: PretrainArguments, device: torch.device) -> torch.optim.AdamW:
    """AdamW; no weight decay on biases and LayerNorm weights, as BERT and the HF Trainer do."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (no_decay if param.ndim < 2 else decay).append(param)
    groups = [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=args.learning_rate, betas=(args.adam_beta1, args.adam_beta2), eps=args.adam_epsilon, fused=device.type == "cuda")


def make_stream(args: PretrainArguments, manifest: dict, env: Dist):
    paths = shard_paths(args.train_dir, manifest)
    if args.streaming:
        return StreamingStream(paths, rank=env.rank, world_size=env.world_size, seed=args.seed, buffer_size=args.shuffle_buffer_size, total_rows=manifest["num_pairs"])
    return MappedStream(paths, rank=env.rank, world_size=env.world_size, seed=args.seed)


# ---------------------------------------------------------------- checkpoints


def resolve_checkpoint(args: PretrainArguments) -> str | None:
    """As the fine-tuning core: an explicit --resume_from_checkpoint wins ('last' = the newest in
    output_dir); otherwise a run into an output_dir with checkpoints resumes the newest, one into a
    non-empty output_dir without checkpoints stops unless --overwrite_output_dir."""
    output_dir = Path(args.output_dir)
    last = latest_checkpoint(output_dir)
    if args.resume_from_checkpoint == "last":
        if last is None:
            raise UsageError(f"--resume_from_checkpoint last: no checkpoint-STEP directory in {output_dir}")
        return str(last)
    if args.resume_from_checkpoint:
        if not Path(args.resume_from_checkpoint).is_dir():
            raise UsageError(f"checkpoint directory not found: {args.resume_from_checkpoint}")
        return args.resume_from_checkpoint
    if args.overwrite_output_dir or not output_dir.is_dir():
        return None
    if last is not None:
        return str(last)
    if any(output_dir.iterdir()):
        raise UsageError(f"output directory {output_dir} already holds files and no checkpoint: pass --overwrite_output_dir to train into it anyway")
    return None


def run_settings(args: PretrainArguments, manifest: dict, world_size: int) -> dict:
    """The settings that shape pretraining, saved with every checkpoint (see linkbert.runs)."""
    names = (
        "learning_rate", "max_steps", "per_device_train_batch_size", "gradient_accumulation_steps", "seed", "warmup_steps",
        "weight_decay", "adam_beta1", "adam_beta2", "adam_epsilon", "max_grad_norm", "mlm_probability", "streaming",
    )  # fmt: skip
    settings = {name: getattr(args, name) for name in names}
    settings.update(
        world_size=world_size,
        model_name_or_path=local_identity(args.model_name_or_path),
        config_name=local_identity(args.config_name),
        tokenizer_name=local_identity(args.tokenizer_name),
        train_dir={"path": local_identity(args.train_dir), "num_pairs": manifest.get("num_pairs")},
    )
    return settings


def latest_checkpoint(output_dir: Path) -> Path | None:
    steps = checkpoint_steps(output_dir)
    return output_dir / f"checkpoint-{max(steps)}" if steps else None


def checkpoint_steps(output_dir: Path) -> list[int]:
    if not output_dir.is_dir():
        return []
    return sorted(int(m.group(1)) for p in output_dir.iterdir() if p.is_dir() and (m := _CHECKPOINT.match(p.name)))


def save_checkpoint(output_dir: Path, step: int, model, tokenizer, optimizer, scaler, stream, collator, env: Dist, args: PretrainArguments, settings: dict) -> None:
    """checkpoint-STEP, written under a temporary name by all ranks and renamed by rank 0."""
    final = output_dir / f"checkpoint-{step}"
    tmp = output_dir / f".checkpoint-{step}.tmp"
    if env.main:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        model.save_pretrained(tmp)
        save_tokenizer(tokenizer, tmp)
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        if scaler is not None:
            torch.save(scaler.state_dict(), tmp / "scaler.pt")
        write_json(tmp / "trainer_state.json", {"global_step": step, "max_steps": args.max_steps, "epoch": stream.epochs_done(), "world_size": env.world_size})
        save_settings(tmp, settings)
    barrier(env)
    torch.save(rank_state(stream, collator), tmp / f"rng_state_{env.rank}.pth")
    barrier(env)
    if env.main:
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        rotate_checkpoints(output_dir, args.save_total_limit)
    barrier(env)


def rank_state(stream, collator) -> dict:
    state = {"stream": stream.state(), "collator_rng": collator.generator.get_state(), "torch_rng": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda_rng"] = torch.cuda.get_rng_state()
    return state


def load_checkpoint(path: str, optimizer, scaler, stream, collator, env: Dist) -> int:
    """Restore the optimizer, and this rank's data position and RNGs; return the step reached.
    The model weights were already loaded from the same directory."""
    path = Path(path)
    state = json.loads((path / "trainer_state.json").read_text(encoding="utf-8"))
    if state.get("world_size", env.world_size) != env.world_size:
        logger.warning("checkpoint written with %s processes, resumed with %s: data order will differ", state.get("world_size"), env.world_size)
    optimizer.load_state_dict(torch.load(path / "optimizer.pt", map_location=env.device, weights_only=True))
    if scaler is not None and (path / "scaler.pt").is_file():
        scaler.load_state_dict(torch.load(path / "scaler.pt", weights_only=True))
    rank_file = path / f"rng_state_{env.rank}.pth"
    if rank_file.is_file():
        ranks = torch.load(rank_file, weights_only=True)
        stream.restore(ranks["stream"])
        collator.generator.set_state(ranks["collator_rng"])
        torch.set_rng_state(ranks["torch_rng"])
        if "cuda_rng" in ranks and torch.cuda.is_available():
            torch.cuda.set_rng_state(ranks["cuda_rng"])
    return int(state["global_step"])


def rotate_checkpoints(output_dir: Path, limit: int | None) -> None:
    if limit is None or limit < 1:
        return
    for step in checkpoint_steps(output_dir)[:-limit]:
        shutil.rmtree(output_dir / f"checkpoint-{step}", ignore_errors=True)


def save_final(output_dir: Path, model, tokenizer) -> None:
    """The standard BERT checkpoint in output_dir itself: written to a temporary directory, then
    each file moved into place, so an interrupted save never leaves a half-written model."""
    tmp = output_dir / ".final.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    save_tokenizer(tokenizer, tmp)
    for item in tmp.iterdir():
        os.replace(item, output_dir / item.name)
    tmp.rmdir()


def save_tokenizer(tokenizer, directory: Path) -> None:
    """tokenizer.save_pretrained, plus BERT's vocab.txt when the source had one: transformers 5
    writes only tokenizer.json, and tools outside transformers still look for vocab.txt."""
    tokenizer.save_pretrained(directory)
    vocab = Path(tokenizer.name_or_path) / "vocab.txt"
    if vocab.is_file() and not (directory / "vocab.txt").exists():
        shutil.copyfile(vocab, directory / "vocab.txt")


def write_json(path: Path, content: dict) -> None:
    with atomic_output(path) as handle:
        json.dump(content, handle, indent=2)
        handle.write("\n")


def trim_log(output_dir: Path, step: int) -> None:
    """Drop log lines past `step` (the checkpoint resumed from, or 0): they are about to be redone."""
    path = output_dir / LOG_FILE
    if path.is_file():
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip() and json.loads(line)["step"] <= step]
        with atomic_output(path) as handle:
            handle.write("".join(line + "\n" for line in lines))


# ---------------------------------------------------------------- metrics


class Meter:
    """Sums over one logging window, reduced over processes: MLM loss, DRP loss, DRP hits and
    counts per pair type, tokens."""

    def __init__(self, device: torch.device):
        self.device = device
        self.reset()

    def reset(self) -> None:
        # [mlm_loss_sum, drp_loss_sum, micro_batches, tokens, sequences, hits x3, counts x3]
        self.sums = torch.zeros(5 + 2 * len(PAIR_TYPES), dtype=torch.float64, device=self.device)
        self.started = time.time()

    def add(self, output, batch: dict) -> None:
        labels = batch["drp_labels"]
        hits = (output.drp_logits.argmax(-1) == labels).double()
        counts = torch.bincount(labels, minlength=len(PAIR_TYPES)).double()
        correct = torch.bincount(labels, weights=hits, minlength=len(PAIR_TYPES))
        tokens = batch["attention_mask"].sum().double()
        one = torch.ones((), dtype=torch.float64, device=self.device)
        head = torch.stack([output.mlm_loss.detach().double(), output.drp_loss.detach().double(), one, tokens, one * len(labels)])
        self.sums += torch.cat([head, correct, counts])

    def result(self, env: Dist) -> dict:
        sums = self.sums.clone()
        if env.world_size > 1:
            torch.distributed.all_reduce(sums)
        mlm, drp, micro, tokens, sequences = sums[:5].tolist()
        k = len(PAIR_TYPES)
        hits, counts = sums[5 : 5 + k].tolist(), sums[5 + k :].tolist()
        seconds = max(time.time() - self.started, 1e-9)
        out = {"mlm_loss": mlm / micro, "drp_loss": drp / micro, "loss": (mlm + drp) / micro, "drp_accuracy": sum(hits) / max(1.0, sum(counts))}
        for name, hit, count in zip(PAIR_TYPES, hits, counts):
            out[f"drp_accuracy_{name}"] = hit / count if count else None
            out[f"drp_count_{name}"] = int(count)
        out["tokens_per_second"] = tokens / seconds
        out["mean_length"] = tokens / max(1.0, sequences)
        return out


def flops_per_token(config, seq_len: float) -> float:
    """Training FLOPs per token, nanoGPT's estimate: 6 x non-embedding parameters plus attention."""
    layers, hidden = config.num_hidden_layers, config.hidden_size
    params = layers * (4 * hidden * hidden + 2 * hidden * config.intermediate_size)
    return 6 * params + 12 * layers * hidden * seq_len


# ---------------------------------------------------------------- the loop


def autocast(args: PretrainArguments, device: torch.device):
    if args.bf16:
        return torch.autocast(device.type, dtype=torch.bfloat16)
    if args.fp16:
        return torch.autocast(device.type, dtype=torch.float16)
    return contextlib.nullcontext()


def train_step(model, stream, collator, optimizer, scaler, meter: Meter, lr: float, args: PretrainArguments, env: Dist) -> float:
    """One optimizer step over gradient_accumulation_steps micro-batches; returns the grad norm."""
    for group in optimizer.param_groups:
        group["lr"] = lr
    for micro in range(args.gradient_accumulation_steps):
        batch = {k: v.to(env.device, non_blocking=True) for k, v in collator(stream.take(args.per_device_train_batch_size)).items()}
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
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm if args.max_grad_norm > 0 else float("inf"))
    if scaler:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return float(norm)


def log_step(output_dir: Path, step: int, lr: float, norm: float, meter: Meter, stream, config, args: PretrainArguments, env: Dist) -> dict:
    record = {"step": step, "epoch": round(stream.epochs_done(), 4), "learning_rate": lr, "grad_norm": norm}
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
            step, record["loss"], record["mlm_loss"], record["drp_loss"], record["drp_accuracy"], accuracy, lr, record["tokens_per_second"],
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
    checkpoint = resolve_checkpoint(args)
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
    stream = make_stream(args, manifest, env)
    pad_multiple = args.pad_to_multiple_of or (8 if args.bf16 or args.fp16 else None)
    generator = torch.Generator().manual_seed(args.seed * 1000 + env.rank)
    collator = PretrainCollator.for_tokenizer(tokenizer, generator, mlm_probability=args.mlm_probability, pad_to_multiple_of=pad_multiple)

    step = load_checkpoint(checkpoint, optimizer, scaler, stream, collator, env) if checkpoint else 0
    if env.main:
        trim_log(output_dir, step)  # a fresh start (step 0, --overwrite_output_dir) empties an old log
    wrapped = model
    if env.world_size > 1:
        wrapped = torch.nn.parallel.DistributedDataParallel(model, device_ids=[env.local_rank] if env.device.type == "cuda" else None)
    if args.torch_compile:
        wrapped = torch.compile(wrapped)
    global_batch = args.per_device_train_batch_size * args.gradient_accumulation_steps * env.world_size
    if env.main:
        logger.info(
            "%d instances (%s); global batch %d = %d per device x %d accumulation x %d processes; steps %d -> %d on %s",
            manifest["num_pairs"], manifest["pair_counts"], global_batch, args.per_device_train_batch_size,
            args.gradient_accumulation_steps, env.world_size, step, args.max_steps, env.device,
        )
    return run_loop(wrapped, model, tokenizer, stream, collator, optimizer, scaler, step, args, env, output_dir, settings)


def run_loop(wrapped, model, tokenizer, stream, collator, optimizer, scaler, step, args, env, output_dir, settings) -> dict:
    start_step, started = step, time.time()
    wrapped.train()
    meter = Meter(env.device)
    last = {}
    while step < args.max_steps:
        lr = learning_rate_at(step, args.learning_rate, warmup_steps(args), args.max_steps)
        norm = train_step(wrapped, stream, collator, optimizer, scaler, meter, lr, args, env)
        step += 1
        if not math.isfinite(norm) and scaler is None:
            raise LinkBertError(f"step {step}: gradient norm is {norm}; lower --learning_rate or check the data")
        if step % args.logging_steps == 0 or step == args.max_steps:
            last = log_step(output_dir, step, lr, norm, meter, stream, model.config, args, env)
        if step % args.save_steps == 0 and step < args.max_steps:
            save_checkpoint(output_dir, step, model, tokenizer, optimizer, scaler, stream, collator, env, args, settings)
    save_checkpoint(output_dir, step, model, tokenizer, optimizer, scaler, stream, collator, env, args, settings)
    runtime = time.time() - started
    results = {"global_step": step, "train_runtime": runtime, "steps_this_run": step - start_step}
    results.update({k: v for k, v in last.items() if k.startswith(("mlm_", "drp_", "loss"))})
    results["train_samples_per_second"] = (step - start_step) * args.per_device_train_batch_size * args.gradient_accumulation_steps * env.world_size / max(runtime, 1e-9)
    if env.main:
        save_final(output_dir, model, tokenizer)
        write_json(output_dir / "train_results.json", results)
        write_json(output_dir / "all_results.json", results)
        write_json(output_dir / "pretrain_args.json", asdict(args))
    barrier(env)
    return results


def setup_logging() -> None:
    rank = int(os.environ.get("RANK", "0"))
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%m/%d %H:%M:%S", handlers=[logging.StreamHandler(sys.stdout)])
    logger.setLevel(logging.INFO if rank == 0 else logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    setup_logging()
    try:
        args = parse_args(argv)
        results = train(args)
    except LinkBertError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    logger.info("done: %s", {k: results[k] for k in ("global_step", "train_runtime")})
    return 0
