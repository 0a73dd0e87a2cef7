"""Grouped bar chart of one comparison table: for each task (and the headline aggregate), one pair of
bars per model, ours (solid) beside the paper's (hatched), on the 0-100 scale, each bar labelled with
its value. A missing number is drawn as missing, an "n/a" mark where its bar would be, never as an
empty slot that reads as 0; a table with a chance level (MedQA's four options: 25) shows it as a line.
Where our number is a mean over two seeds or more, its bar carries an error bar of ± one sample
standard deviation.

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


def _model_bars(axes, rows, index: int, model: str, label: str, width: float, colour: str) -> None:
    """The two bar series of one model: ours (solid) and the paper's (hatched, lighter), with values
    on top and "n/a" where a number is missing."""
    for side, source in enumerate(("ours", "paper")):
        offset = (2 * index + side + 0.5) * width - GROUP_WIDTH / 2
        points = [(x + offset, getattr(row.cells[model], source)) for x, row in enumerate(rows)]
        present = [
            (x, value, row.cells[model]) for (x, value), row in zip(points, rows, strict=True) if value is not None
        ]
        # ± std over seeds on our bars where there are two seeds or more (0: no bar drawn for one run)
        errors = [cell.std or 0.0 for _, _, cell in present] if source == "ours" else []
        bars = axes.bar(
            [x for x, _, _ in present],
            [value for _, value, _ in present],
            width,
            yerr=errors if any(errors) else None,
            error_kw={"ecolor": "black", "elinewidth": 1, "capsize": 2},
            label=f"{label} ours" if source == "ours" else f"{model} paper",
            color=colour,
            edgecolor=colour,
            alpha=0.45 if side else 1.0,
            hatch="//" if side else None,
        )
        axes.bar_label(bars, fmt="%.1f", fontsize="x-small", rotation=90, padding=2)
        for x, value in points:
            if value is None:
                axes.text(x, 1, "n/a", ha="center", va="bottom", rotation=90, fontsize="x-small", color=colour)


def _draw(figure, table: FamilyTable) -> None:
    rows = plotted_rows(table)
    axes = figure.add_subplot()
    width = GROUP_WIDTH / (2 * len(table.models))
    for index, model in enumerate(table.models):
        _model_bars(axes, rows, index, model, table.label(model), width, colour=f"C{index % 10}")
    if table.family.chance is not None:
        axes.axhline(
            table.family.chance, color="grey", linestyle="--", linewidth=1, label=f"chance ({table.family.chance:g})"
        )
    axes.set_xticks(range(len(rows)), [row.label for row in rows], rotation=45, ha="right")
    # every task's whole slot, "n/a" marks included (text does not widen the axes by itself)
    axes.set_xlim(-0.5, len(rows) - 0.5)
    # A negative Pearson r (a failed BIOSSES run) must stay visible below the axis; room above for labels.
    values = [v for row in rows for cell in row.cells.values() for v in (cell.ours, cell.paper) if v is not None]
    values += [cell.ours - cell.std for row in rows for cell in row.cells.values() if cell.std is not None]
    axes.set_ylim(min([0.0, *values]), 110)
    error_bars = any(cell.std is not None for row in rows for cell in row.cells.values())
    axes.set_ylabel("score (0-100); error bars: ± std over seeds" if error_bars else "score (0-100)")
    axes.set_title(f"{table.family.name}: ours vs paper ({table.published.table})")
    axes.grid(axis="y", alpha=0.3)
    # Outside the axes: the bars reach 90+ on most tasks, so no corner inside is free.
    columns = max(1, int(figure.get_figwidth() // 5))  # long labels (a checkpoint name) need the room
    figure.legend(loc="outside lower center", ncol=columns, fontsize="small")


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
