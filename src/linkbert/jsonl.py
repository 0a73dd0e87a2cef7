"""Read and write JSON-lines files: line-numbered reading with clear errors, atomic writing.

Every data file of the project (preprocessed splits, predictions, pretraining corpora) is JSON lines:
one `json.dumps` object per line, as the original LinkBERT preprocessing writes them.
"""

from __future__ import annotations

import glob
import gzip
import json
import os
import re
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from linkbert.errors import DataError, OutputError, os_error_reason

# atomic_output's temporary names: .<file name>.<pid>.<8 hex digits>.tmp
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[0-9a-f]{8}\.tmp$")


# Text files are read as UTF-8, a leading byte-order mark dropped (a BOM that Excel or Notepad added
# must not end up inside the first field).
ENCODING = "utf-8-sig"


def not_utf8(path: str | os.PathLike) -> DataError:
    """A DataError naming the line and column of the first byte of `path` that is not UTF-8 (files
    ending in .gz are read through gzip). Text readers decode in blocks of several KB, so their own
    UnicodeDecodeError cannot tell the line."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as err:
                return DataError(
                    path, f"not UTF-8 text (byte 0x{raw[err.start]:02x} at column {err.start + 1})", line=number
                )
    return DataError(path, "not UTF-8 text")


@contextmanager
def utf8_errors(path: str | os.PathLike):
    """Turn a UnicodeDecodeError raised while reading `path` into not_utf8(path)."""
    try:
        yield
    except UnicodeDecodeError:
        raise not_utf8(path) from None


def parse_json(
    path: str | os.PathLike, text: str, line: int | None = None, expect: type | None = dict, what: str = "a JSON object"
):
    """Parse JSON `text` read from `path` (at `line` for one line of a JSON-lines file); invalid JSON,
    or a value that is not of type `expect`, raises DataError naming the file and the line. This is
    the one place where the project turns a JSON syntax error into a message for people."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        # a whole file names the line inside it; one line of a JSON-lines file is always line 1
        raise DataError(
            path, f"not valid JSON ({err.msg} at column {err.colno})", line=err.lineno if line is None else line
        ) from None
    if expect is not None and not isinstance(value, expect):
        raise DataError(path, f"expected {what}, got {type(value).__name__}", line=line)
    return value


def read_json(path: str | os.PathLike, expect: type | None = dict, what: str = "a JSON object"):
    """Read and parse a whole JSON file (see parse_json); a missing or undecodable file is a DataError."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found")
    with utf8_errors(path):
        text = path.read_text(encoding=ENCODING)
    return parse_json(path, text, expect=expect, what=what)


def read_jsonl(path: str | os.PathLike) -> Iterator[tuple[int, dict]]:
    """Yield (1-based line number, object) for each non-blank line; a line that is not a JSON object
    raises DataError naming the file and the line."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found")
    with utf8_errors(path), open(path, encoding=ENCODING) as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield number, parse_json(path, line, line=number)


@contextmanager
def atomic_output(path: str | os.PathLike, mode: str = "w"):
    """Open a temporary file beside `path` and move it onto `path` only if the block succeeds, so a
    crash never leaves a half-written output behind. A failure to write (full disk, read-only
    folder, a folder where the file should be) raises OutputError naming `path`."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(path, "is a folder; expected the path of a file to write")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise folder_error(path.parent, err) from None
    _remove_stale_temporaries(path)
    # a fresh name opened exclusively (not mkstemp, which creates 0600 files): the output gets the
    # user's usual permissions
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, mode.replace("w", "x"), encoding=None if "b" in mode else "utf-8") as handle:
            yield handle
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise OutputError(path, os_error_reason(err)) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _remove_stale_temporaries(path: Path) -> None:
    """Remove the temporary files of `path` that an earlier, killed process left behind: the next run
    of the same step cleans up after the one that died (a writer that is still alive is left alone)."""
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        match = _TEMPORARY.match(stale.name)
        if match and match.group("name") == path.name and not _process_alive(int(match.group("pid"))):
            stale.unlink(missing_ok=True)


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # this process is writing it now only inside atomic_output, never before
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    return True


def folder_error(folder: Path, err: OSError) -> OutputError:
    """OutputError for a folder that could not be created: it names the file standing where the folder
    (or one above it) should be, rather than mkdir's 'File exists', else the folder mkdir refused."""
    blocking = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if blocking is not None and not blocking.is_dir():
        return OutputError(blocking, f"a file stands where a folder is needed (to hold {folder})")
    return OutputError(err.filename or folder, os_error_reason(err))


def write_jsonl(path: str | os.PathLike, records: Iterable[dict]) -> int:
    """Write `records` as JSON lines atomically; return how many were written."""
    count = 0
    with atomic_output(path) as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
            count += 1
    return count
