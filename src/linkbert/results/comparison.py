"""Build one comparison table per paper table: rows of tasks (then task-type and aggregate rows), and
for each model our score, the paper's score and the difference (ours - paper), all on 0-100.

Missing scores stay None (rendered "—"), never 0, and each row carries notes saying why a number is
missing. With several seeds (runs/<run_dir>/<model>/seed<k>/) our score is the mean over the seeds that
finished, with the sample standard deviation, n and whether the paper's number lies within the seeds'
range; aggregates (MRQA's Avg, BLURB's type means and score) are computed per seed, then averaged. With
a hyperparameter grid the runs of the point chosen on dev are reported (`linkbert.results.selection`).
Used by `linkbert.results.pipeline`; `render` and `plot` only format what is built here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from linkbert.results.blurb_score import blurb_score, type_means
from linkbert.results.collect import INVALID, OK, UNFINISHED, Collection, RunResult
from linkbert.results.families import BLURB_TYPES, Family
from linkbert.results.published import PublishedFamily
from linkbert.results.selection import Selection, select

TASK, TYPE, AGGREGATE = "task", "type", "aggregate"


def sample_std(values: Sequence[float]) -> float | None:
    """The sample standard deviation (n - 1 in the denominator); None for fewer than two values."""
    if len(values) < 2:
        return None
    mean = sum(values) / len(values)
    return math.sqrt(sum((value - mean) ** 2 for value in values) / (len(values) - 1))


@dataclass(frozen=True)
class Cell:
    ours: float | None  # one run's score, or the mean over the seeds that finished
    paper: float | None
    comparable: bool = True  # False when our run did not fine-tune the paper's checkpoint
    # per seed (seed<k>/ layout): (k, our score or None when that seed did not finish); empty for one run
    seeds: tuple[tuple[int, float | None], ...] = ()
    selected: str | None = None  # the grid point reported, chosen on dev
    dev: float | None = None  # that point's mean dev score

    @classmethod
    def from_seeds(cls, seeds, paper: float | None, **kwargs) -> Cell:
        """A cell over seeds: `ours` is the mean over those with a score (None when none has)."""
        seeds = tuple(seeds)
        finished = [value for _, value in seeds if value is not None]
        return cls(sum(finished) / len(finished) if finished else None, paper, seeds=seeds, **kwargs)

    @property
    def diff(self) -> float | None:
        if self.ours is None or self.paper is None or not self.comparable:
            return None
        return self.ours - self.paper

    @property
    def seeded(self) -> bool:
        return bool(self.seeds)

    @property
    def finished(self) -> list[float]:
        """The scores averaged into `ours`."""
        if self.seeds:
            return [value for _, value in self.seeds if value is not None]
        return [] if self.ours is None else [self.ours]

    @property
    def n(self) -> int:
        return len(self.finished)

    @property
    def std(self) -> float | None:
        return sample_std(self.finished)

    @property
    def low(self) -> float | None:
        return min(self.finished, default=None)

    @property
    def high(self) -> float | None:
        return max(self.finished, default=None)

    @property
    def in_range(self) -> bool | None:
        """Whether the paper's number lies within our seeds' min..max; None unless there are two seeds
        or more, a paper number, and a run of the paper's checkpoint."""
        if self.n < 2 or self.paper is None or not self.comparable:
            return None
        return self.low <= self.paper <= self.high


@dataclass
class Row:
    label: str
    metric: str
    kind: str  # TASK, TYPE or AGGREGATE
    cells: dict[str, Cell]  # model -> cell
    notes: list[str] = field(default_factory=list)


@dataclass
class FamilyTable:
    family: Family
    published: PublishedFamily
    models: list[str]
    rows: list[Row]
    paper_notes: list[str]
    labels: dict[str, str] = field(default_factory=dict)  # model -> column label (with the checkpoint used)
    seeds: dict[str, tuple[int, ...]] = field(default_factory=dict)  # model -> its seeds (seed<k>/ layout)
    grid: bool = False  # whether any run is a grid point (lr<lr>_ep<epochs>/), chosen on dev

    def label(self, model: str) -> str:
        return self.labels.get(model, model)

    @property
    def seeded(self) -> bool:
        """Whether any model has seed runs: the table then shows std, n and the range check."""
        return any(self.seeds.values())


def order_models(models: set[str], published: PublishedFamily) -> list[str]:
    """Published models first in the paper's row order, then the others sorted by name."""
    known = [model for model in published.models if model in models]
    return known + sorted(models - set(known))


@dataclass
class OurScores:
    """One model's task scores in a family: `single` for the one-run layout (task name -> score), or
    per seed (seed -> task name -> score) when the model has seed runs; None where there is no score."""

    single: dict[str, float | None]
    per_seed: dict[int, dict[str, float | None]]


def our_scores(family: Family, selections: Mapping[str, Selection], seeds: tuple[int, ...]) -> OurScores:
    """The scores of the reported runs (`selections`: task name -> Selection of one model)."""
    single = {}
    per_seed: dict[int, dict[str, float | None]] = {seed: {} for seed in seeds}
    for task in family.tasks:
        runs = selections[task.name].runs
        single[task.name] = runs[0].value if len(runs) == 1 and runs[0].seed is None else None
        by_seed = {run.seed: run.value for run in runs if run.seed is not None}
        for seed in seeds:
            per_seed[seed][task.name] = by_seed.get(seed)
    return OurScores(single, per_seed)


def _status_note(run: RunResult) -> str:
    if run.status == UNFINISHED:
        return f"unfinished run (no {run.path.name})"
    assert run.status == INVALID
    return f"invalid {run.path.name} (see warning)"


def _run_notes(model: str, selection: Selection, seeds: tuple[int, ...]) -> list[str]:
    """Why runs are missing: the one run's status, or each seed that did not finish (and n)."""
    if not selection.seeded:
        run = selection.runs[0] if len(selection.runs) == 1 else None
        return [] if run is None or run.status == OK else [f"{model}: {_status_note(run)}"]
    by_seed = {run.seed: run for run in selection.runs}
    missing = []
    for seed in seeds:
        run = by_seed.get(seed)
        if run is None:
            missing.append(f"seed {seed} not run")
        elif run.status != OK:
            missing.append(f"seed {seed} {_status_note(run)}")
    if not missing:
        return []
    return [
        f"{model}: n={len(seeds) - len(missing)} of {len(seeds)} seeds, missing (not counted): {'; '.join(missing)}"
    ]


def _comparable(collection: Collection, family: Family, model: str) -> bool:
    """Whether every finished run of `model` in `family` fine-tuned the paper's checkpoint."""
    runs = [run for task in family.tasks for run in collection.get(task, model)]
    return not any(run.not_comparable for run in runs)


def column_label(collection: Collection, family: Family, model: str) -> str:
    """The model, and the checkpoint its runs used when that is not the model's own name."""
    used = set()
    for task in family.tasks:
        for result in collection.get(task, model):
            if result.checkpoint:
                # a local folder by its name, a Hub id as it is
                checkpoint = Path(result.checkpoint)
                used.add(checkpoint.name if checkpoint.is_absolute() else result.checkpoint)
    used -= {model, f"michiyasunaga/{model}"}
    return f"{model} [checkpoint: {', '.join(sorted(used))}]" if used else model


def task_rows(
    family: Family,
    selections: Mapping[tuple[str, str], Selection],
    seeds: Mapping[str, tuple[int, ...]],
    published: PublishedFamily,
    models: list[str],
) -> list[Row]:
    rows = []
    for task in family.tasks:
        cells = {}
        notes = []
        for model in models:
            selection = selections[(task.name, model)]
            not_comparable = list(dict.fromkeys(run.not_comparable for run in selection.runs if run.not_comparable))
            extra = {"comparable": not not_comparable, "selected": selection.point, "dev": selection.dev}
            paper = published.score(model, task.name)
            if selection.seeded:
                by_seed = {run.seed: run.value for run in selection.runs}
                cells[model] = Cell.from_seeds(((seed, by_seed.get(seed)) for seed in seeds[model]), paper, **extra)
            else:
                value = selection.runs[0].value if len(selection.runs) == 1 else None
                cells[model] = Cell(value, paper, **extra)
            notes += not_comparable
        notes += [note for model in models for note in _run_notes(model, selections[(task.name, model)], seeds[model])]
        notes += [note for model in models for note in selections[(task.name, model)].notes]
        rows.append(Row(task.name, f"{task.metric} ({task.key})", TASK, cells, notes))
    return rows


def _missing_note(model: str, missing) -> str:
    return f"{model}: no result for {', '.join(missing)}"


# an aggregate of task scores: (value, the task names it misses) for one run's or one seed's scores
Aggregate = Callable[[Mapping[str, float | None]], tuple[float | None, Sequence[str]]]


def aggregate_cell(model: str, compute: Aggregate, ours: OurScores, paper: float | None) -> tuple[Cell, list[str]]:
    """An aggregate's cell: of the one-run scores, or computed per seed and then averaged (mean, std,
    n over the seeds where it is defined), with notes naming what each missing value lacks."""
    if not ours.per_seed:
        value, missing = compute(ours.single)
        return Cell(value, paper), [_missing_note(model, missing)] if missing else []
    values, lacking = [], {}
    for seed, scores in ours.per_seed.items():
        value, missing = compute(scores)
        values.append((seed, value))
        if missing:
            lacking.setdefault(tuple(missing), []).append(str(seed))
    # seeds that lack the same tasks are named together: "seed 1, 2: JNLPBA; seed 3: JNLPBA, BC2GM"
    parts = [f"seed {', '.join(seeds)}: {', '.join(missing)}" for missing, seeds in lacking.items()]
    return Cell.from_seeds(values, paper), [f"{model}: no result for {'; '.join(parts)}"] if parts else []


def _mean_of_all(scores: Mapping[str, float | None]) -> tuple[float | None, list[str]]:
    missing = [name for name, value in scores.items() if value is None]
    return (None if missing else sum(scores.values()) / len(scores)), missing


def mean_row(family: Family, ours: dict[str, OurScores], published: PublishedFamily) -> Row:
    """MRQA's Avg column: the plain mean of the task scores, only over complete rows (per seed)."""
    row = Row(published.aggregate or "Avg", f"mean of {len(family.tasks)}", AGGREGATE, {})
    for model, scores in ours.items():
        row.cells[model], notes = aggregate_cell(model, _mean_of_all, scores, published.score(model, row.label))
        row.notes += notes
    return row


def type_rows(family: Family, ours: dict[str, OurScores], published: PublishedFamily) -> list[Row]:
    """One row per BLURB task type. Table 7 prints no type means, so the paper column is derived from
    its per-task numbers."""
    rows = [Row(t, f"mean of {sum(task.task_type == t for task in family.tasks)}", TYPE, {}) for t in BLURB_TYPES]
    for model, scores in ours.items():
        paper_means = type_means(published.scores.get(model, {}), family.tasks)
        for index, (row, paper) in enumerate(zip(rows, paper_means, strict=True)):

            def compute(task_scores, index=index):
                mean = type_means(task_scores, family.tasks)[index]
                return mean.value, mean.missing

            row.cells[model], notes = aggregate_cell(model, compute, scores, paper.value)
            row.notes += notes
    return rows


def score_row(family: Family, ours: dict[str, OurScores], published: PublishedFamily) -> Row:
    """The BLURB score against the published one; missing unless all 13 tasks have a result (for a
    seed: all 13 tasks of that seed)."""
    row = Row(published.aggregate or "BLURB score", "mean of 6 type means", AGGREGATE, {})

    def compute(task_scores):
        score = blurb_score(task_scores, family.tasks)
        return score.value, score.missing

    for model, scores in ours.items():
        row.cells[model], notes = aggregate_cell(model, compute, scores, published.score(model, row.label))
        row.notes += notes
    return row


def build_table(family: Family, collection: Collection, published: PublishedFamily) -> FamilyTable | None:
    """The comparison table of one family, or None when none of its runs has finished."""
    models = order_models(collection.models(family.tasks), published)
    if not any(run.status == OK for task in family.tasks for model in models for run in collection.get(task, model)):
        return None
    selections = {
        (task.name, model): select(collection.get(task, model), task, model)
        for task in family.tasks
        for model in models
    }
    seeds = {model: collection.seeds(family.tasks, model) for model in models}
    ours = {
        model: our_scores(family, {task.name: selections[(task.name, model)] for task in family.tasks}, seeds[model])
        for model in models
    }
    rows = task_rows(family, selections, seeds, published, models)
    if family.aggregate == "mean":
        rows.append(mean_row(family, ours, published))
    elif family.aggregate == "blurb":
        rows += type_rows(family, ours, published) + [score_row(family, ours, published)]
    # an aggregate of runs of another checkpoint is not comparable either
    for row in rows:
        if row.kind != TASK:
            for model in models:
                if not _comparable(collection, family, model):
                    row.cells[model] = replace(row.cells[model], comparable=False)
    paper_notes = [f"{n.model}, {n.task}: {n.note}" for n in published.notes if n.model in models]
    labels = {model: column_label(collection, family, model) for model in models}
    grid = any(
        run.point is not None for task in family.tasks for model in models for run in collection.get(task, model)
    )
    return FamilyTable(family, published, models, rows, paper_notes, labels, seeds, grid)
