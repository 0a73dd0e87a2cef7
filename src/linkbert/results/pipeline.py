"""Read every run under `runs/`, compare it with the paper, and write one Markdown table, one CSV and
one bar chart per paper table that has at least one finished run:

    python scripts/make_tables.py --runs runs/ --output_dir tables/

writes tables/{MRQA,BLURB,MedQA,MMLU}.{md,csv,png} (only the families with results); runs in the
seed<k>/ and lr<lr>_ep<epochs>/ layouts are averaged over seeds and chosen on dev (see `comparison`,
`selection`). The Markdown goes to stdout as well; warnings (unreadable results files) and the
summary go to stderr, so stdout can be redirected into a report as it is.
"""

from __future__ import annotations

import sys
from pathlib import Path

from linkbert.errors import LinkBertError, UsageError
from linkbert.jsonl import atomic_output
from linkbert.results.collect import OK, RESULTS_FILE, Collection, collect_runs
from linkbert.results.comparison import FamilyTable, build_table
from linkbert.results.families import FAMILIES
from linkbert.results.published import PublishedFamily, load_published
from linkbert.results.text_formats import to_csv, to_markdown


def check_published(published: dict[str, PublishedFamily]) -> None:
    """The paper data file and the task registry must name the same columns in the same order;
    otherwise a paper number would silently land in no row (or the wrong one)."""
    for family in FAMILIES:
        if family.name not in published:
            raise LinkBertError(f"paper_results.json: no family '{family.name}'")
        names = tuple(task.name for task in family.tasks)
        if published[family.name].tasks != names:
            raise LinkBertError(
                f"paper_results.json: {family.name} tasks {list(published[family.name].tasks)}, expected {list(names)}"
            )


def write_family(table: FamilyTable, markdown: str, output_dir: Path, plots: bool) -> list[Path]:
    """Write <family>.md, .csv and (with plots) .png; return the paths written."""
    stem = output_dir / table.family.name
    with atomic_output(stem.with_suffix(".md")) as handle:
        handle.write(markdown)
    with atomic_output(stem.with_suffix(".csv")) as handle:
        handle.write(to_csv(table))
    written = [stem.with_suffix(".md"), stem.with_suffix(".csv")]
    if plots:
        try:
            from linkbert.results.plot import write_png

            written.append(write_png(table, stem.with_suffix(".png")))
        except ImportError:
            print(
                f"warning: matplotlib is not installed; skipped {stem}.png (pip install -e .[plots])", file=sys.stderr
            )
    return written


def _summary(table: FamilyTable, collection: Collection) -> str:
    runs = [run for task in table.family.tasks for model in table.models for run in collection.get(task, model)]
    finished = sum(run.status == OK for run in runs)
    reported = sum(
        row.cells[model].ours is not None for row in table.rows[: len(table.family.tasks)] for model in table.models
    )
    cells = len(table.models) * len(table.family.tasks)
    return (
        f"{table.family.name}: {len(table.models)} model(s), {reported}/{cells} task results "
        f"({finished} of {len(runs)} run dirs finished)"
    )


def make_tables(runs_dir: str | Path, output_dir: str | Path, plots: bool = True) -> list[Path]:
    """The whole collector; returns the files written. Raises UsageError when nothing has finished."""
    runs_dir, output_dir = Path(runs_dir), Path(output_dir)
    if not runs_dir.is_dir():
        raise UsageError(f"{runs_dir}: not a directory (expected <task_dir>/<model>/{RESULTS_FILE} inside)")
    published = load_published()
    check_published(published)
    collection = collect_runs(runs_dir)
    for warning in collection.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if collection.ignored_dirs:
        ignored = ", ".join(collection.ignored_dirs)
        print(f"note: ignored run directories that no paper table uses: {ignored}", file=sys.stderr)
    tables = [t for family in FAMILIES if (t := build_table(family, collection, published[family.name]))]
    if not tables:
        raise UsageError(f"{runs_dir}: no finished run (no <task_dir>/<model>/{RESULTS_FILE} with a usable metric)")
    written = []
    for table in tables:
        markdown = to_markdown(table)
        print(markdown)
        written += write_family(table, markdown, output_dir, plots)
        print(_summary(table, collection), file=sys.stderr)
    print(f"wrote {len(written)} files to {output_dir}/", file=sys.stderr)
    return written
