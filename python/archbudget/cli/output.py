"""All output: tables for people (rich), JSON for programs."""
from __future__ import annotations

import json
import sys
from typing import Any

import polars as pl
from rich import box
from rich.console import Console
from rich.table import Table

from archbudget.api import Summary, shape_text


def print_json(document: Any) -> None:
    json.dump(document, sys.stdout, indent=2)
    sys.stdout.write("\n")


# Breakdown columns are in files and JSON; the table keeps what a person ranks by.
TABLE_METRICS = ("params", "trainable_params", "peak_bytes", "flops_fwd_bwd")


# Rows of a sweep's table when no --top says how many.
PREVIEW_ROWS = 50


def print_frame(frame: pl.DataFrame, axes: list[str], limit: int | None = PREVIEW_ROWS) -> None:
    """Sweep rows for people: the axes, the counts and a readable peak; the first `limit`
    rows (all with None)."""
    from archbudget.units import human_bytes

    shown = frame if limit is None else frame.head(limit)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    # with --gpu, the time estimates a person ranks by too
    timing = [c for c in ("step_time_s", "tokens_per_s") if c in frame.columns]
    columns = ["candidate", *axes, *TABLE_METRICS, *timing]
    for name in columns:
        table.add_column(name, justify="left" if name in axes and shown[name].dtype == pl.Enum else "right", no_wrap=True)
    for row in shown.iter_rows(named=True):
        cells = []
        for name in columns:
            value = row[name]
            if name == "peak_bytes":
                cells.append(human_bytes(value))
            elif name in timing:
                cells.append("-" if value is None else seconds(value) if name == "step_time_s" else f"{value:,.0f}")
            elif isinstance(value, int) and not isinstance(value, bool) and name not in axes and name != "candidate":
                cells.append(f"{value:,}")
            else:
                cells.append(str(value))
        table.add_row(*cells)
    width = sum(max(len(c), 12) + 3 for c in columns)
    Console(width=max(Console().width, width)).print(table)
    if frame.height > shown.height:
        print(f"... {frame.height - shown.height:,} more rows (use --top, --output or --format json)")


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
        params = "?" if r["name"] in s.undeclared else f"{r['params']:,}"
        cells = [f"{r['name']} ({r['class_name']})", shape_text(r["output_shape"]) or "-", params]
        if s.functional:
            cells.append(",\n".join(r["connected_to"]) or "-")
        if explain:
            cells.append(r["explain"])
        table.add_row(*cells)
    console.print(table)
    # Keras sizes the totals as float32 weights.
    # Undeclared custom layers (`?` rows) are not counted: the totals are lower bounds.
    at_least = "≥ " if s.lower_bound else ""
    for label, n in (("Total", s.total_params), ("Trainable", s.trainable_params), ("Non-trainable", s.non_trainable_params)):
        console.print(f" {label} params: {at_least}{n:,} ({readable_bytes(n * 4)})", highlight=False)
    if s.lower_bound:
        console.print(f" Lower bounds: {', '.join(s.undeclared)} not counted (undeclared custom layers)", highlight=False)
    if s.active_params != s.total_params:
        console.print(f" Active params per token: {s.active_params:,}", highlight=False)


def print_gpu(console: Console, m: Any) -> None:
    """What `memory` adds with a GPU named: fits or not, the margin, time estimates."""
    from archbudget.units import human_bytes

    g = m.gpu
    verdict = "fits" if g["fits"] else "does NOT fit"
    margin = g["margin_bytes"]
    side = "to spare" if margin >= 0 else "over"
    console.print(f" {g['name']}: {verdict}, {human_bytes(abs(margin))} {side}", highlight=False)
    console.print(f"   budget {human_bytes(g['budget_bytes'])} of {human_bytes(g['memory_bytes'])} (README: what fits)",
                  highlight=False)
    t = m.estimates
    if t is None:
        console.print(f" No time estimate: the {g['name']} has no peak figure at this precision.", highlight=False)
        return
    parts = [f"step {seconds(t['step_time_s'])}", f"{t['samples_per_s']:,.3g} samples/s"]
    if t["tokens_per_s"] is not None:
        parts.append(f"{t['tokens_per_s']:,.0f} tokens/s")
    if t["time_per_token_s"] is not None:
        parts.append(f"{seconds(t['time_per_token_s'])} per new token")
    console.print(f" Estimated at {t['mfu']:.0%} MFU: " + ", ".join(parts), highlight=False)


def seconds(s: float) -> str:
    """0.0123 → `12.3 ms`."""
    if s >= 1:
        return f"{s:,.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms"
    return f"{s * 1e6:.1f} µs"
