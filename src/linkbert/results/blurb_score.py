"""The BLURB score (Gu et al. 2021, used by LinkBERT Table 7): the mean over the six task types of the
mean test score within each type, on the 0-100 scale.

Pure functions over a {task name: score} mapping, so that the same code scores our runs and checks the
paper's own per-task numbers against its published BLURB scores (tests/test_make_tables.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from linkbert.results.families import BLURB, BLURB_TYPES, PaperColumn


@dataclass(frozen=True)
class TypeMean:
    task_type: str
    tasks: tuple[str, ...]  # the task names of this type, in paper order
    value: float | None  # None when any of `tasks` has no score
    missing: tuple[str, ...]


@dataclass(frozen=True)
class BlurbScore:
    value: float | None  # None unless all 13 tasks have a score
    missing: tuple[str, ...]  # task names without a score, in paper order


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def type_means(scores: Mapping[str, float], tasks: Sequence[PaperColumn] = BLURB.tasks) -> list[TypeMean]:
    """One TypeMean per BLURB task type, in BLURB's order."""
    means = []
    for task_type in BLURB_TYPES:
        names = tuple(task.name for task in tasks if task.task_type == task_type)
        missing = tuple(name for name in names if scores.get(name) is None)
        value = None if missing else _mean([scores[name] for name in names])
        means.append(TypeMean(task_type, names, value, missing))
    return means


def blurb_score(scores: Mapping[str, float], tasks: Sequence[PaperColumn] = BLURB.tasks) -> BlurbScore:
    """The BLURB score, defined only when every task has a score; otherwise the missing task names."""
    missing = tuple(task.name for task in tasks if scores.get(task.name) is None)
    if missing:
        return BlurbScore(None, missing)
    return BlurbScore(_mean([mean.value for mean in type_means(scores, tasks)]), ())
