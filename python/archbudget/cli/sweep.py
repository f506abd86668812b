"""`archbudget sweep SPACE.toml`: enumerate, filter and rank a search space.

Every sweep call runs on the main thread, where Ctrl-C, SIGTERM and SIGHUP reach it (the
native core polls for them and stops within milliseconds); rows stream chunk by chunk,
so memory stays bounded whatever the size of the space."""
from __future__ import annotations

import contextlib
import json
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Optional

import polars as pl
import typer

from archbudget import _core, api
from archbudget.cli import options
from archbudget.cli.errors import reported
from archbudget.cli.input import read_stdin
from archbudget.cli.output import PREVIEW_ROWS, print_frame, print_json
from archbudget.cli.writers import Target
from archbudget.errors import ArchBudgetError
from archbudget.frames import sweep_frame
from archbudget.gpu import DEFAULT_MFU

# Candidates per streamed chunk: at most this many rows are held at once, and written
# (outside the core's cancellable work) within a small fraction of a second.
CHUNK = 1 << 16
# Where a plain sweep looks for its first rows: a small range first, growing fourfold.
FIRST_LOOK = 1 << 12
# Sweeps at least this large show a progress bar on a terminal.
PROGRESS_MIN = 1 << 20


def sweep(
    space: Annotated[str, typer.Argument(help="The search space (TOML); '-' reads standard input.", show_default=False)],
    max_params: Annotated[Optional[str], typer.Option(help="Keep candidates with at most this many parameters (350M, 1.5B).")] = None,
    min_params: Annotated[Optional[str], typer.Option(help="Keep candidates with at least this many parameters.")] = None,
    max_memory: Annotated[Optional[str], typer.Option(help="Keep candidates whose peak fits (24GiB, 80GB).")] = None,
    max_flops: Annotated[Optional[str], typer.Option(help="Keep candidates with at most this many FLOPs per training step (forward + backward).")] = None,
    sort: Annotated[Optional[str], typer.Option(help="Rank by this column (a metric or an axis).")] = None,
    descending: Annotated[bool, typer.Option("--descending", help="Rank from the largest.")] = False,
    top: Annotated[Optional[int], typer.Option(help="Keep the first K after ranking.", min=1)] = None,
    pareto: Annotated[bool, typer.Option("--pareto", help="Keep only candidates no other beats on params, peak memory and FLOPs.")] = False,
    shard: Annotated[Optional[str], typer.Option(help="Sweep shard i of N equal index ranges (i/N, 0-based).")] = None,
    count: Annotated[bool, typer.Option("--count", help="Report the number of candidates without computing rows.")] = False,
    output: Annotated[Optional[Path], typer.Option(help="Write the rows to a file: .parquet, .csv, .json, .ndjson or .arrow (with --backend ray: a Parquet dataset directory).")] = None,
    gpu: options.Gpu = None,
    headroom: options.Headroom = None,
    mfu: options.Mfu = DEFAULT_MFU,
    lora_rank: options.LoraRank = None,
    lora_targets: options.LoraTargets = None,
    lora_dropout: options.LoraDropout = None,
    quantize: options.Quantize = None,
    format: options.Format = options.OutputFormat.table,
    backend: Annotated[options.Backend, typer.Option(help="local: this process; ray: shards as Ray tasks (pip install 'archbudget[ray]').")] = options.Backend.local,
    address: Annotated[Optional[str], typer.Option(help="--backend ray: the cluster to use (ray start --head prints it); default a local Ray.")] = None,
    shards: Annotated[Optional[int], typer.Option(help="--backend ray: index ranges to run as tasks (default 4 per CPU).", min=1)] = None,
    report: Annotated[Optional[Path], typer.Option(help="Also write an HTML report of the rows (Pareto front, survivors per axis, settings).")] = None,
) -> None:
    """Enumerate SPACE in the native core; keep the candidates inside the budgets, ranked.

    --gpu adds that GPU's budget (the smaller of it and --max-memory applies) and time
    estimate columns."""
    with reported():
        text = read_stdin() if space == "-" else None
        run = api.run_overrides(lora_rank, lora_targets, lora_dropout, quantize.value if quantize else None)
        s = read_space(space, text, run)
        opts = api.sweep_options(max_params, min_params, max_memory, max_flops, sort, descending, top, pareto, gpu, headroom, mfu)
        settings = sweep_settings(space, s, opts, text)
        if report is not None and report.suffix != ".html":
            raise ArchBudgetError(f"--report {report}: the report is an .html file")
        if report is not None and output is not None and output.suffix not in ("", ".parquet"):
            raise ArchBudgetError(f"--report: reads the rows back from --output, which must then be .parquet, not {output.suffix}")
        if backend is options.Backend.ray:
            from archbudget.cli.sweep_ray import sweep_on_ray

            return sweep_on_ray(s, opts, settings, address, shards, shard, count, output, format, report)
        if address is not None or shards is not None:
            raise ArchBudgetError("--address and --shards are for --backend ray")
        rng = api.parse_shard(shard, s.size)
        start, stop = rng if rng else (0, s.size)
        if count:
            print_count(s.count(start, stop), sharded=rng is not None, as_json=format is options.OutputFormat.json)
            return
        target = Target(output) if output is not None else None  # checked before the sweep
        run = Run(s, opts, stop - start)
        ranked = sort is not None or top is not None or pareto
        # One frame when ranked (the core keeps at most top-K); chunks otherwise, made
        # lazily: a space may have 2^64 candidates.
        frames = run.frames(start, stop, CHUNK if not ranked else max(stop - start, 1))
        frame = None
        if target is not None:
            with run.progress_bar(stop - start):
                rows = target.write(frames, settings)
            print(f"wrote {rows:,} rows to {output}", file=sys.stderr)
        elif ranked or report is not None:  # a report draws every row
            with run.progress_bar(stop - start):
                frame = pl.concat(list(frames))
            if format is options.OutputFormat.json:
                stream_json([frame])
            else:
                print_frame(frame, s.axis_names, limit=None if top is not None else PREVIEW_ROWS)
        elif format is options.OutputFormat.json:
            stream_json(frames)
        else:
            preview(run, s.axis_names, start, stop)
        if report is not None:
            from archbudget.dataset import read_rows
            from archbudget.report import write_report

            write_report(frame if frame is not None else read_rows(output)[0], settings, report)
        run.print_stats()


def read_space(space: str, stdin_text: bytes | None, run: dict[str, Any]) -> _core.SearchSpace:
    """The space of a file, or of standard input's text; `run` replaces its [run] values."""
    if stdin_text is not None:
        return api.space_from_toml(stdin_text, "<stdin>", Path.cwd(), json.dumps(run) if run else None)
    return api.search_space(space, run)


def print_count(counts: dict[str, Any], sharded: bool, as_json: bool) -> None:
    if as_json:
        print_json({
            "candidates": counts["candidates"],
            "in_shard": counts["in_range"],
            "satisfying_constraints": counts["satisfying_constraints"],
            "invalid": counts["invalid"],
        })
    else:
        parts = [f"{counts['candidates']:,} candidates"]
        if sharded:
            parts.append(f"{counts['in_range']:,} in this shard")
        parts.append(f"{counts['satisfying_constraints']:,} satisfy the constraints")
        if counts["invalid"]:
            parts.append(f"{counts['invalid']:,} cannot be evaluated")
        print("; ".join(parts))
    if counts["first_invalid"]:
        print(f"first candidate that cannot be evaluated: {counts['first_invalid']}", file=sys.stderr)


class Run:
    """Calls of the core over ranges of one space with the same budgets, adding up why
    candidates were cut."""

    def __init__(self, space: _core.SearchSpace, opts: dict[str, Any], total: int):
        self.space = space
        self.opts = opts
        self.progress = _core.Progress()
        self.stats: dict[str, Any] = {"candidates": 0, "cut_by_constraints": 0, "cut_by_budgets": 0, "invalid": 0, "first_invalid": None}
        self.show_progress = sys.stderr.isatty() and total >= PROGRESS_MIN

    def call(self, a: int, b: int, **override: Any) -> pl.DataFrame:
        columns = self.space.sweep(**{**self.opts, **override}, start=a, stop=b, progress=self.progress)
        for key, value in columns["stats"].items():
            self.stats[key] = (self.stats[key] or value) if key == "first_invalid" else self.stats[key] + value
        return sweep_frame(columns)

    def frames(self, start: int, stop: int, chunk: int) -> Iterator[pl.DataFrame]:
        if start == stop:
            yield self.call(start, stop)
        for a in range(start, stop, chunk):
            yield self.call(a, min(a + chunk, stop))

    @property
    def survivors(self) -> int:
        s = self.stats
        return s["candidates"] - s["cut_by_constraints"] - s["cut_by_budgets"] - s["invalid"]

    @contextlib.contextmanager
    def progress_bar(self, total: int) -> Iterator[None]:
        """A bar on stderr (a terminal only) while the block runs on this thread."""
        if not self.show_progress:
            yield
            return
        yield from _bar(self.progress, total)

    def print_stats(self) -> None:
        print_stats(self.stats)


def print_stats(stats: dict[str, Any]) -> None:
    """Where the candidates went, on stderr."""
    print(
        f"{stats['candidates']:,} candidates: {stats['cut_by_constraints']:,} cut by constraints, "
        f"{stats['cut_by_budgets']:,} by budgets, {stats['invalid']:,} invalid",
        file=sys.stderr,
    )
    if stats["first_invalid"]:
        print(f"first invalid candidate: {stats['first_invalid']}", file=sys.stderr)


def _bar(progress: _core.Progress, total: int) -> Iterator[None]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}/s, {task.fields[survivors]} survivors"), TimeElapsedColumn())
    stop = threading.Event()
    base = progress.done
    started = time.perf_counter()
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("sweep", total=total, rate="0", survivors="0")

        def update() -> None:
            while not stop.wait(0.1):
                done = progress.done - base
                rate = done / max(time.perf_counter() - started, 1e-9)
                bar.update(task, completed=done, rate=f"{rate:,.0f}", survivors=f"{progress.survivors:,}")

        updater = threading.Thread(target=update, daemon=True)
        updater.start()
        try:
            yield
        finally:
            stop.set()
            updater.join()


def sweep_settings(space: str, s: _core.SearchSpace, opts: dict, stdin_text: bytes | None) -> dict:
    """What a sweep ran with, kept in its Parquet files and shown by the report: the
    space file's text, its axes, the budgets and the ranking."""
    text = stdin_text if stdin_text is not None else api.read_path(space)
    return {"space": str(space), "space_text": text.decode(errors="replace"), "axes": s.axis_names, "candidates": s.size, **opts}


def preview(run: Run, axes: list[str], start: int, stop: int) -> None:
    """The first rows of an unranked sweep as soon as they are found, then the number of
    the others, counted without keeping them: memory stays bounded however many survive."""
    shown: list[pl.DataFrame] = []
    have, a, size = 0, start, FIRST_LOOK
    while a < stop and have < PREVIEW_ROWS:
        b = min(a + size, stop)
        frame = run.call(a, b, top=PREVIEW_ROWS - have)
        shown.append(frame)
        have += frame.height
        a, size = b, min(size * 4, CHUNK)
    first = pl.concat(shown) if shown else run.call(start, stop)
    print_frame(first, axes, limit=PREVIEW_ROWS)
    sys.stdout.flush()
    if a < stop:
        # top=1 keeps the core from holding rows: only the counts of the rest matter.
        with run.progress_bar(stop - a):
            run.call(a, stop, top=1)
    more = run.survivors - first.height
    if more > 0:
        print(f"... {more:,} more rows (use --top, --output or --format json)")


def stream_json(frames: Iterator[pl.DataFrame]) -> None:
    """All rows as one JSON array on stdout, written chunk by chunk (the text
    `json.dump(rows, indent=2)` would write)."""
    out = sys.stdout
    out.write("[")
    first = True
    for frame in frames:
        for row in frame.iter_rows(named=True):
            out.write(("\n" if first else ",\n") + textwrap.indent(json.dumps(row, indent=2), "  "))
            first = False
    out.write("\n]\n" if not first else "]\n")

