"""Read and write JSON-lines files: line-numbered reading with clear errors, atomic writing.

Every data file of the project (preprocessed splits, predictions, pretraining corpora) is JSON lines:
one `json.dumps` object per line, as the original LinkBERT preprocessing writes them.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from linkbert.errors import DataError


def read_jsonl(path: str | os.PathLike) -> Iterator[tuple[int, dict]]:
    """Yield (1-based line number, object) for each non-blank line; a line that is not a JSON object
    raises DataError naming the file and the line."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found")
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(path, f"not valid JSON ({err.msg} at column {err.colno})", line=number) from None
            if not isinstance(record, dict):
                raise DataError(path, f"expected a JSON object, got {type(record).__name__}", line=number)
            yield number, record


@contextmanager
def atomic_output(path: str | os.PathLike, mode: str = "w"):
    """Open a temporary file beside `path` and move it onto `path` only if the block succeeds, so a
    crash never leaves a half-written output behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # a fresh name opened exclusively (not mkstemp, which creates 0600 files): the output gets the
    # user's usual permissions
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, mode.replace("w", "x"), encoding=None if "b" in mode else "utf-8") as handle:
            yield handle
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_jsonl(path: str | os.PathLike, records: Iterable[dict]) -> int:
    """Write `records` as JSON lines atomically; return how many were written."""
    count = 0
    with atomic_output(path) as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
            count += 1
    return count
