"""Reading the MODEL (or SPACE) argument: a path, or '-' for standard input."""
import os
import stat
import sys

from archbudget.api import read_capped, read_path
from archbudget.errors import ArchBudgetError


def read_stdin() -> bytes:
    """Standard input up to the input cap. A device other than a terminal (`< /dev/zero`)
    is refused at once rather than read for 256 MiB."""
    mode = os.fstat(sys.stdin.fileno()).st_mode if _has_fileno() else 0
    if (stat.S_ISCHR(mode) or stat.S_ISBLK(mode)) and not sys.stdin.isatty():
        raise ArchBudgetError("<stdin>: a device, not a file or a pipe")
    return read_capped(sys.stdin.buffer, "<stdin>")


def _has_fileno() -> bool:
    try:
        sys.stdin.fileno()
        return True
    except (OSError, ValueError, AttributeError):  # a test runner's in-memory stdin
        return False


def read_model(model: str) -> tuple[bytes, str]:
    if model == "-":
        return read_stdin(), "<stdin>"
    return read_path(model), model
