"""The `archbudget` command. `summary` and `memory` start through cli/fast.py (no typer,
no rich, no polars); everything else, and any command line the fast start does not take
whole, goes to the typer app (cli/commands.py)."""
import os
import sys

from archbudget.cli import signals as _signals


def __getattr__(name: str) -> object:
    if name == "app":  # the typer app, imported when asked for (tests, completion)
        from archbudget.cli.commands import app

        return app
    raise AttributeError(f"module 'archbudget.cli' has no attribute {name!r}")


def main() -> None:
    from archbudget.cli.errors import say

    _signals.install()
    try:
        from archbudget.cli import fast

        status = fast.run(sys.argv[1:])
        if status is None:
            from archbudget.cli.commands import app

            app()
        else:
            _exit(status)
    except _signals.Terminated as e:
        say(f"archbudget: stopped by {e.name}")
        _exit(e.exit_status)
    except KeyboardInterrupt:
        say("archbudget: interrupted")
        _exit(_signals.EXIT_INTERRUPTED)
    except SystemExit as e:
        _exit(e.code)


def _exit(code) -> None:
    """Leave with `code`. A command stopped by a signal leaves at once (os._exit, after
    flushing): finalizing the interpreter's heap can take a second, and a Polars sink
    thread still stopping would abort the finalization."""
    status = code if isinstance(code, int) else (0 if code is None else 1)
    writers = sys.modules.get("archbudget.cli.writers")  # loaded only by commands that write files
    if status > 128 or (writers is not None and writers.sink_still_running()):
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except OSError:
                pass
        os._exit(status)
    sys.exit(status)
