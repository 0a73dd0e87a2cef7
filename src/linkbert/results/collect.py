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
OK, UNFINISHED, INVALID = "ok", "unfinished", "invalid"


@dataclass(frozen=True)
class RunResult:
    model: str
    task: PaperColumn
    path: Path  # the predict_results.json read (or expected)
    status: str  # OK, UNFINISHED or INVALID
    value: float | None  # on the paper's 0-100 scale; None unless status is OK


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
    return RunResult(model, task, path, OK, float(metrics[task.key]) * task.scale), None


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
