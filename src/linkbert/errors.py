"""Errors meant for people: one line that names the file, the line, the field and what was expected.

Entry points run their body through `report_errors`, which prints `error: <message>` and returns a
non-zero exit status instead of a traceback. Failing to write an output (a full disk, a read-only
folder, a file where a folder should be) is reported the same way, naming the path and the cause.
"""

import errno
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


class OutputError(LinkBertError):
    """An output could not be written: the path and the operating system's reason."""

    def __init__(self, path, reason: str):
        self.path = str(path)
        super().__init__(f"{self.path}: {reason}")


# what to do about an operating-system error, by errno
_ADVICE = {
    errno.ENOSPC: "no space left on the device: free some and rerun the same command; results already written are kept",
    errno.EDQUOT: "disk quota exceeded: free some space and rerun the same command",
    errno.EROFS: "read-only file system: choose another location",
    errno.EACCES: "permission denied: choose a location you can write to",
    errno.EPERM: "operation not permitted: choose a location you can write to",
    errno.ENOTDIR: "a file stands where a folder is needed",
    errno.EISDIR: "a folder stands where a file is needed",
}


def os_error_reason(err: OSError) -> str:
    """The cause of an OSError in words, with advice for the usual ones."""
    return _ADVICE.get(err.errno) or err.strerror or str(err)


def describe_os_error(err: OSError) -> str:
    """'<path>: <reason>' for an OSError."""
    return f"{err.filename or 'output'}: {os_error_reason(err)}"


def disk_full(err: BaseException) -> bool:
    """Whether `err` (an OSError, or a library's wrapper of one such as safetensors') means a full disk."""
    if isinstance(err, OSError):
        return err.errno in (errno.ENOSPC, errno.EDQUOT)
    return "No space left on device" in str(err) or "os error 28" in str(err)


def report_errors(body: Callable[[], object], status: int = 2) -> int:
    """Run an entry point's body; a LinkBertError becomes one `error:` line on stderr and `status`;
    a file that could not be read or written (an OSError, or the OutputError that names the output
    behind it) one line naming the path and the cause, status 1: the same full disk gives the same
    status whichever write it stops."""
    try:
        body()
    except OutputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except LinkBertError as err:
        print(f"error: {err}", file=sys.stderr)
        return status
    except OSError as err:
        print(f"error: {describe_os_error(err)}", file=sys.stderr)
        return 1
    return 0
