"""The one table from exception to message and exit status: 0 ok, 2 bad input."""
import contextlib
import sys
from collections.abc import Iterator

import typer

from archbudget.errors import ArchBudgetError, InternalError

EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 1


@contextlib.contextmanager
def reported() -> Iterator[None]:
    """Turn archbudget's exceptions into one line on stderr and an exit status."""
    try:
        yield
    except InternalError as e:
        print(f"archbudget: {e}", file=sys.stderr)
        raise typer.Exit(EXIT_INTERNAL) from None
    except ArchBudgetError as e:
        print(f"archbudget: error: {e}", file=sys.stderr)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except OSError as e:
        print(f"archbudget: error: {e}", file=sys.stderr)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except Exception as e:  # a bug: one line, not a traceback
        print(f"archbudget: internal error: {type(e).__name__}: {e} (please report it with the input)", file=sys.stderr)
        raise typer.Exit(EXIT_INTERNAL) from None
