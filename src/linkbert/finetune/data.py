"""Read and validate the JSON-lines splits before anything else happens.

Every record of every split is checked by the task's `check_record` first, so that a bad file stops
the run with one line naming the file, the line number and the field, before the model is loaded
and before anything is written to output_dir. Only then are the splits loaded with `datasets`
(memory-mapped Arrow, cached on disk, so tokenization is cached too).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from linkbert.errors import DataError, FieldError, UsageError
from linkbert.jsonl import read_jsonl

if TYPE_CHECKING:  # imported where used: `datasets` takes a second or two to import
    import datasets

logger = logging.getLogger(__name__)

# split name -> (DataArguments field, TrainingArguments switch that needs it, cap field)
SPLITS = {
    "train": ("train_file", "do_train", "max_train_samples"),
    "validation": ("validation_file", "do_eval", "max_eval_samples"),
    "test": ("test_file", "do_predict", "max_predict_samples"),
}


@dataclass
class Split:
    name: str  # "train", "validation" or "test"
    path: Path
    examples: datasets.Dataset
    features: datasets.Dataset | None = None
    labelled: bool = True  # False for a prediction file without labels: decoded, never scored


def split_paths(data_args, training_args, always_needed: tuple[str, ...] = ()) -> dict[str, Path]:
    """The split files this run needs: train for --do_train, validation for --do_eval, test for
    --do_predict, plus those a task reads whenever they are given (sequence classification and NER
    read their label set from train; without a train file they take it from the checkpoint). A
    missing flag that a --do_ switch needs is a usage error; a given file that is missing a data error."""
    paths = {}
    for name, (flag, switch, _) in SPLITS.items():
        path = getattr(data_args, flag)
        needed = getattr(training_args, switch)
        if needed and path is None:
            raise UsageError(f"--{flag} is required with --{switch}")
        if path is not None and (needed or name in always_needed):
            if not Path(path).is_file():
                raise DataError(path, f"file not found (given as --{flag})")
            paths[name] = Path(path)
    return paths


def check_file(path: Path, check_record: Callable[[dict], None], limit: int | None = None) -> int:
    """Run `check_record` on each record (the first `limit` only, matching what will be used);
    turn its FieldError into a DataError with file and line. Return the number of records."""
    count = 0
    for line, record in read_jsonl(path):
        if limit is not None and count >= limit:
            break
        try:
            check_record(record)
        except FieldError as err:
            raise DataError(path, str(err), line=line, field=err.field) from None
        count += 1
    if count == 0:
        raise DataError(path, "no examples: the file is empty")
    return count


def load_examples(path: Path, limit: int | None = None, cache_dir: str | None = None) -> datasets.Dataset:
    """Load one validated JSON-lines split; add an `id` column (the 0-based line index) when the
    data has none, so every prediction can be traced back to its example."""
    import datasets

    dataset = datasets.load_dataset("json", data_files=str(path), split="train", cache_dir=cache_dir)
    if limit is not None:
        dataset = dataset.select(range(min(limit, len(dataset))))
    if "id" not in dataset.column_names:
        dataset = dataset.add_column("id", [str(index) for index in range(len(dataset))])
    return dataset


def require(record: dict, name: str, kinds: type | tuple[type, ...], what: str):
    """Return record[name], raising FieldError when it is missing or not of `kinds`."""
    if name not in record:
        raise FieldError(name, f"missing (expected {what})")
    value = record[name]
    # bool is an int subclass in Python, never a valid text, label or index here
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise FieldError(name, f"expected {what}, got {type(value).__name__} {value!r:.60}")
    return value
