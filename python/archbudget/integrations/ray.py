"""Ray Tune: trials that start only inside the budget, each given the share of a GPU its
predicted peak needs.

- `BudgetSearcher(searcher, budget, candidate)` wraps another `Searcher` the way Ray's
  `ConcurrencyLimiter` does and never hands out an over-budget configuration: each
  suggestion is checked (`candidate(config)` maps a configuration to an archbudget
  candidate); an over-budget one is reported back to the wrapped searcher as a trial
  that ended without a result (no made-up score), and another is asked for. Not as an
  error: Optuna's TPE (OptunaSearch) learns from such a trial (it records it as
  pruned) but nothing from a failed one, and would keep proposing the same oversized
  region (benches/nas_optuna.py measures it).
- `gpu_share(budget, candidate)` is a `tune.with_resources` callable: one GPU's share
  for a trial is its predicted peak over the GPU's bytes, rounded up to 1/100, so that
  Ray's scheduler packs trials whose peaks together fit on the GPU.
- `sweep_grid(frame, top=k)` turns the best rows of a sweep into a `tune.grid_search`.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import polars as pl
from ray import tune
from ray.tune.execution.placement_groups import PlacementGroupFactory
from ray.tune.search import Searcher

from archbudget.budget import Budget, Candidate, Check
from archbudget.errors import ArchBudgetError
from archbudget.integrations import sweep_rows

CandidateFn = Callable[[dict[str, Any]], Candidate]

# Ray schedules fractional GPUs in steps of 1/10,000; a share in hundredths keeps the
# rounding visible and its waste under 1% of the GPU.
SHARE_STEP = 100


class BudgetSearcher(Searcher):
    """A searcher whose suggestions all fit `budget`; `checks[trial_id]` holds the check
    of each suggestion handed out and `rejected` counts the ones turned down. After
    `max_tries` over-budget suggestions in a row it raises ArchBudgetError: the space
    holds (almost) nothing inside the budget."""

    def __init__(self, searcher: Searcher, budget: Budget, candidate: CandidateFn, *, max_tries: int = 1000) -> None:
        super().__init__(metric=searcher.metric, mode=searcher.mode)
        self.searcher = searcher
        self._budget = budget
        self._candidate = candidate
        self._max_tries = max_tries
        # Ray's trial id -> the id the wrapped searcher gave that suggestion.
        self._inner_ids: dict[str, str] = {}
        self.checks: dict[str, Check] = {}
        self.rejected = 0

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        accepted = self.searcher.set_search_properties(metric, mode, config, **spec)
        self._metric, self._mode = self.searcher.metric, self.searcher.mode
        return accepted

    def suggest(self, trial_id: str) -> dict | str | None:
        for attempt in range(self._max_tries):
            inner_id = f"{trial_id}-archbudget-{attempt}"
            config = self.searcher.suggest(inner_id)
            if config is None or config == Searcher.FINISHED:
                return config
            check = self._budget.check(self._candidate(config))
            if check.fits:
                self._inner_ids[trial_id] = inner_id
                self.checks[trial_id] = check
                return config
            self.rejected += 1
            self.searcher.on_trial_complete(inner_id, result=None, error=False)
        raise ArchBudgetError(
            f"BudgetSearcher: {self._max_tries} suggestions in a row were over budget ({self._budget!r}); "
            "loosen the budget or narrow the search space"
        )

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        return self.searcher.set_max_concurrency(max_concurrent)

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        self.searcher.on_trial_result(self._inner_ids.get(trial_id, trial_id), result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        self.searcher.on_trial_complete(self._inner_ids.pop(trial_id, trial_id), result=result, error=error)

    # As ConcurrencyLimiter: the wrapper's own state here, the wrapped searcher's in
    # its save / restore.
    def get_state(self) -> dict:
        return {"inner_ids": dict(self._inner_ids), "checks": dict(self.checks), "rejected": self.rejected}

    def set_state(self, state: dict) -> None:
        self._inner_ids = dict(state["inner_ids"])
        self.checks = dict(state["checks"])
        self.rejected = state["rejected"]

    def save(self, checkpoint_path: str) -> None:
        self.searcher.save(checkpoint_path)

    def restore(self, checkpoint_path: str) -> None:
        self.searcher.restore(checkpoint_path)


def gpu_fraction(peak_bytes: int, gpu_bytes: int) -> float:
    """The share of one GPU that a peak needs, rounded up to 1/SHARE_STEP."""
    return math.ceil(peak_bytes * SHARE_STEP / gpu_bytes) / SHARE_STEP


def gpu_share(
    budget: Budget, candidate: CandidateFn, *, gpu_bytes: int | None = None, cpus: float = 1
) -> Callable[[dict], PlacementGroupFactory]:
    """A `tune.with_resources(trainable, resources=...)` callable: `cpus` CPUs and the
    GPU share of the configuration's predicted peak on a GPU of `gpu_bytes` (default: the
    budget's `max_memory`). A configuration whose peak exceeds the GPU is an error."""
    total = gpu_bytes if gpu_bytes is not None else budget.max_memory
    if not total:
        raise ArchBudgetError("gpu_share: give gpu_bytes= or a budget with max_memory=")

    def resources(config: dict) -> PlacementGroupFactory:
        check = budget.check(candidate(config))
        share = gpu_fraction(check.peak_bytes, total)
        if share > 1:
            raise ArchBudgetError(
                f"gpu_share: the configuration's peak ({check.peak_bytes} bytes) exceeds one GPU ({total} bytes)"
            )
        return PlacementGroupFactory([{"CPU": cpus, "GPU": share}])

    return resources


def sweep_grid(frame: pl.DataFrame, top: int | None = None, params: list[str] | None = None) -> dict:
    """`tune.grid_search` over the first `top` rows of an `archbudget.sweep` frame, each
    a dict {axis: value} (`params` names the columns; default: the sweep's axes)."""
    return tune.grid_search(sweep_rows(frame, top, params))
