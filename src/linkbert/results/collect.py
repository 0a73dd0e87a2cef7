"""Read the test metric of every finished run under `runs/<run_dir>/<model>/predict_results.json`.

A run directory without predict_results.json is unfinished and counts as missing, never as 0. A
results file that is not valid JSON, or lacks the metric, or holds a value that is not a number on the
expected scale, is also missing and yields a warning naming the file. Used by
`linkbert.results.pipeline` (`python scripts/make_tables.py`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from linkbert.results.families import PaperColumn, task_for_run_dir

RESULTS_FILE = "predict_results.json"
RUN_INFO_FILE = "run_info.json"  # written by every fine-tuning run (linkbert.run_info)
OK, UNFINISHED, INVALID = "ok", "unfinished", "invalid"
# The published checkpoints, by the shape run_info.json records (model card configs: LinkBERT uses
# BERT's 28,996-token cased vocabulary, BioLinkBERT its own 28,895 uncased tokens). A run whose
# checkpoint has another shape did not fine-tune the paper's model.
PAPER_CHECKPOINTS = {
    "LinkBERT-base": {"model_type": "bert", "vocab_size": 28996, "hidden_size": 768, "num_hidden_layers": 12},
    "LinkBERT-large": {"model_type": "bert", "vocab_size": 28996, "hidden_size": 1024, "num_hidden_layers": 24},
    "BioLinkBERT-base": {"model_type": "bert", "vocab_size": 28895, "hidden_size": 768, "num_hidden_layers": 12},
    "BioLinkBERT-large": {"model_type": "bert", "vocab_size": 28895, "hidden_size": 1024, "num_hidden_layers": 24},
}


@dataclass(frozen=True)
class RunResult:
    model: str
    task: PaperColumn
    path: Path  # the predict_results.json read (or expected)
    status: str  # OK, UNFINISHED or INVALID
    value: float | None  # on the paper's 0-100 scale; None unless status is OK
    checkpoint: str | None = None  # as recorded in run_info.json; None for runs without one
    not_comparable: str | None = None  # why the paper's number does not apply to this run, if it does not


@dataclass
class Collection:
    results: dict[tuple[str, str], RunResult] = field(default_factory=dict)  # (run_dir, model) -> result
    warnings: list[str] = field(default_factory=list)
    ignored_dirs: list[str] = field(default_factory=list)  # run directories no paper table uses

    def get(self, task: PaperColumn, model: str) -> RunResult | None:
        return self.results.get((task.run_dir, model))

    def value(self, task: PaperColumn, model: str) -> float | None:
        """Our 0-100 score, or None when the run is absent, unfinished or invalid."""
        result = self.get(task, model)
        return None if result is None else result.value

    def models(self, tasks) -> set[str]:
        """Models with a run directory (finished or not) for any of `tasks`."""
        run_dirs = {task.run_dir for task in tasks}
        return {model for run_dir, model in self.results if run_dir in run_dirs}


def _check_value(value, task: PaperColumn) -> str | None:
    """Why `value` cannot be task's metric, or None when it can."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"'{task.key}' is {value!r}, expected a number"
    if math.isnan(value) or math.isinf(value):
        return f"'{task.key}' is {value}"
    # Fractions (and Pearson r) lie in [-1, 1]; a larger value means the file was written on another
    # scale, and multiplying it by 100 would put a nonsense number in the table.
    if task.scale != 1.0 and abs(value) > 1.0:
        return f"'{task.key}' is {value}, expected a fraction in [-1, 1]"
    return None


def read_run(run_path: Path, model: str, task: PaperColumn) -> tuple[RunResult, str | None]:
    """Read one run directory; return its result and a warning (None when there is nothing to say)."""
    path = run_path / RESULTS_FILE
    if not path.is_file():
        return RunResult(model, task, path, UNFINISHED, None), None
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        return RunResult(model, task, path, INVALID, None), f"{path}: unreadable results file ({err}); shown as missing"
    if not isinstance(metrics, dict) or task.key not in metrics:
        found = sorted(metrics) if isinstance(metrics, dict) else type(metrics).__name__
        return RunResult(model, task, path, INVALID, None), f"{path}: no '{task.key}' (found {found}); shown as missing"
    problem = _check_value(metrics[task.key], task)
    if problem:
        return RunResult(model, task, path, INVALID, None), f"{path}: {problem}; shown as missing"
    checkpoint, not_comparable = read_checkpoint(run_path, model)
    return RunResult(model, task, path, OK, float(metrics[task.key]) * task.scale, checkpoint, not_comparable), None


def read_checkpoint(run_path: Path, model: str) -> tuple[str | None, str | None]:
    """(the checkpoint the run used, why it is not the paper's model or None) from run_info.json."""
    try:
        info = json.loads((run_path / RUN_INFO_FILE).read_text(encoding="utf-8"))
        checkpoint = info["checkpoint"]["name_or_path"]
        shape = info["checkpoint"]["shape"]
    except (OSError, ValueError, KeyError, TypeError):
        return None, None  # a run of an older version: nothing recorded, nothing to say
    expected = PAPER_CHECKPOINTS.get(model)
    if expected is None or shape == expected:
        return checkpoint, None
    found = ", ".join(f"{key} {shape.get(key)}" for key in expected if shape.get(key) != expected[key])
    return checkpoint, f"{model}: checkpoint {checkpoint} is not the paper's {model} ({found}): not comparable"


def _subdirs(path: Path) -> list[Path]:
    # Hidden directories are editor or sync leftovers, not runs.
    return sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))


def collect_runs(runs_dir: str | Path) -> Collection:
    """Read every runs/<run_dir>/<model>/ whose run_dir belongs to one of the paper tables."""
    collection = Collection()
    for task_path in _subdirs(Path(runs_dir)):
        known = task_for_run_dir(task_path.name)
        if known is None:
            collection.ignored_dirs.append(task_path.name)
            continue
        _, task = known
        for model_path in _subdirs(task_path):
            result, warning = read_run(model_path, model_path.name, task)
            collection.results[(task.run_dir, model_path.name)] = result
            if warning:
                collection.warnings.append(warning)
    return collection
