"""Pretraining checkpoints: `checkpoint-STEP` folders that resume a run exactly, and the final BERT
checkpoint.

A checkpoint holds the model, tokenizer, optimizer (and loss scaler), trainer_state.json, the run's
settings (`linkbert.runs`) and, per process, the data position and RNG state, so a resumed run
draws the same batches, masks and dropout as an uninterrupted one. It is written under a temporary
name and renamed once complete. Where to resume from is decided by `linkbert.runs.resolve_checkpoint`,
the same rule as fine-tuning.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import torch

from linkbert.jsonl import atomic_output
from linkbert.pretrain.args import PretrainArguments
from linkbert.pretrain.distributed import Dist, barrier
from linkbert.runs import checkpoint_steps, local_identity, publish_checkpoint, save_settings, staging_dir, write_json

logger = logging.getLogger("linkbert.pretrain")
LOG_FILE = "pretrain_log.jsonl"


def run_settings(args: PretrainArguments, manifest: dict, world_size: int) -> dict:
    """The settings that shape pretraining, saved with every checkpoint (see linkbert.runs)."""
    names = (
        "learning_rate",
        "max_steps",
        "per_device_train_batch_size",
        "gradient_accumulation_steps",
        "seed",
        "warmup_steps",
        "weight_decay",
        "adam_beta1",
        "adam_beta2",
        "adam_epsilon",
        "max_grad_norm",
        "mlm_probability",
        "streaming",
    )
    settings = {name: getattr(args, name) for name in names}
    settings.update(
        world_size=world_size,
        model_name_or_path=local_identity(args.model_name_or_path),
        config_name=local_identity(args.config_name),
        tokenizer_name=local_identity(args.tokenizer_name),
        train_dir={"path": local_identity(args.train_dir), "num_pairs": manifest.get("num_pairs")},
    )
    return settings


def save_checkpoint(
    output_dir: Path,
    step: int,
    model,
    tokenizer,
    optimizer,
    scaler,
    stream,
    env: Dist,
    args: PretrainArguments,
    settings: dict,
) -> None:
    """checkpoint-STEP, written in the staging folder by all ranks and published by rank 0 (the same
    rule as fine-tuning: linkbert.runs.publish_checkpoint)."""
    name = f"checkpoint-{step}"
    tmp = staging_dir(output_dir) / name
    if env.main:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        model.save_pretrained(tmp)
        save_tokenizer(tokenizer, tmp)
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        if scaler is not None:
            torch.save(scaler.state_dict(), tmp / "scaler.pt")
        write_json(
            tmp / "trainer_state.json",
            {
                "global_step": step,
                "max_steps": args.max_steps,
                "epoch": stream.epochs_done(),
                "world_size": env.world_size,
            },
        )
        save_settings(tmp, settings)
    barrier(env)
    torch.save(rank_state(stream), tmp / f"rng_state_{env.rank}.pth")
    barrier(env)
    if env.main:
        publish_checkpoint(output_dir, name)
        rotate_checkpoints(output_dir, args.save_total_limit)
    barrier(env)


def rank_state(stream) -> dict:
    """This rank's data position (of the micro-batches trained on, not those prefetched) and RNG
    states. Masks need no RNG state: each micro-batch's are seeded by its position in the stream."""
    state = {"stream": stream.state(), "torch_rng": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda_rng"] = torch.cuda.get_rng_state()
    return state


def load_checkpoint(path: str, optimizer, scaler, stream, env: Dist) -> int:
    """Restore the optimizer, and this rank's data position and RNGs; return the step reached.
    The model weights were already loaded from the same directory."""
    path = Path(path)
    state = json.loads((path / "trainer_state.json").read_text(encoding="utf-8"))
    if state.get("world_size", env.world_size) != env.world_size:
        logger.warning(
            "checkpoint written with %s processes, resumed with %s: data order will differ",
            state.get("world_size"),
            env.world_size,
        )
    optimizer.load_state_dict(torch.load(path / "optimizer.pt", map_location=env.device, weights_only=True))
    if scaler is not None and (path / "scaler.pt").is_file():
        scaler.load_state_dict(torch.load(path / "scaler.pt", weights_only=True))
    rank_file = path / f"rng_state_{env.rank}.pth"
    if rank_file.is_file():
        ranks = torch.load(rank_file, weights_only=True)
        stream.restore(ranks["stream"])
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


def trim_log(output_dir: Path, step: int) -> None:
    """Drop log lines past `step` (the checkpoint resumed from, or 0): they are about to be redone."""
    path = output_dir / LOG_FILE
    if path.is_file():
        lines = [
            line
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and json.loads(line)["step"] <= step
        ]
        with atomic_output(path) as handle:
            handle.write("".join(line + "\n" for line in lines))
