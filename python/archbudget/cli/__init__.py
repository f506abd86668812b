"""The `archbudget` command: one typer app, one module per command."""
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


@app.callback()
def _root() -> None:
    """Parameter counts, shapes, FLOPs and peak GPU memory of neural networks from their description."""


def main() -> None:
    app()
