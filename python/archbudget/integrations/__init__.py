"""Integrations with NAS and hyperparameter pipelines: `archbudget.integrations.optuna`,
`.ray` and `.keras_tuner` (extras `archbudget[optuna]`, `[ray]`, `[keras-tuner]`). Each
module imports its library; this package imports none of them."""
from __future__ import annotations

from typing import Any

import polars as pl


def sweep_axes(frame: pl.DataFrame) -> list[str]:
    """The axis columns of a sweep frame: between `candidate` and the first metric."""
    columns = frame.columns
    if "candidate" not in columns or "params" not in columns:
        from archbudget.errors import ArchBudgetError

        raise ArchBudgetError("expected a frame returned by archbudget.sweep (columns candidate, ..., params, ...)")
    return columns[columns.index("candidate") + 1 : columns.index("params")]


def sweep_rows(frame: pl.DataFrame, top: int | None, columns: list[str] | None) -> list[dict[str, Any]]:
    """The first `top` rows of a sweep frame (already inside its budgets and in the
    sweep's order) as {axis: value} dicts of plain Python values."""
    names = columns if columns is not None else sweep_axes(frame)
    rows = frame if top is None else frame.head(top)
    return [dict(row) for row in rows.select(names).iter_rows(named=True)]
