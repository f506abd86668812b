"""All output: tables for people (rich), JSON for programs. rich and polars are imported
where used: the tables of `summary` and `memory` are mostly written by cli/plain.py."""
from __future__ import annotations

import sys

from archbudget.api import shape_text
from archbudget.cli import plain

TYPE_CHECKING = False  # not typing's: importing typing costs the start of `summary`
if TYPE_CHECKING:
    from typing import Any

    import polars as pl
    from rich.console import Console

    from archbudget.api import Memory, Summary


def print_json(document: Any) -> None:
    import json

    json.dump(document, sys.stdout, indent=2)
    sys.stdout.write("\n")


# Breakdown columns are in files and JSON; the table keeps what a person ranks by.
TABLE_METRICS = ("params", "trainable_params", "peak_bytes", "flops_fwd_bwd")


# Rows of a sweep's table when no --top says how many.
PREVIEW_ROWS = 50


def print_frame(frame: pl.DataFrame, axes: list[str], limit: int | None = PREVIEW_ROWS) -> None:
    """Sweep rows for people: the axes, the counts and a readable peak; the first `limit`
    rows (all with None)."""
    import polars as pl
    from rich import box
    from rich.console import Console
    from rich.table import Table

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
    headers = ["Layer (type)", "Output Shape", "Param #"] + ["Connected to"] * s.functional + ["Formula"] * explain
    rows = []
    for r in s.rows:
        params = "?" if r["name"] in s.undeclared else f"{r['params']:,}"
        cells = [f"{r['name']} ({r['class_name']})", shape_text(r["output_shape"]) or "-", params]
        if s.functional:
            cells.append(",\n".join(r["connected_to"]) or "-")
        if explain:
            cells.append(r["explain"])
        rows.append(cells)
    title = f'Model: "{s.name}"'
    # Keras sizes the totals as float32 weights.
    # Undeclared custom layers (`?` rows) are not counted: the totals are lower bounds.
    at_least = "≥ " if s.lower_bound else ""
    totals = [f" {label} params: {at_least}{n:,} ({readable_bytes(n * 4)})"
              for label, n in (("Total", s.total_params), ("Trainable", s.trainable_params),
                               ("Non-trainable", s.non_trainable_params))]
    if s.lower_bound:
        totals.append(f" Lower bounds: {', '.join(s.undeclared)} not counted (undeclared custom layers)")
    if s.active_params != s.total_params:
        totals.append(f" Active params per token: {s.active_params:,}")
    totals.extend(f" Note: {note}" for note in s.notes)
    out = plain.Output.detect()
    width = max(plain.console_width(), 120 if s.functional else 100)
    if out is not None and rows:
        text = plain.table(out, headers, [h == "Param #" for h in headers], rows, title=title, lines=True, width=width,
                           fold=True)
        footer = plain.lines(out, totals, width=width)
        if text is not None and footer is not None:
            sys.stdout.write(text + footer)
            return
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 120 if s.functional else 100))
    table = Table(title=title, title_justify="left", box=box.HEAVY_HEAD, show_lines=True)
    for header in headers:
        table.add_column(header, justify="right") if header == "Param #" else table.add_column(header, overflow="fold")
    for cells in rows:
        table.add_row(*cells)
    console.print(table)
    for line in totals:
        console.print(line, highlight=False)


def print_memory(m: Memory, setting: str, show_trainable: bool, show_backward: bool) -> None:
    """`memory`'s table: what is alive at the peak, the peak, then counts and FLOPs (and,
    with a GPU named, whether it fits and how fast a step runs)."""
    from archbudget.units import human_bytes

    rows = [[name.replace("_", " "), f"{n:,}", human_bytes(n)] for name, n in m.breakdown.items() if n]
    rows.append(["peak", f"{m.peak_bytes:,}", human_bytes(m.peak_bytes)])
    trainable = f"   Trainable: {m.trainable_params:,}" if show_trainable else ""
    flops = f" FLOPs: forward {m.flops_fwd:,}"
    if show_backward:
        flops += f", forward + backward {m.flops_fwd_bwd:,}"
    after = [f" Parameters: {m.params:,}{trainable}   Buffers: {m.buffers:,}", flops]
    after += gpu_lines(m) if m.gpu is not None else []
    after += [f" Note: {note}" for note in m.notes]
    out = plain.Output.detect()
    if out is not None:
        # The settings as a line of their own: a table title would wrap at the table's width.
        head = plain.lines(out, [setting], wrap=False)
        text = plain.table(out, ["At the peak", "Bytes", ""], [False, True, True], rows,
                           section_after=len(rows) - 2, bold_rows=frozenset([len(rows) - 1]))
        tail = plain.lines(out, after)
        if head is not None and text is not None and tail is not None:
            sys.stdout.write(head + text + tail)
            return
    from rich.console import Console
    from rich.table import Table

    table = Table()
    table.add_column("At the peak")
    table.add_column("Bytes", justify="right")
    table.add_column("", justify="right")
    for cells in rows[:-1]:
        table.add_row(*cells)
    table.add_section()
    table.add_row(*rows[-1], style="bold")
    console = Console()
    console.print(setting, highlight=False, soft_wrap=True)
    console.print(table)
    for line in after:
        console.print(line, highlight=False)


def print_gpu(console: Console, m: Any) -> None:
    """What `memory` adds with a GPU named: fits or not, the margin, time estimates."""
    for line in gpu_lines(m):
        console.print(line, highlight=False)


def gpu_lines(m: Any) -> list[str]:
    from archbudget.units import human_bytes

    g = m.gpu
    verdict = "fits" if g["fits"] else "does NOT fit"
    margin = g["margin_bytes"]
    side = "to spare" if margin >= 0 else "over"
    printed = [f" {g['name']}: {verdict}, {human_bytes(abs(margin))} {side}",
               f"   budget {human_bytes(g['budget_bytes'])} of {human_bytes(g['memory_bytes'])} (README: what fits)"]
    t = m.estimates
    if t is None:
        return printed + [f" No time estimate: the {g['name']} has no peak figure at this precision."]
    parts = [f"step {seconds(t['step_time_s'])}", f"{t['samples_per_s']:,.3g} samples/s"]
    if t["tokens_per_s"] is not None:
        parts.append(f"{t['tokens_per_s']:,.0f} tokens/s")
    if t["time_per_token_s"] is not None:
        parts.append(f"{seconds(t['time_per_token_s'])} per new token")
    return printed + [f" Estimated at {t['mfu']:.0%} MFU: " + ", ".join(parts)]


def seconds(s: float) -> str:
    """0.0123 → `12.3 ms`."""
    if s >= 1:
        return f"{s:,.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms"
    return f"{s * 1e6:.1f} µs"
