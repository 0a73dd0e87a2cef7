"""What fine-tuning and pretraining runs share: where to resume from, the settings saved with every
checkpoint, logging, and taking down the process group.

Resuming follows the original's rule: a training run into an output folder that holds
`checkpoint-N` folders continues from the newest one; one into a folder with other files stops
unless --overwrite_output_dir. That is what a researcher wants after a crash, and what silently
ruins a result when the rerun was meant as a new run with, say, another learning rate. So each
checkpoint carries `run_settings.json` (plain JSON, never a pickle), and a resume is announced at
warning level and stops with one line naming every difference.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sys
from pathlib import Path

from linkbert.errors import OutputError, UsageError, os_error_reason
from linkbert.jsonl import atomic_output

logger = logging.getLogger("linkbert")
SETTINGS_FILE = "run_settings.json"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
LOG_FORMAT = {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s", "datefmt": "%m/%d %H:%M:%S"}


def configure_logging(level: int) -> None:
    """One log format for every entry point, on stdout (so a recipe's log.txt holds it)."""
    logging.basicConfig(**LOG_FORMAT, handlers=[logging.StreamHandler(sys.stdout)])
    logger.setLevel(level)


def close_process_group() -> None:
    """Under torchrun, take the process group down before the interpreter exits, so that no rank's
    communication backend is torn down by garbage collection while its peer is still connected."""
    if "torch" not in sys.modules:
        return  # a run that stopped before importing torch has no process group
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


# Files a run's output folder may hold before the run itself starts: the recipe launcher's log, and
# the staging folder of a checkpoint that was being written when the previous run died.
STAGING = ".staging"
LAUNCHER_FILES = ("log.txt",)
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)


def checkpoint_steps(output_dir: Path) -> list[int]:
    """The steps N of the `checkpoint-N` folders in output_dir, ascending (complete or not)."""
    if not output_dir.is_dir():
        return []
    return sorted(int(m.group(1)) for p in output_dir.iterdir() if p.is_dir() and (m := _CHECKPOINT.match(p.name)))


def is_complete(checkpoint: Path) -> bool:
    """A checkpoint that can be resumed: its trainer_state.json names its step and its weights are
    there. Checkpoints are published by renaming a finished folder (publish_checkpoint), so an
    incomplete one comes from an older version, another tool, or a disk that lost files."""
    if not any((checkpoint / name).is_file() and (checkpoint / name).stat().st_size > 0 for name in WEIGHT_FILES):
        return False
    return checkpoint_step(checkpoint) is not None


def latest_checkpoint(output_dir: Path) -> Path | None:
    """The newest complete checkpoint-N of output_dir; newer incomplete ones are named in one log line."""
    skipped = []
    for step in reversed(checkpoint_steps(output_dir)):
        candidate = output_dir / f"checkpoint-{step}"
        if is_complete(candidate):
            if skipped:
                logger.warning(
                    "skipping incomplete checkpoints (no weights or no trainer_state.json): %s", ", ".join(skipped)
                )
            return candidate
        skipped.append(candidate.name)
    if skipped:
        logger.warning("skipping incomplete checkpoints (no weights or no trainer_state.json): %s", ", ".join(skipped))
    return None


def staging_dir(output_dir: str | Path) -> Path:
    """Where checkpoints are written before they are published under their final name."""
    return Path(output_dir) / STAGING


def clean_staging(output_dir: str | Path) -> None:
    """Remove what a run killed mid-checkpoint left in the staging folder."""
    staging = staging_dir(output_dir)
    if staging.is_dir():
        leftovers = sorted(p.name for p in staging.iterdir())
        shutil.rmtree(staging, ignore_errors=True)
        if leftovers:
            logger.warning("removed unfinished checkpoint writes of an interrupted run: %s", ", ".join(leftovers))


def user_file_mode() -> int:
    """The permissions a new file gets from the user's umask (libraries that write through a
    private temporary file, safetensors for one, leave their outputs 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _give_user_permissions(folder: Path) -> None:
    mode = user_file_mode()
    for path in folder.rglob("*"):
        if path.is_file():
            path.chmod(mode)


def publish_files(folder: Path, output_dir: str | Path) -> None:
    """Move each file of a finished staging `folder` into output_dir (one rename each, with the
    user's usual permissions), then remove the emptied staging folders."""
    _give_user_permissions(folder)
    for item in folder.iterdir():
        os.replace(item, Path(output_dir) / item.name)
    folder.rmdir()
    try:
        staging_dir(output_dir).rmdir()
    except OSError:
        pass  # not empty: a checkpoint is being staged


def write_json(path: Path, content: dict, indent: int = 2, sort_keys: bool = False) -> None:
    """A JSON file written atomically (linkbert.jsonl.atomic_output)."""
    with atomic_output(path) as handle:
        json.dump(content, handle, indent=indent, sort_keys=sort_keys)
        handle.write("\n")


def publish_checkpoint(output_dir: str | Path, name: str) -> Path:
    """Move a finished checkpoint from the staging folder to output_dir/name (replacing an older
    folder of that name): one rename, so a checkpoint is never visible half-written."""
    final = Path(output_dir) / name
    if final.exists():
        shutil.rmtree(final)
    _give_user_permissions(staging_dir(output_dir) / name)
    os.replace(staging_dir(output_dir) / name, final)
    try:
        staging_dir(output_dir).rmdir()
    except OSError:
        pass  # not empty: another checkpoint is being staged
    return final


def check_output_dir(path: str | Path) -> None:
    """Stop before anything runs when output_dir cannot be written: a file stands at its path (or at a
    parent's), or the nearest existing folder refuses a new file (read-only, no permission, full).
    Nothing is created: the probe file is removed at once."""
    path = Path(path)
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        where = "" if existing == path else f" (its parent {existing} is a file)"
        raise OutputError(path, f"is not a folder{where}; --output_dir must name a folder")
    probe = existing / f".linkbert-write-test-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise OutputError(path, f"cannot write in {existing}: {os_error_reason(err)}") from None


def resolve_checkpoint(output_dir: str | Path, explicit: str | None, overwrite: bool) -> str | None:
    """Where a training run starts: an explicit --resume_from_checkpoint wins ('last' = the newest
    complete checkpoint in output_dir); otherwise a run into an output_dir with complete checkpoints
    resumes the newest, one into an output_dir holding other files stops unless
    --overwrite_output_dir (the recipe launcher's log.txt and unfinished checkpoint writes do not
    count: `RESUME=1` works on a fresh folder and after a crash)."""
    output_dir = Path(output_dir)
    if explicit and explicit != "last":
        if not Path(explicit).is_dir():
            raise UsageError(f"--resume_from_checkpoint {explicit}: checkpoint directory not found")
        if not is_complete(Path(explicit)):
            raise UsageError(
                f"--resume_from_checkpoint {explicit}: incomplete checkpoint (no weights or no trainer_state.json)"
            )
        return explicit
    if overwrite and not explicit:
        return None
    last = latest_checkpoint(output_dir)
    if explicit == "last":
        if last is None:
            raise UsageError(f"--resume_from_checkpoint last: no complete checkpoint-STEP directory in {output_dir}")
        return str(last)
    if last is not None:
        return str(last)
    ignored = {*LAUNCHER_FILES, STAGING}
    others = sorted(p.name for p in output_dir.iterdir() if p.name not in ignored) if output_dir.is_dir() else []
    if others:
        raise UsageError(
            f"output directory {output_dir} already holds files ({', '.join(others[:3])}) and no complete checkpoint: "
            "pass --overwrite_output_dir to train into it anyway"
        )
    return None


def local_identity(name_or_path: str | None) -> str | None:
    """A path as an absolute path when it exists here (so a rerun from another folder compares
    equal), else unchanged (a Hub id)."""
    if name_or_path is None:
        return None
    path = Path(name_or_path)
    return str(path.resolve()) if path.exists() else name_or_path


def file_identity(path: str | None) -> dict | None:
    """A data file as its absolute path and size: a file regenerated with other content under the
    same name usually changes size (hashing a multi-GB training file at every start would not pay)."""
    if path is None:
        return None
    resolved = Path(path).resolve()
    return {"path": str(resolved), "bytes": resolved.stat().st_size if resolved.is_file() else None}


def save_settings(directory: Path, settings: dict) -> None:
    write_json(Path(directory) / SETTINGS_FILE, settings, sort_keys=True)


def differences(saved: dict, current: dict) -> list[str]:
    """'name: saved -> current' for every setting that differs, in a stable order."""
    return [
        f"{name}: {json.dumps(saved.get(name))} -> {json.dumps(current.get(name))}"
        for name in sorted(set(saved) | set(current))
        if saved.get(name) != current.get(name)
    ]


def check_resume(checkpoint: str | Path, step: int | None, settings: dict, explicit: bool = False) -> None:
    """Announce the resume; stop if `checkpoint` was written by a run with other settings, unless
    the user named the checkpoint (`explicit`: --resume_from_checkpoint), which is taken as meaning
    it (continuing a run for more steps, say); the differences are then logged."""
    checkpoint = Path(checkpoint)
    logger.warning(
        "Resuming from %s (step %s); pass --overwrite_output_dir to start over instead",
        checkpoint,
        "?" if step is None else step,
    )
    saved_file = checkpoint / SETTINGS_FILE
    if not saved_file.is_file():
        logger.warning(
            "%s has no %s (written by an older version): its settings cannot be compared with this run's",
            checkpoint,
            SETTINGS_FILE,
        )
        return
    try:
        saved = json.loads(saved_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise UsageError(
            f"{saved_file}: unreadable ({err}); pass --overwrite_output_dir to start over or choose a new --output_dir"
        ) from None
    changed = differences(saved, settings)
    if changed and explicit:
        logger.warning(
            "continuing %s with changed settings, as --resume_from_checkpoint asks: %s", checkpoint, "; ".join(changed)
        )
    elif changed:
        raise UsageError(
            f"{checkpoint} was written by a run with other settings ({'; '.join(changed)}): resuming would mix two "
            "runs; "
            "pass --overwrite_output_dir to start over or choose a new --output_dir"
        )


def checkpoint_step(checkpoint: str | Path) -> int | None:
    """The global step recorded in a checkpoint's trainer_state.json, if readable."""
    try:
        return int(json.loads((Path(checkpoint) / "trainer_state.json").read_text(encoding="utf-8"))["global_step"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
