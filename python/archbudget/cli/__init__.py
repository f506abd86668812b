"""The `archbudget` command: one typer app, one module per command."""
from typing import Annotated

import typer

from archbudget.cli import memory as _memory
from archbudget.cli import summary as _summary
from archbudget.cli import sweep as _sweep

app = typer.Typer(
    name="archbudget",
    help="Parameter counts, shapes, FLOPs and peak GPU memory of neural networks from their description.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("summary")(_summary.summary)
app.command("memory")(_memory.memory)
app.command("sweep")(_sweep.sweep)


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


def main() -> None:
    app()
