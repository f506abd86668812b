"""Reading the MODEL argument: a path, or '-' for standard input."""
import sys
from pathlib import Path

from archbudget.errors import ArchBudgetError


def read_model(model: str) -> tuple[bytes, str]:
    if model == "-":
        return sys.stdin.buffer.read(), "<stdin>"
    try:
        return Path(model).read_bytes(), model
    except OSError as e:
        raise ArchBudgetError(f"{model}: cannot read: {e.strerror or e}") from None
