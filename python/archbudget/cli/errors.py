"""The one table from exception to message and exit status: 0 ok, 2 bad input, 3 nothing
fits (`fit`), 1 a bug."""
import contextlib
import sys
from collections.abc import Iterator

import typer

from archbudget.errors import ArchBudgetError, DoesNotFitError, InternalError

EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 1
# `fit`: the input is fine, but nothing fits (a "no" a script can tell from bad input).
EXIT_DOES_NOT_FIT = 3


@contextlib.contextmanager
def reported() -> Iterator[None]:
    """Turn archbudget's exceptions into one line on stderr and an exit status."""
    try:
        yield
    except InternalError as e:
        print(f"archbudget: {e}", file=sys.stderr)
        raise typer.Exit(EXIT_INTERNAL) from None
    except DoesNotFitError as e:
        print(f"archbudget: {e}", file=sys.stderr)
        raise typer.Exit(EXIT_DOES_NOT_FIT) from None
    except ArchBudgetError as e:
        print(f"archbudget: error: {e}", file=sys.stderr)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except OSError as e:
        print(f"archbudget: error: {e}", file=sys.stderr)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except Exception as e:  # a bug: one line, not a traceback
        print(f"archbudget: internal error: {type(e).__name__}: {e} (please report it with the input)", file=sys.stderr)
        raise typer.Exit(EXIT_INTERNAL) from None
