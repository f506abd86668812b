"""The typer app of `archbudget`: one module per command."""
import sys
from typing import Annotated

import typer
from typer.core import TyperCommand, TyperGroup

from archbudget.cli import fit as _fit
from archbudget.cli import gpus as _gpus
from archbudget.cli import memory as _memory
from archbudget.cli import report as _report
from archbudget.cli import signals as _signals
from archbudget.cli import summary as _summary
from archbudget.cli import sweep as _sweep

# click's UsageError and NoArgsIsHelpError, wherever this typer takes click from (its own
# vendored copy or the click package): BadParameter derives from the one, and the other
# (click >= 8.2) lives beside it.
_UsageError = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")
_NoArgsIsHelp = getattr(sys.modules[_UsageError.__module__], "NoArgsIsHelpError", ())


def _flags_without_type(params: list) -> list:
    """A flag (--descending, --help) takes no value: the help shows no `<bool>` for it."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


class _Command(TyperCommand):
    def get_params(self, ctx):
        return _flags_without_type(super().get_params(ctx))


class _OneLineErrors(TyperGroup):
    """Usage errors as one line on stderr, like every other error of the CLI (typer would
    draw a box over several lines); the exit status stays 2."""

    def get_params(self, ctx):
        return _flags_without_type(super().get_params(ctx))

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            status = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except _NoArgsIsHelp as e:
            print(e.ctx.get_help())
            sys.exit(2)
        except _UsageError as e:
            where = e.ctx.command_path if e.ctx else "archbudget"
            message = " ".join(e.format_message().split())
            print(f"archbudget: error: {message} (see '{where} --help')", file=sys.stderr)
            sys.exit(2)
        except typer.Abort as e:
            # click turns a KeyboardInterrupt outside any command into Abort
            interrupted = isinstance(e.__cause__, KeyboardInterrupt)
            print("archbudget: interrupted" if interrupted else "archbudget: aborted", file=sys.stderr)
            sys.exit(_signals.EXIT_INTERRUPTED if interrupted else 1)
        # a command's typer.Exit(code) comes back as its code
        sys.exit(status if isinstance(status, int) else 0)


app = typer.Typer(
    name="archbudget",
    cls=_OneLineErrors,
    help="Parameter counts, shapes, FLOPs and peak GPU memory of neural networks from their description.",
    add_completion=True,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("summary", cls=_Command)(_summary.summary)
app.command("memory", cls=_Command)(_memory.memory)
app.command("sweep", cls=_Command)(_sweep.sweep)
app.command("gpus", cls=_Command)(_gpus.gpus)
app.command("fit", cls=_Command)(_fit.fit)
app.command("report", cls=_Command)(_report.report)


def _print_version(value: bool) -> None:
    if value:
        from archbudget import __version__

        print(f"archbudget {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    """Parameter counts, shapes, FLOPs and peak GPU memory of neural networks from their description."""
