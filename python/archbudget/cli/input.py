"""Reading the MODEL argument: a path, or '-' for standard input."""
import sys

from archbudget.api import read_path


def read_model(model: str) -> tuple[bytes, str]:
    if model == "-":
        return sys.stdin.buffer.read(), "<stdin>"
    return read_path(model), model
