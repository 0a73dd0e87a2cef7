"""Format a comparison table (`linkbert.results.comparison.FamilyTable`) as Markdown or CSV.

Both have the same rows: task, metric, then per model "<model> ours", "<model> paper", "<model> diff",
then note. A missing number is "—" in Markdown and an empty cell in CSV, so that neither a reader nor a
spreadsheet mistakes it for 0.

When some model has seed runs, each model also gets "n" (the seeds that finished) and "paper in
min..max" (whether the paper's number lies within our seeds' range), and "ours" is the mean, written
"mean ± std" in Markdown; the CSV keeps the std, min and max in columns of their own and every seed's
score in "<model> seed<k>". With a hyperparameter grid each model gets "selected", the grid point
reported (chosen on dev), and the CSV "selected dev", that point's mean dev score. A table of single
runs has exactly the columns it always had.
"""

from __future__ import annotations

import csv
import io

from linkbert.results.comparison import TASK, TYPE, Cell, FamilyTable, Row

MISSING = "—"
IN_RANGE = "paper in min..max"


def _range_text(value: bool | None) -> str | None:
    return None if value is None else ("yes" if value else "no")


def _model_columns(table: FamilyTable, model: str, csv_columns: bool) -> list[str]:
    label = table.label(model)
    columns = [f"{label} ours", f"{model} paper", f"{label} diff"]
    if table.seeded:
        columns += [f"{label} std"] if csv_columns else []
        columns += [f"{label} n"]
        columns += [f"{label} min", f"{label} max"] if csv_columns else []
        columns += [f"{label} {IN_RANGE}"]
    if table.grid:
        columns += [f"{label} selected"] + ([f"{label} selected dev"] if csv_columns else [])
    if csv_columns:
        columns += [f"{label} seed{seed}" for seed in table.seeds.get(model, ())]
    return columns


def header(table: FamilyTable, csv_columns: bool = False) -> list[str]:
    columns = ["task", "metric"]
    for model in table.models:
        columns += _model_columns(table, model, csv_columns)
    return columns + ["note"]


def _markdown_number(value: float | None, signed: bool = False) -> str:
    if value is None:
        return MISSING
    return f"{value:+.2f}" if signed else f"{value:.2f}"


def _markdown_ours(cell: Cell) -> str:
    if cell.ours is None or cell.std is None:
        return _markdown_number(cell.ours)
    return f"{cell.ours:.2f} ± {cell.std:.2f}"


def _markdown_cells(table: FamilyTable, cell: Cell) -> list[str]:
    texts = [_markdown_ours(cell), _markdown_number(cell.paper), _markdown_number(cell.diff, signed=True)]
    if table.seeded:
        texts += [str(cell.n), _range_text(cell.in_range) or MISSING]
    if table.grid:
        texts += [f"{cell.selected} (dev {cell.dev:.2f})" if cell.selected else MISSING]
    return texts


def _markdown_escape(text: str) -> str:
    return text.replace("|", "\\|")


def markdown_row(row: Row, table: FamilyTable) -> str:
    texts = [text for model in table.models for text in _markdown_cells(table, row.cells[model])]
    label = row.label if row.kind == TASK else f"**{row.label}**"
    cells = [label, row.metric, *texts, "; ".join(row.notes)]
    return "| " + " | ".join(_markdown_escape(cell) for cell in cells) + " |"


def legend(table: FamilyTable) -> list[str]:
    """What the seed and grid columns mean (nothing for a table of single runs)."""
    lines = []
    if table.seeded:
        lines.append(
            "Over seeds: ours = mean ± sample standard deviation (n - 1 in the denominator) over the seeds that "
            "finished; n = how many finished (a seed that did not finish is missing, never 0, and is named in the "
            f"note); {IN_RANGE} = yes when the paper's number lies between our lowest and highest seed score, no "
            f"otherwise ({MISSING} below two seeds)."
            + (
                " Aggregate rows are computed per seed (a seed's score needs every task of that seed), then averaged."
                if any(row.kind != TASK for row in table.rows)
                else ""
            )
        )
    if table.grid:
        lines.append(
            "selected = the grid point lr<learning rate>_ep<epochs> reported, chosen per task and model by the best "
            "mean DEV score over its seeds (eval_results.json; higher is better), shown in brackets; test scores are "
            "never used to choose, and a point without dev results cannot be chosen."
        )
    return lines


def to_markdown(table: FamilyTable) -> str:
    published = table.published
    columns = header(table)
    lines = [
        f"## {table.family.name}: ours vs LinkBERT (ACL 2022) {published.table}, {published.section}",
        "",
        f"{published.caption}. Scores on 0-100; diff = ours - paper; {MISSING} = no number "
        "(no run, unfinished run, unreadable results, or not in the paper).",
    ]
    if any(row.kind == TYPE for row in table.rows):
        lines.append(
            f"Task-type rows: the paper column is derived from the paper's per-task numbers "
            f"({published.table} prints only the {published.aggregate})."
        )
    lines += legend(table)
    numeric = {index for index, column in enumerate(columns) if not column.endswith((" selected", " note"))}
    numeric -= {0, 1, len(columns) - 1}
    lines += [
        "",
        "| " + " | ".join(_markdown_escape(column) for column in columns) + " |",
        "|" + "|".join("---:" if index in numeric else "---" for index in range(len(columns))) + "|",
    ]
    lines += [markdown_row(row, table) for row in table.rows]
    if table.paper_notes:
        lines += ["", "Notes on the published numbers:"] + [f"- {note}" for note in table.paper_notes]
    return "\n".join(lines) + "\n"


def _csv_number(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _csv_cells(table: FamilyTable, model: str, cell: Cell) -> list[str]:
    texts = [_csv_number(value) for value in (cell.ours, cell.paper, cell.diff)]
    if table.seeded:
        texts += [_csv_number(cell.std), str(cell.n), _csv_number(cell.low), _csv_number(cell.high)]
        texts += [_range_text(cell.in_range) or ""]
    if table.grid:
        texts += [cell.selected or "", _csv_number(cell.dev)]
    by_seed = dict(cell.seeds)
    texts += [_csv_number(by_seed.get(seed)) for seed in table.seeds.get(model, ())]
    return texts


def to_csv(table: FamilyTable) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header(table, csv_columns=True))
    for row in table.rows:
        numbers = [text for model in table.models for text in _csv_cells(table, model, row.cells[model])]
        writer.writerow([row.label, row.metric, *numbers, "; ".join(row.notes)])
    return buffer.getvalue()
