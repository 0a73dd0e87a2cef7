"""MRQA 2019 shared-task files -> extractive-QA splits with the LinkBERT in-house dev/test split.

    python scripts/preprocess_mrqa.py [--raw_dir raw_data/mrqa] [--splits_dir scripts/inhouse_splits]
                                      [--output_dir data/qa] [--datasets squad hotpot ...]

Input: `<raw_dir>/{train,dev}/<X>.jsonl` or `<X>.jsonl.gz` (one header line, then one JSON context per
line with its `qas`). Output: `<output_dir>/<d>_hf/{train,dev,test}.json`, one record per question,
`{"id", "question", "context", "answers": {"answer_start", "text"}}`. The official MRQA dev file is
divided into the paper's dev and test halves by `inhouse_split_<d>.json`, whose indices select
context lines (after the header), not questions, in the order listed (ACL Table 1 evaluates on these halves;
original scripts/preprocess_mrqa.py).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from linkbert.errors import DataError
from linkbert.jsonl import read_json
from linkbert.preprocess.common import (
    iter_lines,
    nonempty,
    parse_json_object,
    require_file,
    require_keys,
    whitespace_tokens,
    write_splits,
)

# Output name <- MRQA release file name; TriviaQA-web and NaturalQuestionsShort are saved under the
# shorter names by scripts/download_raw_data.sh, as in the original download script.
DATASETS = {
    "squad": "SQuAD",
    "newsqa": "NewsQA",
    "triviaqa": "TriviaQA",
    "searchqa": "SearchQA",
    "hotpot": "HotpotQA",
    "naturalqa": "NaturalQuestions",
}
RAW_HINT = "download the MRQA files with `bash scripts/download_raw_data.sh mrqa`"
SPLIT_HINT = "download the in-house split files with `bash scripts/download_raw_data.sh splits`"
SHOWN_MISMATCHES = 5


@dataclass
class SpanCheck:
    """Compares each detected answer's first char span with its text (MRQA spans end inclusively).

    The original kept every record as it was; in `warn` mode so do we, counting mismatches and
    naming the first few question ids; in `error` mode the first mismatch is a DataError.
    """

    mode: str = "warn"
    mismatches: int = 0
    first_ids: list[str] = field(default_factory=list)

    def check(self, path: Path, number: int, where: str, qa_id: str, context: str, start: int, end: int, text: str):
        found = context[start : end + 1]
        if found == text:
            return
        if self.mode == "error":
            message = f"question {qa_id!r}: context[{start}:{end + 1}] is {found!r} but the answer text is {text!r}"
            raise DataError(path, message, line=number, field=where)
        self.mismatches += 1
        if len(self.first_ids) < SHOWN_MISMATCHES:
            self.first_ids.append(str(qa_id))

    def report(self, dataset: str) -> None:
        if self.mismatches:
            print(
                f"warning: {dataset}: {self.mismatches} detected answers whose context[start:end+1] differs from "
                f"their text (kept unchanged, as the original did); first question ids: {', '.join(self.first_ids)}",
                file=sys.stderr,
            )


def find_raw_file(raw_dir: Path, part: str, name: str) -> Path:
    """`<raw_dir>/<part>/<name>.jsonl`, else the same with `.gz`; DataError naming both when neither exists."""
    plain = raw_dir / part / f"{name}.jsonl"
    packed = plain.with_name(plain.name + ".gz")
    for candidate in (plain, packed):
        if candidate.is_file():
            return candidate
    raise DataError(packed, f"file not found (nor {plain.name}); {RAW_HINT}")


def context_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield (line number, text) for every line after the header line, which must be `{"header": ...}`."""
    lines = iter_lines(path)
    first = next(lines, None)
    if first is None:
        raise DataError(path, "empty file; expected the MRQA header line", line=1, field="header")
    header = parse_json_object(path, *first)
    if "header" not in header:
        raise DataError(path, "expected the MRQA header line first", line=1, field="header")
    yield from lines


def answer_span(path: Path, number: int, where: str, answer: object) -> tuple[str, int, int]:
    """Validate one detected answer; return its text and its first char span (start, inclusive end)."""
    if not isinstance(answer, dict):
        raise DataError(path, "expected a JSON object", line=number, field=where)
    require_keys(path, number, answer, {"text": str, "char_spans": list}, prefix=f"{where}.")
    spans = answer["char_spans"]
    first = spans[0] if spans else None
    if not (isinstance(first, list) and len(first) == 2 and all(isinstance(i, int) for i in first)):
        raise DataError(
            path, "expected a non-empty list of [start, end] pairs", line=number, field=f"{where}.char_spans"
        )
    return answer["text"], first[0], first[1]


def qa_record(path: Path, number: int, where: str, context: str, qa: object, spans: SpanCheck) -> dict:
    """One output record for one question, in the original's field order."""
    if not isinstance(qa, dict):
        raise DataError(path, "expected a JSON object", line=number, field=where)
    require_keys(path, number, qa, {"question": str, "detected_answers": list}, prefix=f"{where}.")
    # Most MRQA sets name the question id "id"; some use "qid" (the original tried "id" first).
    id_key = "id" if "id" in qa else "qid"
    if id_key not in qa:
        raise DataError(path, "missing (and no 'qid' either)", line=number, field=f"{where}.id")
    qa_id = qa[id_key]
    starts, texts = [], []
    for j, answer in enumerate(qa["detected_answers"]):
        answer_where = f"{where}.detected_answers[{j}]"
        text, start, end = answer_span(path, number, answer_where, answer)
        spans.check(path, number, f"{answer_where}.char_spans", qa_id, context, start, end, text)
        starts.append(start)
        texts.append(text)
    answers = {"answer_start": starts, "text": texts}
    return {"id": qa_id, "question": qa["question"].strip(), "context": context, "answers": answers}


def context_records(path: Path, number: int, text: str, spans: SpanCheck) -> list[dict]:
    """All question records of one context line; the context is kept raw, with its [PAR]/[DOC] markers."""
    paragraph = parse_json_object(path, number, text)
    require_keys(path, number, paragraph, {"context": str, "qas": list})
    context = paragraph["context"]
    if not context.strip():
        raise DataError(path, "empty context", line=number, field="context")
    return [qa_record(path, number, f"qas[{i}]", context, qa, spans) for i, qa in enumerate(paragraph["qas"])]


def file_records(path: Path, spans: SpanCheck) -> Iterator[dict]:
    """Stream the records of a whole MRQA file (the train split), skipping its header line; a file
    with no question after its header is an error (write_splits then removes what it wrote)."""
    count = 0
    for number, text in context_lines(path):
        for record in context_records(path, number, text, spans):
            count += 1
            yield record
    if count == 0:
        raise DataError(path, "no examples in this file")


def _index_list(path: Path, split: dict, key: str, n_contexts: int) -> list[int]:
    indices = split.get(key)
    if not isinstance(indices, list):
        raise DataError(path, "expected a list of context indices", field=key)
    for position, index in enumerate(indices):
        if not isinstance(index, int) or not 0 <= index < n_contexts:
            message = f"index {index!r} is not a context line number in 0..{n_contexts - 1}"
            raise DataError(path, message, field=f"{key}[{position}]")
    return indices


def load_split_indices(path: Path, n_contexts: int, dev_path: Path) -> dict[str, list[int]]:
    """Read `inhouse_split_<d>.json` and check, as the original asserted, that its dev and test lists
    together have as many indices as the MRQA dev file has context lines."""
    require_file(path, SPLIT_HINT)
    split = read_json(path, what="a JSON object with 'dev' and 'test' index lists")
    indices = {key: _index_list(path, split, key, n_contexts) for key in ("dev", "test")}
    total = len(indices["dev"]) + len(indices["test"])
    if total != n_contexts:
        raise DataError(
            path,
            f"{len(indices['dev'])} dev + {len(indices['test'])} test = {total} indices, but {dev_path} has "
            f"{n_contexts} context lines after its header; the split file must belong to this MRQA v2 dev file",
        )
    return indices


def selected_records(
    path: Path, lines: list[tuple[int, str]], indices: Iterable[int], spans: SpanCheck
) -> Iterator[dict]:
    """Records of the selected context lines, in the order the split file lists them."""
    for index in indices:
        number, text = lines[index]
        yield from context_records(path, number, text, spans)


def inhouse_splits(dev_path: Path, split_path: Path, spans: SpanCheck) -> dict[str, Iterator[dict]]:
    """The in-house dev and test record streams cut from the official MRQA dev file."""
    lines = nonempty(dev_path, list(context_lines(dev_path)))
    indices = load_split_indices(split_path, len(lines), dev_path)
    return {key: selected_records(dev_path, lines, indices[key], spans) for key in ("dev", "test")}


def record_length(record: dict) -> int:
    return whitespace_tokens(record["context"])


def convert_dataset(name: str, raw_dir: Path, splits_dir: Path, output_dir: Path, on_span_mismatch: str = "warn"):
    """Write `<output_dir>/<name>_hf/{train,dev,test}.json` for one MRQA dataset; return the summaries."""
    raw_name = DATASETS[name]
    train_path = find_raw_file(raw_dir, "train", raw_name)
    dev_path = find_raw_file(raw_dir, "dev", raw_name)
    spans = SpanCheck(on_span_mismatch)
    # dev and test first: they are small, so a bad split file or dev line fails before the long train pass.
    splits = inhouse_splits(dev_path, splits_dir / f"inhouse_split_{name}.json", spans)
    splits["train"] = file_records(train_path, spans)
    summaries = write_splits(name, output_dir / f"{name}_hf", splits, record_length)
    spans.report(name)
    return summaries


def check_inputs(names: Iterable[str], raw_dir: Path, splits_dir: Path) -> None:
    """Fail before any work if a raw or split file of a selected dataset is missing."""
    for name in names:
        for part in ("train", "dev"):
            find_raw_file(raw_dir, part, DATASETS[name])
        require_file(splits_dir / f"inhouse_split_{name}.json", SPLIT_HINT)


def convert_all(
    names: Iterable[str], raw_dir: Path, splits_dir: Path, output_dir: Path, on_span_mismatch: str = "warn"
):
    names = list(names)
    check_inputs(names, raw_dir, splits_dir)
    return {name: convert_dataset(name, raw_dir, splits_dir, output_dir, on_span_mismatch) for name in names}
