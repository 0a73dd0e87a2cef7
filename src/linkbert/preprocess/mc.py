"""MedQA-USMLE and MMLU raw files -> 4-option multiple-choice splits (the fields of HF run_swag).

    python scripts/preprocess_medqa.py [--raw_dir raw_data/medqa] [--output_dir data/mc]
    python scripts/preprocess_mmlu.py  [--raw_dir raw_data/mmlu]  [--output_dir data/mc] \
        [--subjects professional_medicine]

Records: `{"id", "sent1": question, "sent2": "", "ending0".."ending3": options A..D, "label": letter - "A"}`,
as the original scripts/preprocess_{medqa,mmlu}.py wrote them. MedQA uses the US 4-option questions
(`phrases_no_exclude_{train,dev,test}.jsonl`, ids `<split>-%05d`); MMLU the header-less
`data/{dev,val,test}/<subject>_<split>.csv` (ids `<subject>_<split>-%05d`).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path

from linkbert.errors import DataError
from linkbert.jsonl import ENCODING, read_jsonl, utf8_errors
from linkbert.preprocess.common import (
    check_columns,
    nonempty,
    require_file,
    require_keys,
    whitespace_tokens,
    write_splits,
)

LETTERS = ("A", "B", "C", "D")
MEDQA_SPLITS = ("train", "dev", "test")
MMLU_SPLITS = ("dev", "val", "test")
MEDQA_DIR = Path("data_clean", "questions", "US", "4_options")
MEDQA_HINT = "MedQA is a manual download: `bash scripts/download_raw_data.sh medqa` prints the steps"
MMLU_HINT = "download it with `bash scripts/download_raw_data.sh mmlu`"
MMLU_COLUMNS = ("question", "A", "B", "C", "D", "answer")


def answer_index(path: Path, number: int, name: str, letter: object) -> int:
    """Option letter -> label index (A=0 ... D=3)."""
    if letter not in LETTERS:
        raise DataError(path, f"expected one of {', '.join(LETTERS)}, got {letter!r}", line=number, field=name)
    return ord(letter) - ord("A")


def mc_record(example_id: str, question: str, options: Sequence[str], label: int) -> dict:
    """One multiple-choice record in the original field order; sent2 (the SWAG "header") is empty."""
    record = {"id": example_id, "sent1": question, "sent2": ""}
    record.update({f"ending{i}": option for i, option in enumerate(options)})
    record["label"] = label
    return record


def record_length(record: dict) -> int:
    """Question plus the longest option, in whitespace tokens (the original measured the same in chars)."""
    longest = max(whitespace_tokens(record[f"ending{i}"]) for i in range(len(LETTERS)))
    return whitespace_tokens(record["sent1"]) + longest


# ---------------------------------------------------------------- MedQA-USMLE


def medqa_path(raw_dir: Path, split: str) -> Path:
    return raw_dir / MEDQA_DIR / f"phrases_no_exclude_{split}.jsonl"


def medqa_record(path: Path, number: int, example_id: str, item: dict) -> dict:
    require_keys(path, number, item, {"question": str, "options": dict, "answer_idx": str})
    # Only options A-D are used, in letter order, as in the original.
    require_keys(path, number, item["options"], dict.fromkeys(LETTERS, str), prefix="options.")
    options = [item["options"][letter] for letter in LETTERS]
    label = answer_index(path, number, "answer_idx", item["answer_idx"])
    return mc_record(example_id, item["question"], options, label)


def read_medqa(path: Path, split: str) -> list[dict]:
    records = [
        medqa_record(path, number, f"{split}-{i:05d}", item) for i, (number, item) in enumerate(read_jsonl(path))
    ]
    return nonempty(path, records)


def convert_medqa(raw_dir: Path, output_dir: Path):
    """Write `<output_dir>/medqa_usmle_hf/{train,dev,test}.json` once all three raw files check out."""
    paths = {split: require_file(medqa_path(raw_dir, split), MEDQA_HINT) for split in MEDQA_SPLITS}
    records = {split: read_medqa(path, split) for split, path in paths.items()}
    return write_splits("medqa_usmle", output_dir / "medqa_usmle_hf", records, record_length)


# ---------------------------------------------------------------- MMLU


def mmlu_path(raw_dir: Path, subject: str, split: str) -> Path:
    return raw_dir / "data" / split / f"{subject}_{split}.csv"


def read_mmlu(path: Path, subject: str, split: str) -> list[dict]:
    """Header-less csv rows: question, A, B, C, D, answer letter."""
    records = []
    # Opened without newline="" exactly like the original's csv.reader(open(...)), so line breaks
    # inside quoted fields come out the same.
    with utf8_errors(path), open(path, encoding=ENCODING) as handle:
        reader = csv.reader(handle)
        first_line = 1
        for i, row in enumerate(reader):
            question, *options, letter = check_columns(path, first_line, row, MMLU_COLUMNS)
            label = answer_index(path, first_line, "answer", letter)
            records.append(mc_record(f"{subject}_{split}-{i:05d}", question, options, label))
            first_line = reader.line_num + 1
    return nonempty(path, records)


def convert_mmlu(raw_dir: Path, output_dir: Path, subjects: Iterable[str] = ("professional_medicine",)):
    """Write `<output_dir>/mmlu_hf/<subject>/{dev,val,test}.json` for each subject."""
    subjects = list(subjects)
    paths = {
        (s, split): require_file(mmlu_path(raw_dir, s, split), MMLU_HINT) for s in subjects for split in MMLU_SPLITS
    }
    summaries = {}
    for subject in subjects:
        records = {split: read_mmlu(paths[subject, split], subject, split) for split in MMLU_SPLITS}
        summaries[subject] = write_splits(f"mmlu {subject}", output_dir / "mmlu_hf" / subject, records, record_length)
    return summaries
