"""Columns from the native core into Polars without copying: numpy arrays that own the
core's buffers, wrapped by `pl.Series`; string axes as codes cast to `pl.Enum`."""
from __future__ import annotations

from typing import Any

import polars as pl


def sweep_frame(columns: dict[str, Any]) -> pl.DataFrame:
    series = [pl.Series("candidate", columns["index"])]
    for axis in columns["axes"]:
        if "categories" in axis:
            categories = pl.Series(axis["name"], axis["categories"], dtype=pl.Enum(axis["categories"]))
            series.append(categories.gather(axis["values"]))
        else:
            series.append(pl.Series(axis["name"], axis["values"]))
    series.extend(pl.Series(name, values) for name, values in columns["metrics"])
    # time estimates on a named GPU: NaN in the core where a row has no such figure
    series.extend(pl.Series(name, values).fill_nan(None) for name, values in columns.get("estimates", ()))
    return pl.DataFrame(series)
