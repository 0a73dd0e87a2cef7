"""Helpers shared by the preprocessing scripts: reading raw text files (plain or gzipped) with line
numbers, checking tab-separated columns, writing a dataset's split files all-or-nothing, and printing
the per-split summary (examples written, length statistics, time).

Used by `linkbert.preprocess.{mrqa,blurb,mc}`; run through e.g. `python scripts/preprocess_blurb.py`.
"""

from __future__ import annotations

import gzip
import json
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from linkbert.errors import DataError
from linkbert.jsonl import ENCODING, atomic_output, parse_json, utf8_errors

GZIP_MAGIC = b"\x1f\x8b"


def require_file(path: Path, hint: str) -> Path:
    """Return `path` if it is a file; otherwise raise DataError saying what to download."""
    if not path.is_file():
        raise DataError(path, f"file not found; {hint}")
    return path


def nonempty(path: Path, records: list) -> list:
    """`records` read from raw file `path`, refused when there are none: an empty download would
    otherwise become an empty split file that fine-tuning rejects much later."""
    if not records:
        raise DataError(path, "no examples in this file")
    return records


def open_text(path: Path):
    """Open `path` for reading text; a name ending in `.gz` is read through gzip, after checking the
    magic bytes so that a mislabelled file fails with its name instead of a bare BadGzipFile."""
    if path.suffix != ".gz":
        return open(path, encoding=ENCODING)
    with open(path, "rb") as raw:
        magic = raw.read(2)
    if magic != GZIP_MAGIC:
        raise DataError(
            path, "named .gz but is not gzip-compressed; re-download it, or drop the .gz suffix if it is plain text"
        )
    return gzip.open(path, "rt", encoding=ENCODING)


def iter_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, line without its newline) from a plain or gzipped text file."""
    with open_text(path) as handle:
        number = 0
        try:
            with utf8_errors(path):
                for number, line in enumerate(handle, start=1):
                    yield number, line.rstrip("\n")
        except (OSError, EOFError, zlib.error) as err:  # truncated or corrupt gzip stream
            raise DataError(path, f"corrupt or truncated data ({err})", line=number or None) from None


def parse_json_object(path: Path, number: int, text: str) -> dict:
    """Parse one JSON-lines line into a dict, or raise DataError naming the file and line."""
    return parse_json(path, text, line=number)


def split_columns(path: Path, number: int, line: str, names: Sequence[str]) -> list[str]:
    """Split a tab-separated line into exactly len(names) columns; on a wrong count, raise DataError
    naming the first missing column (too few) or the last expected one (too many)."""
    columns = line.split("\t")
    return check_columns(path, number, columns, names)


def check_columns(path: Path, number: int, columns: list[str], names: Sequence[str]) -> list[str]:
    """Return `columns` (a split tsv line or a csv row) if there are exactly len(names), else raise DataError."""
    if len(columns) == len(names):
        return columns
    expected = f"expected {len(names)} columns ({', '.join(names)}), found {len(columns)}"
    if len(columns) < len(names):
        raise DataError(path, f"missing; {expected}", line=number, field=names[len(columns)])
    raise DataError(path, f"extra columns after it; {expected}", line=number, field=names[-1])


def require_keys(path: Path, number: int | None, record: dict, types: dict[str, type], prefix: str = "") -> None:
    """Raise DataError unless `record` has every key of `types` with a value of that type."""
    for key, kind in types.items():
        if key not in record:
            raise DataError(path, "missing", line=number, field=prefix + key)
        if not isinstance(record[key], kind):
            got = type(record[key]).__name__
            raise DataError(path, f"expected {kind.__name__}, got {got}", line=number, field=prefix + key)


def whitespace_tokens(*texts: str) -> int:
    """Length measure printed in summaries: whitespace-separated tokens of the given texts."""
    return sum(len(text.split()) for text in texts)


@dataclass
class SplitSummary:
    """What one written split file holds: its example count and per-example lengths."""

    dataset: str
    split: str
    path: Path
    lengths: list[int]

    def line(self) -> str:
        """One printed line, like the original scripts' `total ... seqlen mean ... median ... 95th`."""
        head = f"{self.dataset} {self.split}: {len(self.lengths)} examples -> {self.path}"
        if not self.lengths:
            return head
        values = np.asarray(self.lengths)
        stats = (
            f"mean {values.mean():.1f}, median {np.median(values):.0f}, "
            f"95th {np.percentile(values, 95):.0f}, max {values.max()}"
        )
        return f"{head}\n    length in whitespace tokens: {stats}"


def _dirs_to_create(folder: Path) -> list[Path]:
    """The folders (deepest first) that creating `folder` would add, so a failure can remove them."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    return missing


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:  # not empty or already gone: leave it
            return


def write_splits(
    dataset: str,
    out_dir: Path,
    splits: dict[str, Iterable[dict]],
    length_of: Callable[[dict], int],
) -> list[SplitSummary]:
    """Write `out_dir/<split>.json` for every split, all or nothing.

    Records stream into temporary files that are renamed only once every split has been written
    without error; on failure the temporaries and any folder this call created are removed, so a bad
    raw file never leaves a half-written dataset behind. Prints one summary per split and the time.
    """
    start = time.perf_counter()
    created = _dirs_to_create(out_dir)
    summaries = []
    try:
        with ExitStack() as stack:
            for split, records in splits.items():
                path = out_dir / f"{split}.json"
                handle = stack.enter_context(atomic_output(path))
                lengths = []
                for record in records:
                    handle.write(json.dumps(record) + "\n")
                    lengths.append(length_of(record))
                summaries.append(SplitSummary(dataset, split, path, lengths))
    except BaseException:
        _remove_empty(created)
        raise
    for summary in summaries:
        print(summary.line())
    print(f"{dataset}: wrote {len(summaries)} files in {time.perf_counter() - start:.1f}s")
    return summaries
