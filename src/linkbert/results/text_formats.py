"""Format a comparison table (`linkbert.results.comparison.FamilyTable`) as Markdown or CSV.

Both have the same rows and columns: task, metric, then "<model> ours", "<model> paper",
"<model> diff" for each model, then note. A missing number is "—" in Markdown and an empty cell in
CSV, so that neither a reader nor a spreadsheet mistakes it for 0.
"""

from __future__ import annotations

import csv
import io

from linkbert.results.comparison import TASK, TYPE, FamilyTable, Row

MISSING = "—"


def header(table: FamilyTable) -> list[str]:
    columns = ["task", "metric"]
    for model in table.models:
        label = table.label(model)
        columns += [f"{label} ours", f"{model} paper", f"{label} diff"]
    return columns + ["note"]


def _numbers(row: Row, models: list[str]) -> list[float | None]:
    values = []
    for model in models:
        cell = row.cells[model]
        values += [cell.ours, cell.paper, cell.diff]
    return values


def _markdown_number(value: float | None, signed: bool) -> str:
    if value is None:
        return MISSING
    return f"{value:+.2f}" if signed else f"{value:.2f}"


def _markdown_escape(text: str) -> str:
    return text.replace("|", "\\|")


def markdown_row(row: Row, models: list[str]) -> str:
    numbers = _numbers(row, models)
    # Every third number is a diff; a sign makes "ours below the paper" visible at a glance.
    texts = [_markdown_number(value, signed=(index % 3 == 2)) for index, value in enumerate(numbers)]
    label = row.label if row.kind == TASK else f"**{row.label}**"
    cells = [label, row.metric, *texts, "; ".join(row.notes)]
    return "| " + " | ".join(_markdown_escape(cell) for cell in cells) + " |"


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
    lines += [
        "",
        "| " + " | ".join(_markdown_escape(column) for column in columns) + " |",
        "|" + "|".join(["---", "---"] + ["---:"] * (len(columns) - 3) + ["---"]) + "|",
    ]
    lines += [markdown_row(row, table.models) for row in table.rows]
    if table.paper_notes:
        lines += ["", "Notes on the published numbers:"] + [f"- {note}" for note in table.paper_notes]
    return "\n".join(lines) + "\n"


def _csv_number(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def to_csv(table: FamilyTable) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header(table))
    for row in table.rows:
        numbers = [_csv_number(value) for value in _numbers(row, table.models)]
        writer.writerow([row.label, row.metric, *numbers, "; ".join(row.notes)])
    return buffer.getvalue()
