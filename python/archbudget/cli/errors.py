"""The one table from exception to message and exit status: 0 ok, 2 bad input, 3 nothing
fits (`fit`), 1 a bug, 130 interrupted (Ctrl-C), 141 standard output closed early
(`| head`), 128 + N killed by signal N (SIGTERM 143, SIGHUP 129; cli/signals.py)."""
import os
import sys

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


def exit_status(e: BaseException) -> int:
    """The one line on stderr for an exception raised by a command, and the exit status
    it gives."""
    if isinstance(e, KeyboardInterrupt):
        say("archbudget: interrupted")
        return EXIT_INTERRUPTED
    if isinstance(e, BrokenPipeError):
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    if isinstance(e, InternalError):
        print(f"archbudget: {e}", file=sys.stderr)
        return EXIT_INTERNAL
    if isinstance(e, DoesNotFitError):
        print(f"archbudget: {e}", file=sys.stderr)
        return EXIT_DOES_NOT_FIT
    if isinstance(e, (ArchBudgetError, OSError)):
        print(f"archbudget: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    # a bug: one line, not a traceback
    print(f"archbudget: internal error: {type(e).__name__}: {e} (please report it with the input)", file=sys.stderr)
    return EXIT_INTERNAL


def run_reported(command) -> int:
    """Run a command (a function of no arguments); its exception becomes one line on
    stderr and an exit status."""
    try:
        command()
        sys.stdout.flush()  # a closed pipe shows here, not at exit
    except (KeyboardInterrupt, Exception) as e:
        return exit_status(e)
    return 0


class reported:
    """`with reported():` turns archbudget's exceptions into one line on stderr and an
    exit status (typer's commands). A class rather than contextlib's decorator: the
    fast start of `summary` does without contextlib's imports."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, e, traceback) -> bool:
        if e is None:
            try:
                sys.stdout.flush()  # a closed pipe shows here, not at exit
                return False
            except (KeyboardInterrupt, Exception) as flushing:
                e = flushing
        if not isinstance(e, (KeyboardInterrupt, Exception)):
            return False  # SystemExit and the like pass
        import typer

        raise typer.Exit(exit_status(e)) from None
