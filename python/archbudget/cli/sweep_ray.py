"""`archbudget sweep SPACE --backend ray`: the same rows as the local sweep, from Ray
tasks; `--output` is a Parquet dataset directory (a file per shard and a manifest)."""
from __future__ import annotations

import sys
from pathlib import Path

from archbudget import _core
from archbudget.cli import options
from archbudget.cli.output import print_frame, print_json
from archbudget.dataset import dataset_rows, read_rows
from archbudget.errors import ArchBudgetError


def sweep_on_ray(
    s: _core.SearchSpace,
    opts: dict,
    settings: dict,
    address: str | None,
    shards: int | None,
    shard: str | None,
    count: bool,
    output: Path | None,
    format: options.OutputFormat,
    report: Path | None,
) -> None:
    from archbudget.cli.sweep import print_stats
    from archbudget.ray_backend import sweep_on_ray as run

    if shard is not None:
        raise ArchBudgetError("--shard: the ray backend splits the space itself; use --shards N")
    if count:
        raise ArchBudgetError("--count: counting needs no Ray; drop --backend ray")
    if output is not None and output.suffix not in ("", ".parquet"):
        raise ArchBudgetError(f"--output {output}: with --backend ray the rows are a Parquet dataset: a directory path, or one ending in .parquet")
    settings = {**settings, "backend": "ray", "shards": shards}
    frame, stats = run(s, opts, address=address, shards=shards, output=output, settings=settings,
                       progress=sys.stderr.isatty())
    if output is not None:
        print(f"wrote {dataset_rows(output):,} rows to the dataset {output}", file=sys.stderr)
    elif format is options.OutputFormat.json:
        print_json(frame.to_dicts())
    else:
        print_frame(frame, s.axis_names)
    if report is not None:
        from archbudget.report import write_report

        write_report(frame if output is None else read_rows(output)[0], settings, report)
    print_stats(stats)
