"""`archbudget sweep SPACE.toml`: enumerate, filter and rank a search space."""
from __future__ import annotations

import itertools
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Optional

import polars as pl
import typer

from archbudget import _core, api
from archbudget.cli import options
from archbudget.cli.errors import reported
from archbudget.cli.output import print_frame, print_json
from archbudget.errors import ArchBudgetError
from archbudget.frames import sweep_frame

# Candidates per chunk when streaming all survivors to a file.
CHUNK = 1 << 22
# Sweeps at least this large show a progress bar on a terminal.
PROGRESS_MIN = 1 << 20
FORMATS = (".parquet", ".csv", ".json", ".ndjson", ".arrow")


def sweep(
    space: Annotated[Path, typer.Argument(help="The search space (TOML).", show_default=False)],
    max_params: Annotated[Optional[str], typer.Option(help="Keep candidates with at most this many parameters (350M, 1.5B).")] = None,
    min_params: Annotated[Optional[str], typer.Option(help="Keep candidates with at least this many parameters.")] = None,
    max_memory: Annotated[Optional[str], typer.Option(help="Keep candidates whose peak fits (24GiB, 80GB).")] = None,
    max_flops: Annotated[Optional[str], typer.Option(help="Keep candidates with at most this many FLOPs per training step (forward + backward).")] = None,
    sort: Annotated[Optional[str], typer.Option(help="Rank by this column (a metric or an axis).")] = None,
    descending: Annotated[bool, typer.Option(help="Rank from the largest.")] = False,
    top: Annotated[Optional[int], typer.Option(help="Keep the first K after ranking.", min=1)] = None,
    pareto: Annotated[bool, typer.Option(help="Keep only candidates no other beats on params, peak memory and FLOPs.")] = False,
    shard: Annotated[Optional[str], typer.Option(help="Sweep shard i of N equal index ranges (i/N, 0-based).")] = None,
    count: Annotated[bool, typer.Option("--count", help="Report the number of candidates without computing rows.")] = False,
    output: Annotated[Optional[Path], typer.Option(help="Write the rows to a file: .parquet, .csv, .json, .ndjson or .arrow.")] = None,
    lora_rank: options.LoraRank = None,
    lora_targets: options.LoraTargets = None,
    lora_dropout: options.LoraDropout = None,
    quantize: options.Quantize = None,
    format: options.Format = options.OutputFormat.table,
) -> None:
    """Enumerate SPACE in the native core; keep the candidates inside the budgets, ranked."""
    with reported():
        run = api.run_overrides(lora_rank, lora_targets, lora_dropout, quantize.value if quantize else None)
        s = api.search_space(space, run)
        rng = api.parse_shard(shard, s.size)
        start, stop = rng if rng else (0, s.size)
        if count:
            total, in_range, satisfying = s.count(start, stop)
            doc = {"candidates": total, "in_shard": in_range, "satisfying_constraints": satisfying}
            if format is options.OutputFormat.json:
                print_json(doc)
            else:
                print(f"{total:,} candidates; {in_range:,} in this shard; {satisfying:,} satisfy the constraints")
            return
        opts = api.sweep_options(max_params, min_params, max_memory, max_flops, sort, descending, top, pareto)
        if output is not None and output.suffix not in FORMATS:
            raise ArchBudgetError(f"--output {output}: the extension must be one of {', '.join(FORMATS)}")
        ranked = sort is not None or top is not None or pareto
        # Unranked rows stream chunk by chunk (lazily: a space may have 2^64 candidates).
        chunks = [(start, stop)] if ranked or stop == start else ((a, min(a + CHUNK, stop)) for a in range(start, stop, CHUNK))
        stats = {"candidates": 0, "cut_by_constraints": 0, "cut_by_budgets": 0, "invalid": 0, "first_invalid": None}

        progress = _core.Progress()
        show = sys.stderr.isatty() and stop - start >= PROGRESS_MIN

        def frames():
            for a, b in chunks:
                call = lambda a=a, b=b: s.sweep(**opts, start=a, stop=b, progress=progress)  # noqa: E731
                columns = with_progress(call, progress, stop - start) if show else call()
                for key, value in columns["stats"].items():
                    stats[key] = (stats[key] or value) if key == "first_invalid" else stats[key] + value
                yield sweep_frame(columns)

        if output is not None:
            rows = write(frames(), output)
            print(f"wrote {rows:,} rows to {output}", file=sys.stderr)
        else:
            frame = pl.concat(list(frames()))
            if format is options.OutputFormat.json:
                print_json(frame.to_dicts())
            else:
                print_frame(frame, s.axis_names)
        print(
            f"{stats['candidates']:,} candidates: {stats['cut_by_constraints']:,} cut by constraints, "
            f"{stats['cut_by_budgets']:,} by budgets, {stats['invalid']:,} invalid",
            file=sys.stderr,
        )
        if stats["first_invalid"]:
            print(f"first invalid candidate: {stats['first_invalid']}", file=sys.stderr)


def with_progress(call, progress: _core.Progress, total: int):
    """Run `call` (which releases the GIL) in a thread while a bar on stderr shows the
    candidates done, their rate and the survivors so far."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    outcome: dict = {}

    def work():
        try:
            outcome["value"] = call()
        except BaseException as e:  # re-raised in the caller's thread
            outcome["error"] = e

    thread = threading.Thread(target=work, daemon=True)
    started = time.perf_counter()
    thread.start()
    columns = (BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}/s, {task.fields[survivors]} survivors"), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("sweep", total=total, rate="0", survivors="0")
        while thread.is_alive():
            thread.join(0.1)
            done = progress.done
            rate = done / max(time.perf_counter() - started, 1e-9)
            bar.update(task, completed=done, rate=f"{rate:,.0f}", survivors=f"{progress.survivors:,}")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def write(frames: Iterator[pl.DataFrame], path: Path) -> int:
    """Write frames chunk by chunk to a temporary file beside `path`, renamed when whole,
    so that an error never leaves half a file. Returns the number of rows."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 is for secrets; results are ordinary files
    try:
        rows = sink(frames, tmp, path.suffix) if path.suffix in (".parquet", ".arrow") else append(frames, tmp, path.suffix)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return rows


def sink(frames: Iterator[pl.DataFrame], tmp: str, suffix: str) -> int:
    """Parquet and Arrow IPC through a Polars streaming sink fed chunk by chunk."""
    from polars.io.plugins import register_io_source

    first = next(frames)
    rows = 0

    def source(with_columns, predicate, n_rows, batch_size):
        nonlocal rows
        for frame in itertools.chain([first], frames):
            rows += frame.height
            yield frame

    lazy = register_io_source(source, schema=first.schema)
    if suffix == ".parquet":
        lazy.sink_parquet(tmp)
    else:
        lazy.sink_ipc(tmp)
    return rows


def append(frames: Iterator[pl.DataFrame], tmp: str, suffix: str) -> int:
    """CSV, NDJSON and JSON (an array of row objects), appended chunk by chunk."""
    rows = 0
    with open(tmp, "w") as f:
        if suffix == ".json":
            f.write("[")
        for frame in frames:
            if suffix == ".csv":
                frame.write_csv(f, include_header=rows == 0)
            elif suffix == ".ndjson":
                frame.write_ndjson(f)
            elif frame.height:
                f.write(("," if rows else "") + frame.write_json()[1:-1])
            rows += frame.height
        if suffix == ".json":
            f.write("]\n")
    return rows
