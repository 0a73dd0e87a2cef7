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
import re
import sys
from pathlib import Path

from linkbert.errors import UsageError
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
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def checkpoint_steps(output_dir: Path) -> list[int]:
    """The steps N of the `checkpoint-N` folders in output_dir, ascending."""
    if not output_dir.is_dir():
        return []
    return sorted(int(m.group(1)) for p in output_dir.iterdir() if p.is_dir() and (m := _CHECKPOINT.match(p.name)))


def latest_checkpoint(output_dir: Path) -> Path | None:
    steps = checkpoint_steps(output_dir)
    return output_dir / f"checkpoint-{max(steps)}" if steps else None


def resolve_checkpoint(output_dir: str | Path, explicit: str | None, overwrite: bool) -> str | None:
    """Where a training run starts: an explicit --resume_from_checkpoint wins ('last' = the newest
    checkpoint in output_dir); otherwise a run into an output_dir with checkpoints resumes the newest,
    one into a non-empty output_dir without checkpoints stops unless --overwrite_output_dir."""
    output_dir = Path(output_dir)
    last = latest_checkpoint(output_dir)
    if explicit == "last":
        if last is None:
            raise UsageError(f"--resume_from_checkpoint last: no checkpoint-STEP directory in {output_dir}")
        return str(last)
    if explicit:
        if not Path(explicit).is_dir():
            raise UsageError(f"checkpoint directory not found: {explicit}")
        return explicit
    if overwrite or not output_dir.is_dir():
        return None
    if last is not None:
        return str(last)
    if any(output_dir.iterdir()):
        raise UsageError(
            f"output directory {output_dir} already holds files and no checkpoint: pass --overwrite_output_dir to "
            "train into it anyway"
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
    with atomic_output(Path(directory) / SETTINGS_FILE) as handle:
        json.dump(settings, handle, indent=2, sort_keys=True)
        handle.write("\n")


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
