"""Build one comparison table per paper table: rows of tasks (then task-type and aggregate rows), and
for each model our score, the paper's score and the difference (ours - paper), all on 0-100.

Missing scores stay None (rendered "—"), never 0, and each row carries notes saying why a number is
missing. Used by `linkbert.results.pipeline`; `render` and `plot` only format what is built here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from linkbert.results.blurb_score import blurb_score, type_means
from linkbert.results.collect import INVALID, OK, UNFINISHED, Collection
from linkbert.results.families import BLURB_TYPES, Family
from linkbert.results.published import PublishedFamily

TASK, TYPE, AGGREGATE = "task", "type", "aggregate"


@dataclass(frozen=True)
class Cell:
    ours: float | None
    paper: float | None
    comparable: bool = True  # False when our run did not fine-tune the paper's checkpoint

    @property
    def diff(self) -> float | None:
        if self.ours is None or self.paper is None or not self.comparable:
            return None
        return self.ours - self.paper


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

    def label(self, model: str) -> str:
        return self.labels.get(model, model)


def order_models(models: set[str], published: PublishedFamily) -> list[str]:
    """Published models first in the paper's row order, then the others sorted by name."""
    known = [model for model in published.models if model in models]
    return known + sorted(models - set(known))


def our_scores(family: Family, collection: Collection, model: str) -> dict[str, float | None]:
    """Task name -> our 0-100 score (None when the run is absent, unfinished or invalid)."""
    return {task.name: collection.value(task, model) for task in family.tasks}


def _run_note(collection: Collection, task, model: str) -> str | None:
    result = collection.get(task, model)
    if result is None or result.status == OK:
        return None
    if result.status == UNFINISHED:
        return f"{model}: unfinished run (no {result.path.name})"
    assert result.status == INVALID
    return f"{model}: invalid {result.path.name} (see warning)"


def _comparable(collection: Collection, family: Family, model: str) -> bool:
    """Whether every finished run of `model` in `family` fine-tuned the paper's checkpoint."""
    results = [collection.get(task, model) for task in family.tasks]
    return not any(result is not None and result.not_comparable for result in results)


def column_label(collection: Collection, family: Family, model: str) -> str:
    """The model, and the checkpoint its runs used when that is not the model's own name."""
    used = set()
    for task in family.tasks:
        result = collection.get(task, model)
        if result is not None and result.checkpoint:
            # a local folder by its name, a Hub id as it is
            used.add(Path(result.checkpoint).name if Path(result.checkpoint).is_absolute() else result.checkpoint)
    used -= {model, f"michiyasunaga/{model}"}
    return f"{model} [checkpoint: {', '.join(sorted(used))}]" if used else model


def task_rows(family: Family, collection: Collection, published: PublishedFamily, models: list[str]) -> list[Row]:
    rows = []
    for task in family.tasks:
        cells = {}
        notes = []
        for model in models:
            result = collection.get(task, model)
            comparable = result is None or result.not_comparable is None
            cells[model] = Cell(collection.value(task, model), published.score(model, task.name), comparable)
            if not comparable:
                notes.append(result.not_comparable)
        notes += [note for model in models if (note := _run_note(collection, task, model))]
        rows.append(Row(task.name, f"{task.metric} ({task.key})", TASK, cells, notes))
    return rows


def _missing_note(model: str, missing) -> str:
    return f"{model}: no result for {', '.join(missing)}"


def mean_row(family: Family, ours: dict[str, dict], published: PublishedFamily) -> Row:
    """MRQA's Avg column: the plain mean of the task scores, only over complete rows."""
    row = Row(published.aggregate or "Avg", f"mean of {len(family.tasks)}", AGGREGATE, {})
    for model, scores in ours.items():
        missing = [name for name, value in scores.items() if value is None]
        value = None if missing else sum(scores.values()) / len(scores)
        row.cells[model] = Cell(value, published.score(model, row.label))
        if missing:
            row.notes.append(_missing_note(model, missing))
    return row


def type_rows(family: Family, ours: dict[str, dict], published: PublishedFamily) -> list[Row]:
    """One row per BLURB task type. Table 7 prints no type means, so the paper column is derived from
    its per-task numbers."""
    rows = [Row(t, f"mean of {sum(task.task_type == t for task in family.tasks)}", TYPE, {}) for t in BLURB_TYPES]
    for model, scores in ours.items():
        paper_means = type_means(published.scores.get(model, {}), family.tasks)
        for row, mine, paper in zip(rows, type_means(scores, family.tasks), paper_means, strict=True):
            row.cells[model] = Cell(mine.value, paper.value)
            if mine.missing:
                row.notes.append(_missing_note(model, mine.missing))
    return rows


def score_row(family: Family, ours: dict[str, dict], published: PublishedFamily) -> Row:
    """The BLURB score against the published one; missing unless all 13 tasks have a result."""
    row = Row(published.aggregate or "BLURB score", "mean of 6 type means", AGGREGATE, {})
    for model, scores in ours.items():
        score = blurb_score(scores, family.tasks)
        row.cells[model] = Cell(score.value, published.score(model, row.label))
        if score.missing:
            row.notes.append(_missing_note(model, score.missing))
    return row


def build_table(family: Family, collection: Collection, published: PublishedFamily) -> FamilyTable | None:
    """The comparison table of one family, or None when none of its runs has finished."""
    finished = [r for r in collection.results.values() if r.task in family.tasks and r.status == OK]
    if not finished:
        return None
    models = order_models(collection.models(family.tasks), published)
    ours = {model: our_scores(family, collection, model) for model in models}
    rows = task_rows(family, collection, published, models)
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
    return FamilyTable(family, published, models, rows, paper_notes, labels)
