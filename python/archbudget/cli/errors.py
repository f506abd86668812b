"""The one table from exception to message and exit status: 0 ok, 2 bad input, 3 nothing
fits (`fit`), 1 a bug, 130 interrupted (Ctrl-C), 141 standard output closed early
(`| head`), 128 + N killed by signal N (SIGTERM 143, SIGHUP 129; cli/signals.py)."""
import contextlib
import os
import sys
from collections.abc import Iterator

import typer

from archbudget.cli.signals import EXIT_INTERRUPTED
from archbudget.errors import ArchBudgetError, DoesNotFitError, InternalError

EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 1
# `fit`: the input is fine, but nothing fits (a "no" a script can tell from bad input).
EXIT_DOES_NOT_FIT = 3
# What a shell reports for a writer killed by SIGPIPE: the reader stopped reading.
EXIT_BROKEN_PIPE = 141


def say(line: str) -> None:
    """One line on stderr, which may be gone (a closed terminal after SIGHUP)."""
    try:
        print(line, file=sys.stderr, flush=True)
    except OSError:
        pass


def _silence_stdout() -> None:
    """Point standard output at /dev/null, so that flushing what is still buffered at exit
    does not fail again on the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


@contextlib.contextmanager
def reported() -> Iterator[None]:
    """Turn archbudget's exceptions into one line on stderr and an exit status."""
    try:
        yield
        sys.stdout.flush()  # a closed pipe shows here, not at exit
    except KeyboardInterrupt:
        say("archbudget: interrupted")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except BrokenPipeError:
        _silence_stdout()
        raise typer.Exit(EXIT_BROKEN_PIPE) from None
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
