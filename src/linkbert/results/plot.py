"""Grouped bar chart of one comparison table: for each task (and the headline aggregate), one pair of
bars per model, ours (solid) beside the paper's (hatched), on the 0-100 scale.

matplotlib is an optional dependency (`pip install -e .[plots]`), so it is imported only when a chart
is drawn. The figure is drawn on the Agg canvas directly, without pyplot, so no GUI backend or global
figure state is involved. Used by `linkbert.results.pipeline`.
"""

from __future__ import annotations

from pathlib import Path

from linkbert.jsonl import atomic_output
from linkbert.results.comparison import TYPE, FamilyTable

GROUP_WIDTH = 0.8  # share of each task's slot taken by its bars


def plotted_rows(table: FamilyTable):
    # The task-type means repeat single tasks (PICO, BIOSSES, HoC) or average ones already shown.
    return [row for row in table.rows if row.kind != TYPE]


def _model_bars(axes, rows, index: int, model: str, width: float, colour: str) -> None:
    """The two bar series of one model: ours (solid) and the paper's (hatched, lighter)."""
    for side, source in enumerate(("ours", "paper")):
        offset = (2 * index + side + 0.5) * width - GROUP_WIDTH / 2
        points = [(x + offset, getattr(row.cells[model], source)) for x, row in enumerate(rows)]
        points = [(x, value) for x, value in points if value is not None]  # missing: no bar, never a 0 bar
        axes.bar(
            [x for x, _ in points],
            [value for _, value in points],
            width,
            label=f"{model} {source}",
            color=colour,
            edgecolor=colour,
            alpha=0.45 if side else 1.0,
            hatch="//" if side else None,
        )


def _draw(figure, table: FamilyTable) -> None:
    rows = plotted_rows(table)
    axes = figure.add_subplot()
    width = GROUP_WIDTH / (2 * len(table.models))
    for index, model in enumerate(table.models):
        _model_bars(axes, rows, index, model, width, colour=f"C{index % 10}")
    axes.set_xticks(range(len(rows)), [row.label for row in rows], rotation=45, ha="right")
    # A negative Pearson r (a failed BIOSSES run) must stay visible below the axis.
    values = [v for row in rows for cell in row.cells.values() for v in (cell.ours, cell.paper) if v is not None]
    axes.set_ylim(min([0.0, *values]), 100)
    axes.set_ylabel("score (0-100)")
    axes.set_title(f"{table.family.name}: ours vs paper ({table.published.table})")
    axes.grid(axis="y", alpha=0.3)
    # Outside the axes: the bars reach 90+ on most tasks, so no corner inside is free.
    figure.legend(loc="outside lower center", ncol=len(table.models), fontsize="small")


def write_png(table: FamilyTable, path: str | Path) -> Path:
    """Draw the chart and write it atomically to `path` (PNG)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(max(6.0, 0.9 * len(plotted_rows(table)) + 2), 4.5), layout="constrained")
    FigureCanvasAgg(figure)
    _draw(figure, table)
    path = Path(path)
    with atomic_output(path, "wb") as handle:
        # No "Software" entry, so re-running with the same results gives the same bytes.
        figure.savefig(handle, format="png", dpi=120, metadata={"Software": None})
    return path
