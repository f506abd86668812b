"""`archbudget report ROWS.parquet -o REPORT.html`: the rows of a sweep as a
self-contained HTML report, and optionally the Pareto front as an SVG figure."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from archbudget.cli.errors import reported
from archbudget.errors import ArchBudgetError


def report(
    rows: Annotated[Path, typer.Argument(help="A sweep's rows: a .parquet file or a dataset directory (--backend ray).", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="The HTML report to write.", show_default=False)],
    figure: Annotated[Optional[Path], typer.Option(help="Also write the Pareto front alone as an SVG figure.")] = None,
) -> None:
    """Write an HTML report of a sweep's rows: the Pareto front, survivors per axis value, the settings."""
    with reported():
        from archbudget.dataset import read_rows
        from archbudget.report import write_report

        if output.suffix != ".html":
            raise ArchBudgetError(f"-o {output}: the report is an .html file")
        if figure is not None and figure.suffix != ".svg":
            raise ArchBudgetError(f"--figure {figure}: the figure is an .svg file")
        frame, settings = read_rows(rows)
        write_report(frame, settings, output, figure)
