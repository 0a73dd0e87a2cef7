"""Errors meant for people: one line that names the file, the line, the field and what was expected.

Entry points run their body through `report_errors`, which prints `error: <message>` and returns a
non-zero exit status instead of a traceback.
"""

import sys
from collections.abc import Callable


class LinkBertError(Exception):
    """Base class of the errors an entry point reports as one line."""


class DataError(LinkBertError):
    """An input file is missing or one of its records is malformed."""

    def __init__(self, path, message: str, line: int | None = None, field: str | None = None):
        self.path, self.line, self.field = str(path), line, field
        where = self.path if line is None else f"{self.path}:{line}"
        if field is not None:
            where += f": field '{field}'"
        super().__init__(f"{where}: {message}")


class UsageError(LinkBertError):
    """A flag combination or a checkpoint location that cannot work."""


class FieldError(LinkBertError):
    """Raised by a task's record check: which field is wrong and what was expected. The data loader
    adds the file and line number and re-raises it as a DataError."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


def report_errors(body: Callable[[], object], status: int = 2) -> int:
    """Run an entry point's body; a LinkBertError becomes one `error:` line on stderr and `status`."""
    try:
        body()
    except LinkBertError as err:
        print(f"error: {err}", file=sys.stderr)
        return status
    return 0
