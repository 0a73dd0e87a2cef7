"""The LinkBERT paper's published numbers, loaded from `paper_results.json` (shipped as package data).

Every number lives in that one file, with the table and section it comes from and notes on values
that are in doubt (e.g. JNLPBA for PubMedBERT-base). Used by `linkbert.results.comparison`; nothing here
runs on import:

    from linkbert.results.published import load_published
    load_published()["BLURB"].score("BioLinkBERT-base", "BLURB score")   # 83.39
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from linkbert.errors import DataError
from linkbert.jsonl import parse_json, utf8_errors

DATA_FILE = "paper_results.json"


@dataclass(frozen=True)
class PaperNote:
    model: str
    task: str
    note: str


@dataclass(frozen=True)
class PublishedFamily:
    family: str
    table: str  # e.g. "Table 7"
    section: str
    caption: str
    tasks: tuple[str, ...]  # paper column order
    aggregate: str | None  # the name of the published summary column ("Avg", "BLURB score")
    models: tuple[str, ...]  # paper row order
    scores: dict[str, dict[str, float]]  # model -> task or aggregate -> 0-100 score
    notes: tuple[PaperNote, ...]

    def score(self, model: str, task: str) -> float | None:
        """The published number, or None when the paper has none for this model and column."""
        return self.scores.get(model, {}).get(task)


def _require(record: dict, field: str, where: str, path: Path):
    if field not in record:
        raise DataError(path, f"{where}: missing field '{field}'")
    return record[field]


def _parse_family(record: dict, path: Path) -> PublishedFamily:
    name = _require(record, "family", "a family entry", path)
    tasks = tuple(_require(record, "tasks", name, path))
    aggregate = record.get("aggregate")
    columns = set(tasks) | {aggregate}
    scores: dict[str, dict[str, float]] = {}
    for entry in _require(record, "models", name, path):
        model = _require(entry, "model", f"{name} models", path)
        values = _require(entry, "scores", f"{name}/{model}", path)
        unknown = set(values) - columns
        if unknown:
            raise DataError(path, f"{name}/{model}: unknown columns {sorted(unknown)}; expected {list(tasks)}")
        scores[model] = {task: float(value) for task, value in values.items()}
    notes = tuple(
        PaperNote(*(_require(n, field, f"{name} notes", path) for field in ("model", "task", "note")))
        for n in record.get("notes", [])
    )
    return PublishedFamily(
        family=name,
        table=_require(record, "table", name, path),
        section=_require(record, "section", name, path),
        caption=record.get("caption", ""),
        tasks=tasks,
        aggregate=aggregate,
        models=tuple(scores),
        scores=scores,
        notes=notes,
    )


def load_published(path: str | Path | None = None) -> dict[str, PublishedFamily]:
    """Family name -> published numbers; `path` defaults to the packaged paper_results.json."""
    if path is None:
        source = resources.files("linkbert.results") / DATA_FILE
        path, text = Path(str(source)), source.read_text(encoding="utf-8")
    else:
        path = Path(path)
        with utf8_errors(path):
            text = path.read_text(encoding="utf-8")
    data = parse_json(path, text)
    families = [_parse_family(record, path) for record in _require(data, "families", "top level", path)]
    return {family.family: family for family in families}
