"""Read the test metric of every finished run under `runs/<run_dir>/<model>/`.

A model folder holds one of three layouts, written by the recipes (scripts/recipe_common.sh):

    runs/<run_dir>/<model>/predict_results.json                      one run (no SEEDS, LRS, EPOCHS)
    runs/<run_dir>/<model>/seed<k>/predict_results.json              one run per seed (SEEDS)
    runs/<run_dir>/<model>/lr<lr>_ep<epochs>/[seed<k>/]...           one run per grid point (LRS,
                                                                     EPOCHS), and per seed with SEEDS

A run directory without predict_results.json is unfinished and counts as missing, never as 0. A
results file that is not valid JSON, or lacks the metric, or holds a value that is not a number on the
expected scale, is also missing and yields a warning naming the file. For a grid point the DEV metric
is read too (eval_results.json), which is what chooses the point (`linkbert.results.selection`). Used by
`linkbert.results.pipeline` (`python scripts/make_tables.py`).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from linkbert.results.families import PaperColumn, task_for_run_dir

RESULTS_FILE = "predict_results.json"
DEV_FILE = "eval_results.json"
SEED_DIR = re.compile(r"seed(0|[1-9][0-9]*)")  # as the recipes name them: no leading zeros
POINT_DIR = re.compile(r"lr(?P<lr>[^_/]+)_ep(?P<epochs>[^_/]+)")
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
    seed: int | None = None  # k of a seed<k>/ folder; None in the one-run layout
    point: str | None = None  # the grid point folder (lr<lr>_ep<epochs>); None without a grid
    dev: float | None = None  # the dev metric on 0-100 (grid points only); None when there is none

    @property
    def where(self) -> str:
        """The run's folder below runs/<run_dir>/<model>/, e.g. "lr2e-5_ep3/seed1" ("" for one run)."""
        parts = [self.point] if self.point else []
        return "/".join(parts + ([f"seed{self.seed}"] if self.seed is not None else []))


@dataclass
class Collection:
    # (run_dir, model) -> every run found there: one, or one per seed and grid point
    runs: dict[tuple[str, str], tuple[RunResult, ...]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    ignored_dirs: list[str] = field(default_factory=list)  # run directories no paper table uses

    def get(self, task: PaperColumn, model: str) -> tuple[RunResult, ...]:
        """The runs of `model` on `task` (empty when it has no folder)."""
        return self.runs.get((task.run_dir, model), ())

    def models(self, tasks) -> set[str]:
        """Models with a run directory (finished or not) for any of `tasks`."""
        run_dirs = {task.run_dir for task in tasks}
        return {model for run_dir, model in self.runs if run_dir in run_dirs}

    def seeds(self, tasks, model: str) -> tuple[int, ...]:
        """Every seed `model` has a folder for on any of `tasks` (at any grid point), in order: the
        seeds each of those tasks is expected to have, so a seed that never started counts as missing."""
        run_dirs = {task.run_dir for task in tasks}
        found = {
            run.seed
            for (run_dir, name), runs in self.runs.items()
            if run_dir in run_dirs and name == model
            for run in runs
        }
        return tuple(sorted(found - {None}))


def _check_value(value, task: PaperColumn, key: str | None = None) -> str | None:
    """Why `value` cannot be task's metric (stored under `key`, by default the test key), or None."""
    key = key or task.key
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"'{key}' is {value!r}, expected a number"
    if math.isnan(value) or math.isinf(value):
        return f"'{key}' is {value}"
    # Fractions (and Pearson r) lie in [-1, 1]; a larger value means the file was written on another
    # scale, and multiplying it by 100 would put a nonsense number in the table.
    if task.scale != 1.0 and abs(value) > 1.0:
        return f"'{key}' is {value}, expected a fraction in [-1, 1]"
    return None


def _read_metric(path: Path, task: PaperColumn, key: str) -> tuple[float | None, str | None]:
    """(the 0-100 value of `key` in the results file at `path`, None) or (None, why not)."""
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        return None, f"{path}: unreadable results file ({err})"
    if not isinstance(metrics, dict) or key not in metrics:
        found = sorted(metrics) if isinstance(metrics, dict) else type(metrics).__name__
        return None, f"{path}: no '{key}' (found {found})"
    problem = _check_value(metrics[key], task, key)
    if problem:
        return None, f"{path}: {problem}"
    return float(metrics[key]) * task.scale, None


def read_dev(dev_path: Path, task: PaperColumn) -> tuple[float | None, str | None]:
    """The dev metric of a grid point's run (eval_results.json in `dev_path`) and a warning: none when
    the file is absent (that run simply cannot be chosen), one when it is there but unusable."""
    path = dev_path / DEV_FILE
    if not path.is_file():
        return None, None
    value, problem = _read_metric(path, task, task.dev_key)
    return value, problem and f"{problem}; this run cannot be selected"


def read_run(run_path: Path, model: str, task: PaperColumn) -> tuple[RunResult, str | None]:
    """Read one run directory; return its result and a warning (None when there is nothing to say)."""
    path = run_path / RESULTS_FILE
    if not path.is_file():
        return RunResult(model, task, path, UNFINISHED, None), None
    value, problem = _read_metric(path, task, task.key)
    if problem:
        return RunResult(model, task, path, INVALID, None), f"{problem}; shown as missing"
    checkpoint, not_comparable = read_checkpoint(run_path, model)
    return RunResult(model, task, path, OK, value, checkpoint, not_comparable), None


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


def _point_key(path: Path):
    """Grid points in numeric order of learning rate, then epochs (names that are not numbers last)."""
    match = POINT_DIR.fullmatch(path.name)
    try:
        return (0, float(match["lr"]), float(match["epochs"]), path.name)
    except ValueError:
        return (1, 0.0, 0.0, path.name)


def read_model_dir(model_path: Path, model: str, task: PaperColumn, dev_root: Path | None = None):
    """Every run in one runs/<run_dir>/<model>/ folder (any layout) and the warnings; `dev_root` is
    the folder of the same model under runs/<task.dev_from>/ (else the dev metric is the run's own)."""
    runs, warnings = [], []

    def read(path: Path, seed=None, point=None):
        result, warning = read_run(path, model, task)
        dev, dev_warning = None, None
        if point is not None:  # only a grid point is ever chosen, so only there is the dev metric read
            dev_path = dev_root / path.relative_to(model_path) if dev_root is not None else path
            dev, dev_warning = read_dev(dev_path, task)
        runs.append(replace(result, seed=seed, point=point, dev=dev))
        warnings.extend(filter(None, (warning, dev_warning)))

    def read_seeds(path: Path, point=None):
        seed_dirs = sorted((d for d in _subdirs(path) if SEED_DIR.fullmatch(d.name)), key=lambda d: int(d.name[4:]))
        if not seed_dirs:
            read(path, point=point)
            return
        if (path / RESULTS_FILE).is_file():
            warnings.append(f"{path / RESULTS_FILE}: a single run beside seed<k>/ folders; not used (move it into one)")
        for seed_dir in seed_dirs:
            read(seed_dir, seed=int(seed_dir.name[4:]), point=point)

    point_dirs = sorted((d for d in _subdirs(model_path) if POINT_DIR.fullmatch(d.name)), key=_point_key)
    if not point_dirs:
        read_seeds(model_path)
        return runs, warnings
    beside = [p.name for p in _subdirs(model_path) if SEED_DIR.fullmatch(p.name)]
    if (model_path / RESULTS_FILE).is_file():
        beside.insert(0, RESULTS_FILE)
    if beside:
        warnings.append(f"{model_path}: {', '.join(beside)} beside grid folders lr<lr>_ep<epochs>/; not used")
    for point_dir in point_dirs:
        read_seeds(point_dir, point=point_dir.name)
    return runs, warnings


def collect_runs(runs_dir: str | Path) -> Collection:
    """Read every runs/<run_dir>/<model>/ whose run_dir belongs to one of the paper tables."""
    runs_dir = Path(runs_dir)
    collection = Collection()
    for task_path in _subdirs(runs_dir):
        known = task_for_run_dir(task_path.name)
        if known is None:
            collection.ignored_dirs.append(task_path.name)
            continue
        _, task = known
        for model_path in _subdirs(task_path):
            dev_root = runs_dir / task.dev_from / model_path.name if task.dev_from else None
            runs, warnings = read_model_dir(model_path, model_path.name, task, dev_root)
            collection.runs[(task.run_dir, model_path.name)] = tuple(runs)
            collection.warnings += warnings
    return collection
