"""`sweep(..., backend="ray")`: the index space split into shards run as Ray tasks, each
the native enumerator over its range with the GIL released (what `--shard i/N` runs).
Shards return their survivors as Arrow IPC; ranked sweeps (top-k, Pareto, sort) merge
them pairwise in Rust (`SearchSpace.merge_parts`, associative), tree-reduced as Ray
tasks, so the driver receives what one single-process sweep returns, row for row.
Ray is imported only here, and only when this backend is asked for."""
from __future__ import annotations

import functools
import io
import os
import shutil
import threading
from pathlib import Path
from typing import Any

import polars as pl

from archbudget import _core, errors
from archbudget.dataset import check_output, finish_dataset, parquet_metadata, staging_dir, write_dataset
from archbudget.errors import ArchBudgetError
from archbudget.frames import sweep_frame

# Test-only hook: "SHARD:TIMES:DIR" makes shard SHARD's task raise on its first TIMES
# attempts (counted by files in DIR), to show retries give the same result and that a
# shard failing for good leaves no output. Read by the driver, passed to the tasks.
FAIL_ENV = "ARCHBUDGET_TEST_RAY_FAIL"
# Ray re-runs a failed shard task (a lost worker or node, an exception) this many times.
MAX_RETRIES = 3
# Shards per CPU of the cluster when --shards is not given: several, so that a slow
# shard does not leave the other CPUs idle at the end; but no shard smaller than one
# rayon block of the enumerator, since a task costs milliseconds to schedule.
SHARDS_PER_CPU = 4
MIN_SHARD = 1 << 14
RANKING = ("sort", "descending", "top", "pareto")
GPU_KEYS = ("gpu", "headroom_fraction", "headroom_bytes", "mfu")


def merge_options(opts: dict) -> dict:
    """What `merge_parts` and `finish` take of a sweep's options: the ranking, and the
    GPU that time columns (sorted by, or added to the final rows) are computed for."""
    return {k: v for k, v in opts.items() if k in RANKING or k in GPU_KEYS}


class RayTaskFailed(errors.InternalError):
    """A shard's task failed for good (after Ray's retries)."""


def import_ray():
    try:
        import ray
    except ImportError:
        raise ArchBudgetError("--backend ray needs Ray: pip install 'archbudget[ray]'") from None
    return ray


def connect(ray, address: str | None) -> None:
    """A new local Ray on this machine, or the cluster at `address` (`ray start --head`
    prints it); an already initialized Ray is used as it is. ("local": ray.init() with
    no address would join whatever cluster `ray start` last left on this machine.)"""
    if ray.is_initialized():
        return
    try:
        ray.init(address=address or "local", logging_level="ERROR", log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as e:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise ArchBudgetError(f"--address: cannot connect to {where}: {e}") from None


def shard_ranges(size: int, shards: int) -> list[tuple[int, int]]:
    """`shards` equal index ranges, as `--shard i/N` cuts them (empty ones dropped)."""
    ranges = [(size * i // shards, size * (i + 1) // shards) for i in range(shards)]
    return [r for r in ranges if r[1] > r[0]] or [(0, 0)]


def to_arrow(columns: dict[str, Any]) -> bytes:
    """A shard's survivors as Arrow IPC bytes (what crosses from a task to the driver)."""
    buffer = io.BytesIO()
    sweep_frame(columns).write_ipc(buffer)
    return buffer.getvalue()


def from_arrow(data: bytes) -> pl.DataFrame:
    return pl.read_ipc(io.BytesIO(data))


def as_part(frame: pl.DataFrame, stats: dict[str, Any]) -> dict[str, Any]:
    """The columns `merge_parts` takes: indices and metrics (axes follow from indices)."""
    return {
        "index": frame["candidate"].to_numpy(),
        "metrics": [(name, frame[name].to_numpy()) for name in _core.METRIC_NAMES],
        "stats": stats,
    }


def injected_failure(spec: str | None, shard: int) -> None:
    if not spec:
        return
    target, times, where = spec.split(":", 2)
    if int(target) != shard:
        return
    attempts = Path(where) / f"shard-{shard}"
    attempts.mkdir(parents=True, exist_ok=True)
    n = len(list(attempts.iterdir()))
    (attempts / str(n)).touch()
    if n < int(times):
        raise RuntimeError(f"injected failure of shard {shard} (attempt {n + 1})")


def run_shard(space: _core.SearchSpace, opts: dict, shard: int, start: int, stop: int, fail: str | None, counter=None):
    """One Ray task: the enumerator over `start..stop`. Bad input comes back as a value,
    not an exception, so that Ray does not retry what would fail again."""
    injected_failure(fail, shard)
    try:
        columns = sweep_reporting(space, opts, shard, start, stop, counter)
    except ArchBudgetError as e:
        return ("error", type(e).__name__, str(e))
    return ("ok", to_arrow(columns), columns["stats"])


def sweep_reporting(space: _core.SearchSpace, opts: dict, shard: int, start: int, stop: int, counter):
    """The shard's sweep; with a `ShardCounter` actor (a progress bar is shown), the
    candidates done are reported to it every half second from beside the sweep, which
    runs without the GIL. Unranked shards are final rows (time estimates included);
    ranked ones are parts that `finish` completes after the merge."""
    part = opts["sort"] is not None or opts["top"] is not None or opts["pareto"]
    if counter is None:
        return space.sweep(**opts, start=start, stop=stop, part=part)
    progress = _core.Progress()
    outcome: dict[str, Any] = {}

    def work():
        try:
            outcome["value"] = space.sweep(**opts, start=start, stop=stop, part=part, progress=progress)
        except BaseException as e:  # re-raised in the task's thread
            outcome["error"] = e

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(0.5)
        counter.report.remote(shard, progress.done)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


class ShardCounter:
    """A Ray actor holding each shard's candidates done (a retried shard starts over)."""

    def __init__(self):
        self.done: dict[int, int] = {}

    def report(self, shard: int, done: int) -> None:
        self.done[shard] = done

    def total(self) -> int:
        return sum(self.done.values())


def merge_pair(space: _core.SearchSpace, ranking: dict, left, right):
    """One Ray task of the tree reduction: two adjacent parts merged in Rust."""
    for result in (left, right):
        if result[0] == "error":
            return result
    parts = [as_part(from_arrow(r[1]), r[2]) for r in (left, right)]
    merged = space.merge_parts(parts, **ranking)
    return ("ok", to_arrow(merged), merged["stats"])


def raise_task_error(result) -> None:
    if result[0] == "error":
        raise getattr(errors, result[1], ArchBudgetError)(result[2])


def sweep_on_ray(
    space: _core.SearchSpace,
    opts: dict[str, Any],
    *,
    address: str | None = None,
    shards: int | None = None,
    output: Path | None = None,
    settings: dict[str, Any] | None = None,
    progress: bool = False,
) -> tuple[pl.DataFrame | None, dict[str, Any]]:
    """Run the sweep on Ray: the rows and stats. With `output` the rows are written as
    a dataset; unranked rows then stream shard by shard and no frame is returned."""
    if shards is not None and (not isinstance(shards, int) or isinstance(shards, bool) or shards < 1):
        raise ArchBudgetError(f"--shards: expected a positive integer, got {shards!r}")
    if output is not None:
        check_output(output)
    ray = import_ray()
    connect(ray, address)
    if shards is None:
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        shards = max(1, min(cpus * SHARDS_PER_CPU, space.size // MIN_SHARD))
    ranges = shard_ranges(space.size, shards)
    ranked = opts["sort"] is not None or opts["top"] is not None or opts["pareto"]
    fail = os.environ.get(FAIL_ENV)

    shard_task, merge_task = remote_tasks()
    space_ref = ray.put(space)
    bar = ProgressBar(ray, space.size) if progress else None
    counter = bar.counter if bar else None
    refs = [shard_task.remote(space_ref, opts, i, a, b, fail, counter) for i, (a, b) in enumerate(ranges)]
    try:
        if output is not None and not ranked:
            return write_shards(ray, refs, output, settings or {}, bar)
        final = reduce_tree(merge_task, space_ref, merge_options(opts), refs) if ranked else None
        for _ in finished(ray, refs, bar):
            pass
        if not ranked:
            results = [task_result(ray, r) for r in refs]
            frame = pl.concat([from_arrow(r[1]) for r in results])
            return frame, sum_stats([r[2] for r in results])
        result = task_result(ray, final)
        part = as_part(from_arrow(result[1]), result[2])
        columns = space.finish(part, **merge_options(opts))
        frame = sweep_frame(columns)
        if output is not None:
            write_dataset([frame], output, settings or {}, columns["stats"])
        return frame, columns["stats"]
    except BaseException:
        for ref in refs:  # the other shards' work is no longer wanted
            ray.cancel(ref)
        raise
    finally:
        if bar:
            bar.close()


@functools.cache
def remote_tasks():
    """The shard and merge functions as Ray remote functions, made once per process
    (each new one is exported to the cluster again)."""
    ray = import_ray()
    # A task takes one CPU and Ray runs one per CPU: the enumerator's rayon pool in each
    # worker gets one thread, not one per core of the node (which would oversubscribe it).
    options = {"num_cpus": 1, "max_retries": MAX_RETRIES, "retry_exceptions": True,
               "runtime_env": {"env_vars": {"RAYON_NUM_THREADS": "1"}}}
    return ray.remote(**options)(run_shard), ray.remote(**options)(merge_pair)


def reduce_tree(merge_task, space_ref, ranking: dict, refs: list):
    """Merge adjacent parts pairwise, level by level, as Ray tasks that start as soon
    as their two inputs exist; returns the reference of the root."""
    level = list(refs)
    while len(level) > 1:
        merged = [merge_task.remote(space_ref, ranking, a, b) for a, b in zip(level[::2], level[1::2])]
        level = merged + level[len(merged) * 2:]
    return level[0]


def task_result(ray, ref):
    """A task's value; bad input re-raised as its own class, a task that failed for
    good as one line naming the cause."""
    try:
        result = ray.get(ref)
    except ray.exceptions.RayError as e:
        cause = getattr(e, "cause", None) or e
        first = str(cause).strip().splitlines()
        raise RayTaskFailed(f"a Ray task failed after {MAX_RETRIES} retries: {first[-1] if first else type(cause).__name__}") from None
    raise_task_error(result)
    return result


def sum_stats(all_stats: list[dict[str, Any]]) -> dict[str, Any]:
    total = {"candidates": 0, "cut_by_constraints": 0, "cut_by_budgets": 0, "invalid": 0, "first_invalid": None}
    for stats in all_stats:
        for key, value in stats.items():
            total[key] = (total[key] or value) if key == "first_invalid" else total[key] + value
    return total


def finished(ray, refs: list, bar):
    """The references as their tasks finish; the bar refreshed meanwhile."""
    pending = list(refs)
    while pending:
        ready, pending = ray.wait(pending, num_returns=1, timeout=0.25 if bar else None)
        if bar:
            bar.refresh()
        yield from ready


def write_shards(ray, refs, output: Path, settings: dict, bar) -> tuple[None, dict]:
    """Unranked rows with `--output`: each shard's rows become its own file as it
    arrives (the driver never holds them all); the dataset appears whole at the end."""
    staging = staging_dir(output)
    try:
        files: dict[int, tuple[str, int]] = {}
        stats = []
        order = {ref: i for i, ref in enumerate(refs)}
        for ref in finished(ray, refs, bar):
            result = task_result(ray, ref)
            i = order[ref]
            frame = from_arrow(result[1])
            name = f"part-{i:05d}.parquet"
            frame.write_parquet(staging / name, metadata=parquet_metadata(settings))
            files[i] = (name, frame.height)
            stats.append((i, result[2]))
        total = sum_stats([s for _, s in sorted(stats, key=lambda x: x[0])])
        finish_dataset(staging, output, [files[i] for i in sorted(files)], settings, total)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return None, total


class ProgressBar:
    """One bar on stderr over all shards: the candidates their tasks have done, as they
    report them to a `ShardCounter` actor."""

    def __init__(self, ray, total: int):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.ray = ray
        self.counter = ray.remote(num_cpus=0)(ShardCounter).remote()
        self.bar = Progress(BarColumn(), MofNCompleteColumn(), TextColumn("candidates on Ray"), TimeElapsedColumn(),
                            console=Console(stderr=True), transient=True)
        self.bar.start()
        self.task = self.bar.add_task("sweep", total=total)

    def refresh(self) -> None:
        self.bar.update(self.task, completed=self.ray.get(self.counter.total.remote()))

    def close(self) -> None:
        self.bar.stop()
