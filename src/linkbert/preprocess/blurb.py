"""BLURB's data_generation output -> sequence- and token-classification splits for the 13 BLURB datasets.

    python scripts/preprocess_blurb.py [--raw_dir raw_data/blurb/data_generation/data] [--output_dir data]
                                       [--tasks pubmedqa HoC ebmnlp ...]

Output: `<output_dir>/seqcls/{pubmedqa,bioasq,chemprot,DDI,GAD,BIOSSES,HoC}_hf/` and
`<output_dir>/tokcls/{BC2GM,BC5CDR-disease,BC5CDR-chem,NCBI-disease,JNLPBA,ebmnlp}_hf/`, each with
`{train,dev,test}.json`. Every reader reproduces the original scripts/preprocess_blurb.py record for
record; each dataset's three raw files are read and checked in full before any of its files is written.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from linkbert.errors import DataError, UsageError
from linkbert.jsonl import ENCODING, parse_json, utf8_errors
from linkbert.preprocess.common import (
    check_columns,
    iter_lines,
    nonempty,
    require_file,
    require_keys,
    split_columns,
    whitespace_tokens,
    write_splits,
)

SPLITS = ("train", "dev", "test")
BLURB_HINT = "BLURB is a manual download: `bash scripts/download_raw_data.sh blurb` prints the steps"
# HoC labels are the ten Hallmarks of Cancer; position i of the vector is label i in the order of
# the original utils_hoc.py (activating invasion and metastasis ... tumor promoting inflammation).
HOC_NUM_LABELS = 10
NER_SETS = ("BC2GM", "BC5CDR-disease", "BC5CDR-chem", "NCBI-disease", "JNLPBA")


def check_label(path: Path, number: int | None, name: str, label: str, allowed: tuple[str, ...]) -> str:
    if label not in allowed:
        raise DataError(path, f"unknown label {label!r}; expected one of {', '.join(allowed)}", line=number, field=name)
    return label


def tsv_rows(path: Path, names: tuple[str, ...], skip_header: bool) -> Iterator[tuple[int, list[str]]]:
    """(line number, columns) of each line. Like the original, the whole line is stripped before
    splitting on tabs; blank lines are skipped."""
    for number, line in iter_lines(path):
        if skip_header and number == 1:
            continue
        line = line.strip()
        if line:
            yield number, split_columns(path, number, line, names)


# ---------------------------------------------------------------- question answering (seqcls pairs)


def _line_of_key(text: str, key: str) -> int | None:
    """Best-effort line number of `"key":` in a JSON document, so errors in a dict-of-entries file
    can still point at a line."""
    position = text.find(json.dumps(key) + ":")
    return None if position < 0 else text.count("\n", 0, position) + 1


def pubmedqa_record(path: Path, text: str, pmid: str, entry: object) -> dict:
    line = _line_of_key(text, pmid)
    if not isinstance(entry, dict):
        raise DataError(path, "expected a JSON object", line=line, field=pmid)
    require_keys(path, line, entry, {"QUESTION": str, "CONTEXTS": list, "final_decision": str}, prefix=f"{pmid}.")
    if not all(isinstance(part, str) for part in entry["CONTEXTS"]):
        raise DataError(path, "expected a list of strings", line=line, field=f"{pmid}.CONTEXTS")
    # The abstract's labelled sections, stripped, empty ones dropped, joined by single spaces.
    context = " ".join(part.strip() for part in entry["CONTEXTS"] if part.strip())
    label = check_label(path, line, f"{pmid}.final_decision", entry["final_decision"].strip(), ("yes", "no", "maybe"))
    return {"id": pmid, "sentence1": entry["QUESTION"].strip(), "sentence2": context, "label": label}


def read_pubmedqa(path: Path) -> list[dict]:
    """PubMedQA `*_set.json`: a JSON object pmid -> {QUESTION, CONTEXTS, final_decision}, kept in file order."""
    with utf8_errors(path):
        text = path.read_text(encoding=ENCODING)
    data = parse_json(path, text, what="a JSON object of pmid -> entry")
    return [pubmedqa_record(path, text, pmid, entry) for pmid, entry in data.items()]


def read_bioasq(path: Path) -> list[dict]:
    """BioASQ `{split}.tsv`, no header: id, question, context, label (yes/no), every field stripped.

    The original read it with pandas (header=None); the csv module with a tab delimiter treats quoted
    fields and blank lines the same way, so the records are identical without pandas.
    """
    names = ("id", "question", "context", "label")
    records = []
    with utf8_errors(path), open(path, encoding=ENCODING, newline="") as handle:
        reader = csv.reader(handle, delimiter="\t")
        for row in reader:
            if not row:
                continue
            number = reader.line_num
            qid, question, context, label = (value.strip() for value in check_columns(path, number, row, names))
            check_label(path, number, "label", label, ("yes", "no"))
            records.append({"id": qid, "sentence1": question, "sentence2": context, "label": label})
    return records


# ---------------------------------------------------------------- relation extraction, similarity, HoC


def read_relation(path: Path, skip_header: bool = False) -> list[dict]:
    """ChemProt / DDI / GAD `{split}.tsv`: id, sentence, label (no header except GAD's)."""
    records = []
    for _, (rid, sentence, label) in tsv_rows(path, ("id", "sentence", "label"), skip_header):
        # ChemProt's "false" and DDI's "DDI-false" become "0", so that after sorting the negative class
        # is label index 0, which the PRF1 metric leaves out (original preprocess_blurb.py).
        if "false" in label:
            label = "0"
        records.append({"id": rid, "sentence": sentence, "label": label})
    return records


def read_gad(path: Path) -> list[dict]:
    """GAD is the only relation set whose files start with a header line."""
    return read_relation(path, skip_header=True)


def read_biosses(path: Path) -> list[dict]:
    """BIOSSES `{split}.tsv` (header skipped): id, sentence1, sentence2, score -> a float regression label."""
    records = []
    for number, (pid, first, second, score) in tsv_rows(path, ("id", "sentence1", "sentence2", "score"), True):
        try:
            label = float(score)
        except ValueError:
            label = math.nan
        if not math.isfinite(label):
            raise DataError(path, f"expected a number, got {score!r}", line=number, field="score")
        records.append({"sentence1": first, "sentence2": second, "label": label, "id": pid})
    return records


def hoc_labels(path: Path, number: int, text: str) -> list[int]:
    """Parse a HoC label column: ten comma-separated items `<k>_<0|1>`; position i holds label i."""
    items = text.split(",")
    if len(items) != HOC_NUM_LABELS:
        message = f"expected {HOC_NUM_LABELS} comma-separated items like '3_1', found {len(items)}"
        raise DataError(path, message, line=number, field="labels")
    values = []
    for item in items:
        parts = item.split("_")
        if len(parts) < 2 or parts[1] not in ("0", "1"):
            raise DataError(path, f"malformed item {item!r}; expected '<k>_0' or '<k>_1'", line=number, field="labels")
        values.append(int(parts[1]))
    return values


@dataclass
class _Abstract:
    """The HoC abstract being assembled from consecutive sentence rows."""

    key: str = ""
    text: str = ""
    labels: list[int] = field(default_factory=lambda: [0] * HOC_NUM_LABELS)

    def record(self) -> dict:
        return {"sentence": self.text, "label": self.labels, "id": self.key}


def read_hoc(path: Path) -> list[dict]:
    """HoC `{split}.tsv` (header skipped): labels, sentence, id `<abstract>_<sentence>`.

    As in the original, consecutive rows whose id shares the part before the first "_" form one
    abstract: sentences joined by a space, label vectors OR-ed; one record per abstract.
    """
    records, current = [], _Abstract()
    for number, (label_text, sentence, sid) in tsv_rows(path, ("labels", "sentence", "id"), True):
        values = hoc_labels(path, number, label_text)
        key = sid.split("_")[0]
        # The original only closes an abstract that has text, so an empty one merges into the next.
        if key != current.key and current.text:
            records.append(current.record())
            current = _Abstract()
        current.key = key
        current.text = (current.text + " " + sentence).strip()
        current.labels = [old | new for old, new in zip(current.labels, values, strict=True)]
    if current.text:
        records.append(current.record())
    return records


# ---------------------------------------------------------------- token classification


def conll_sentences(path: Path) -> Iterator[tuple[list[str], list[str]]]:
    """(tokens, tags) per sentence of a CoNLL-style `token\\ttag` file; a blank line ends a sentence
    and `-DOCSTART-` lines are skipped without ending one (original preprocess_blurb.py)."""
    tokens, tags = [], []
    for number, line in iter_lines(path):
        line = line.strip()
        if line.startswith("-DOCSTART-"):
            continue
        if not line:
            if tokens:
                yield tokens, tags
                tokens, tags = [], []
            continue
        token, tag = split_columns(path, number, line, ("token", "tag"))
        tokens.append(token)
        tags.append(tag)
    if tokens:
        yield tokens, tags


def read_ner(path: Path) -> list[dict]:
    """NER `{split}.tsv` -> {tokens, ner_tags, id: running sentence index as a string}."""
    return [
        {"tokens": tokens, "ner_tags": tags, "id": str(i)} for i, (tokens, tags) in enumerate(conll_sentences(path))
    ]


def pico_tag(tag: str) -> str:
    """EBM-NLP PICO: every I-tag becomes a B-tag, so each token is its own entity and seqeval's macro
    F1 over the entity types equals BLURB's word-level macro F1 (original preprocess_blurb.py)."""
    return "B" + tag[1:] if tag.startswith("I") else tag


def read_pico(path: Path) -> list[dict]:
    return [{**record, "ner_tags": [pico_tag(tag) for tag in record["ner_tags"]]} for record in read_ner(path)]


# ---------------------------------------------------------------- the task table


@dataclass(frozen=True)
class BlurbDataset:
    """One BLURB dataset: output name (`<name>_hf`), family folder, raw folder, reader, raw file names."""

    name: str
    family: str
    folder: str
    read: Callable[[Path], list[dict]]
    files: dict[str, str] | None = None  # split -> path under `folder`; default `{split}.tsv`

    def raw_path(self, raw_dir: Path, split: str) -> Path:
        relative = self.files[split] if self.files else f"{split}.tsv"
        return raw_dir / self.folder / relative

    def out_dir(self, output_dir: Path) -> Path:
        return output_dir / self.family / f"{self.name}_hf"


PUBMEDQA_FILES = {"train": "pqal_fold0/train_set.json", "dev": "pqal_fold0/dev_set.json", "test": "test_set.json"}
TASKS = {
    task.name: task
    for task in (
        BlurbDataset("pubmedqa", "seqcls", "pubmedqa", read_pubmedqa, PUBMEDQA_FILES),
        BlurbDataset("bioasq", "seqcls", "BioASQ", read_bioasq),
        BlurbDataset("chemprot", "seqcls", "chemprot", read_relation),
        BlurbDataset("DDI", "seqcls", "DDI", read_relation),
        BlurbDataset("GAD", "seqcls", "GAD", read_gad),
        BlurbDataset("BIOSSES", "seqcls", "BIOSSES", read_biosses),
        BlurbDataset("HoC", "seqcls", "HoC", read_hoc),
        *(BlurbDataset(name, "tokcls", name, read_ner) for name in NER_SETS),
        BlurbDataset("ebmnlp", "tokcls", "ebmnlp", read_pico),
    )
}


def select_tasks(names: Iterable[str] | None) -> list[BlurbDataset]:
    """Tasks by name (case-insensitive), in the order given; all 13 when `names` is None."""
    if not names:
        return list(TASKS.values())
    by_lower = {name.lower(): task for name, task in TASKS.items()}
    unknown = [name for name in names if name.lower() not in by_lower]
    if unknown:
        raise UsageError(f"unknown BLURB task(s) {', '.join(unknown)}; choose from {', '.join(TASKS)}")
    return [by_lower[name.lower()] for name in names]


def record_length(record: dict) -> int:
    """Whitespace tokens of the model input: the token list, or the sentence / sentence pair."""
    if "tokens" in record:
        return len(record["tokens"])
    return whitespace_tokens(*(record[key] for key in ("sentence", "sentence1", "sentence2") if key in record))


def convert_task(task: BlurbDataset, raw_dir: Path, output_dir: Path):
    """Read and check all three raw splits of `task`, then write its three output files."""
    paths = {split: require_file(task.raw_path(raw_dir, split), BLURB_HINT) for split in SPLITS}
    records = {split: nonempty(path, task.read(path)) for split, path in paths.items()}
    return write_splits(task.name, task.out_dir(output_dir), records, record_length)


def convert_all(names: Iterable[str] | None, raw_dir: Path, output_dir: Path):
    tasks = select_tasks(names)
    for task in tasks:  # fail on a missing download before converting anything
        for split in SPLITS:
            require_file(task.raw_path(raw_dir, split), BLURB_HINT)
    return {task.name: convert_task(task, raw_dir, output_dir) for task in tasks}
