"""run_info.json: what produced a run's numbers, written into every run's output folder.

The checkpoint (as given, resolved to a folder when local) with the sha256 of its config.json and
the shape that identifies it (model type, vocabulary, hidden size, layers); every data file with its
sha256; the project's version (the git commit of this checkout, and whether it had uncommitted
changes); the versions of Python and the libraries that compute the numbers; the full command line;
the effective batch; which task (entry script) ran. `scripts/make_tables.py` reads it to label each
result by the checkpoint that was really used and to mark results that cannot be compared with the
paper's; `scripts/ensemble.py` to rebuild a run's task.
"""

from __future__ import annotations

import hashlib
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from linkbert.runs import write_json

RUN_INFO = "run_info.json"
LIBRARIES = ("linkbert", "torch", "transformers", "datasets", "accelerate", "tokenizers", "numpy")
REPO = Path(__file__).resolve().parents[2]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checkpoint_shape(config) -> dict:
    """The fields that tell one BERT checkpoint family from another (LinkBERT-base: bert, 28,996
    tokens, hidden 768, 12 layers; BioLinkBERT-large: bert, 28,895 tokens, 1024, 24)."""
    return {
        name: getattr(config, name, None) for name in ("model_type", "vocab_size", "hidden_size", "num_hidden_layers")
    }


def code_version() -> dict:
    """The git commit of this checkout and whether it had uncommitted changes, when it is one."""
    if not (REPO / ".git").exists():
        return {"commit": None}
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
        status = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return {"commit": None}
    return {"commit": commit.stdout.strip() or None, "uncommitted_changes": bool(status.stdout.strip())}


def library_versions() -> dict:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _config_file(name: str) -> Path | None:
    if Path(name).is_dir():
        return Path(name) / "config.json"
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(name, "config.json")
    return Path(cached) if isinstance(cached, str) else None


def run_info(
    task: str, argv: list[str], model_name_or_path: str, config, data_files: dict[str, Path], effective_batch: int
) -> dict:
    config_file = _config_file(model_name_or_path)
    local = Path(model_name_or_path).is_dir()
    return {
        "task": task,  # seqcls, tokcls, qa or mc: which entry script ran
        "checkpoint": {
            "name_or_path": str(Path(model_name_or_path).resolve()) if local else model_name_or_path,
            "config_sha256": sha256_of(config_file) if config_file and config_file.is_file() else None,
            "shape": checkpoint_shape(config),
        },
        "data": {
            split: {"path": str(Path(path).resolve()), "sha256": sha256_of(Path(path))}
            for split, path in data_files.items()
        },
        "code": code_version(),
        "libraries": library_versions(),
        "argv": list(argv),  # the entry script's flags
        "effective_batch": effective_batch,
    }


def write_run_info(output_dir: str | Path, info: dict) -> None:
    write_json(Path(output_dir) / RUN_INFO, info)
