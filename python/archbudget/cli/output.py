"""All output: tables for people (rich), JSON for programs."""
import json
import sys
from typing import Any

import polars as pl
from rich import box
from rich.console import Console
from rich.table import Table

from archbudget.api import Summary, _shape_text


def print_json(document: Any) -> None:
    json.dump(document, sys.stdout, indent=2)
    sys.stdout.write("\n")


def print_frame(frame: pl.DataFrame) -> None:
    """A result frame for people: every column, at most 50 rows."""
    with pl.Config(tbl_rows=50, tbl_cols=-1, tbl_width_chars=200, thousands_separator=True):
        print(frame)


def readable_bytes(size: float) -> str:
    """Keras's `readable_memory_size`: powers of 1024, two decimals."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size / 1024 < 1:
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} PB"


def print_summary(s: Summary, explain: bool = False) -> None:
    """The table Keras users know: Layer (type), Output Shape, Param #, Connected to."""
    console = Console(width=max(Console().width, 120 if s.functional else 100))
    table = Table(title=f'Model: "{s.name}"', title_justify="left", box=box.HEAVY_HEAD, show_lines=True)
    table.add_column("Layer (type)", overflow="fold")
    table.add_column("Output Shape", overflow="fold")
    table.add_column("Param #", justify="right")
    if s.functional:
        table.add_column("Connected to", overflow="fold")
    if explain:
        table.add_column("Formula", overflow="fold")
    for r in s.rows:
        cells = [f"{r['name']} ({r['class_name']})", _shape_text(r["output_shape"]) or "-", f"{r['params']:,}"]
        if s.functional:
            cells.append(",\n".join(r["connected_to"]) or "-")
        if explain:
            cells.append(r["explain"])
        table.add_row(*cells)
    console.print(table)
    # Keras sizes the totals as float32 weights.
    for label, n in (("Total", s.total_params), ("Trainable", s.trainable_params), ("Non-trainable", s.non_trainable_params)):
        console.print(f" {label} params: {n:,} ({readable_bytes(n * 4)})", highlight=False)
