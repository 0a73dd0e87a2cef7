"""Which runs a table reports for one task and model: the one run, the seeds, or, with a grid of
hyperparameters (runs/<run_dir>/<model>/lr<lr>_ep<epochs>/[seed<k>/]), the runs of the grid point
chosen on the DEV set.

The rule: per task and model, each grid point is scored by the mean of its runs' dev metric
(eval_results.json, the test metric's key with `eval_` for `test_`) over the seeds that have one; the
point with the highest mean is chosen (the lowest for a metric where lower is better; no paper column
has one), the first in (learning rate, epochs) order on a tie. Its runs, every seed, are reported, so
the test numbers of one configuration are averaged, never a best-of-seeds. A point without any dev
result cannot be chosen and is named in a note. Test scores never take part. Used by
`linkbert.results.comparison`.
"""

from __future__ import annotations

from dataclasses import dataclass

from linkbert.results.collect import RunResult
from linkbert.results.families import PaperColumn


@dataclass(frozen=True)
class PointScore:
    point: str
    dev: float | None  # mean dev metric over the runs that have one; None when none has
    n_dev: int  # how many runs have a dev metric
    n_runs: int


@dataclass(frozen=True)
class Selection:
    runs: tuple[RunResult, ...]  # the reported runs: the one run, or the chosen point's, in seed order
    point: str | None = None  # the chosen grid point; None without a grid or when none can be chosen
    dev: float | None = None  # its mean dev metric
    points: tuple[PointScore, ...] = ()  # every grid point, in (learning rate, epochs) order
    notes: tuple[str, ...] = ()

    @property
    def seeded(self) -> bool:
        return any(run.seed is not None for run in self.runs)


def score_points(runs: tuple[RunResult, ...]) -> tuple[PointScore, ...]:
    order: list[str] = []
    for run in runs:  # collect_runs reads the points in (learning rate, epochs) order
        if run.point not in order:
            order.append(run.point)
    scores = []
    for point in order:
        devs = [run.dev for run in runs if run.point == point and run.dev is not None]
        n_runs = sum(run.point == point for run in runs)
        scores.append(PointScore(point, sum(devs) / len(devs) if devs else None, len(devs), n_runs))
    return tuple(scores)


def select(runs: tuple[RunResult, ...], task: PaperColumn, model: str) -> Selection:
    """The runs to report for `model` on `task` (see the module's docstring for the rule)."""
    if not any(run.point is not None for run in runs):
        return Selection(runs)
    points = score_points(runs)
    candidates = [score for score in points if score.dev is not None]
    notes = [
        f"{model}: grid point {score.point} has no dev result ('{task.dev_key}' in eval_results.json); not selectable"
        for score in points
        if score.dev is None
    ]
    if not candidates:
        notes.append(f"{model}: no grid point has a dev result, so none is selected (test scores are never used)")
        return Selection((), None, None, points, tuple(notes))
    sign = 1 if task.higher_is_better else -1
    best = max(candidates, key=lambda score: sign * score.dev)  # max keeps the first of equals
    others = ", ".join(f"{score.point} {score.dev:.2f}" for score in candidates if score is not best)
    source = f" of the runs in runs/{task.dev_from}/" if task.dev_from else ""
    notes.insert(
        0,
        f"{model}: selected {best.point} on dev ({task.dev_key}{source}: mean {best.dev:.2f} over {best.n_dev} "
        f"run(s)" + (f"; other points: {others})" if others else ")"),
    )
    chosen = tuple(run for run in runs if run.point == best.point)
    return Selection(chosen, best.point, best.dev, points, tuple(notes))
