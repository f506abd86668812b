"""Optuna: check each trial's model against a `Budget` before training it.

- `check_trial(trial, budget, candidate)` records the figures (user attrs
  `archbudget.params`, `.trainable_params`, `.peak_bytes`, `.flops_fwd_bwd`, `.fits`) and
  one constraint per limit (`trial.set_constraint`, Optuna >= 5), then prunes an
  over-budget trial before any training.
- `constraints_func` gives the same constraint values to a sampler's
  `constraints_func=` (Optuna 4; deprecated in Optuna 5, where `set_constraint` suffices).
- `enqueue_sweep(study, frame, top=k)` enqueues the best rows of a sweep.
- `FeasibleSampler(base, budget, candidate, search_space)` resamples infeasible points of a
  fixed search space, so that a trial is only ever created inside the budget.

Why an infeasible trial is pruned *with* its constraint values, not failed and not
merely pruned (optuna/samplers/_tpe/sampler.py, `_split_trials`): TPE fits its densities
on COMPLETE and PRUNED trials only, so a FAILED trial teaches it nothing and the same
oversized region is sampled again and again. A pruned trial without constraint values
and without intermediate values scores `(1, 0.0)`, equal for all of them: while
feasible trials are fewer than TPE's "below" group, arbitrary oversized trials fill that
group and pull sampling toward them. A trial whose constraint values are positive is
split first as infeasible, ranked by its total violation: it never outranks a feasible
trial, and among infeasible ones the nearly feasible lead, which steers TPE toward the
budget. Pruning (rather than returning a made-up objective value) keeps it out of
`study.best_trial` and out of any sampler that reads values. benches/nas_optuna.py
measures these choices (README, "NAS pipelines").
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import optuna
import polars as pl
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.study import Study
from optuna.trial import FrozenTrial

from archbudget.budget import Budget, Candidate, Check
from archbudget.integrations import sweep_rows

PREFIX = "archbudget."
CONSTRAINTS = PREFIX + "constraints"


def record(trial: optuna.trial.BaseTrial, budget: Budget, check: Check) -> None:
    """Store a check's figures and constraint values on the trial."""
    for key, value in check.to_dict().items():
        trial.set_user_attr(PREFIX + key, value)
    trial.set_user_attr(CONSTRAINTS, list(check.constraints))
    if hasattr(trial, "set_constraint"):  # Optuna >= 5 reads constraints from the trial
        for name, value in zip(budget.constraint_names, check.constraints):
            trial.set_constraint(PREFIX + name, value)


def check_trial(trial: optuna.trial.BaseTrial, budget: Budget, candidate: Candidate, *, prune: bool = True) -> Check:
    """Check the trial's candidate, record the result, and (by default) raise
    `optuna.TrialPruned` when it is over budget, before any training starts."""
    check = budget.check(candidate)
    record(trial, budget, check)
    if prune and not check.fits:
        raise optuna.TrialPruned(
            f"archbudget: over budget ({budget!r}): params {check.params}, "
            f"peak {check.peak_bytes} bytes, {check.flops_fwd_bwd} FLOPs"
        )
    return check


def constraints_func(trial: FrozenTrial) -> tuple[float, ...]:
    """The constraint values `check_trial` recorded (> 0: over a limit); empty for a trial
    that was not checked."""
    return tuple(trial.user_attrs.get(CONSTRAINTS, ()))


def enqueue_sweep(study: Study, frame: pl.DataFrame, top: int | None = None, params: list[str] | None = None) -> int:
    """Enqueue the first `top` rows of an `archbudget.sweep` frame (inside its budgets,
    in the order it was sorted) as trials with those parameter values; `params` names the
    columns to use (default: the sweep's axes). Returns how many were enqueued."""
    rows = sweep_rows(frame, top, params)
    for row in rows:
        study.enqueue_trial(row, skip_if_exists=True)
    return len(rows)


class FeasibleSampler(BaseSampler):
    """Wrap a sampler so that every point it gives over a fixed `search_space` is inside
    the budget: each draw is checked (`candidate(params)` maps the drawn parameters to an
    archbudget candidate) and an over-budget one is drawn again: `base_tries` times from
    the base sampler (whose draws cost milliseconds), then at random (microseconds) up to
    `max_tries` in all; the last draw is used if none fits, and `check_trial` prunes it.
    Parameters outside `search_space` go to the base sampler."""

    def __init__(
        self,
        base: BaseSampler,
        budget: Budget,
        candidate: Callable[[dict[str, Any]], Candidate],
        search_space: Mapping[str, BaseDistribution],
        *,
        base_tries: int = 10,
        max_tries: int = 1000,
        seed: int | None = None,
    ) -> None:
        self._base = base
        self._budget = budget
        self._candidate = candidate
        self._space = dict(search_space)
        self._base_tries = base_tries
        self._max_tries = max_tries
        self._random = RandomSampler(seed=seed)
        self.rejected = 0

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return dict(self._space)

    def _draw(self, study: Study, trial: FrozenTrial, sampler: BaseSampler) -> dict[str, Any]:
        inner = sampler.infer_relative_search_space(study, trial)
        shared = {k: d for k, d in inner.items() if self._space.get(k) == d}
        params = sampler.sample_relative(study, trial, shared) if shared else {}
        for name, dist in self._space.items():
            if name not in params:
                params[name] = sampler.sample_independent(study, trial, name, dist)
        return params

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for attempt in range(self._max_tries):
            # A deterministic base (GP, CMA-ES) would repeat its rejected point anyway.
            sampler = self._base if attempt < self._base_tries else self._random
            params = self._draw(study, trial, sampler)
            if self._budget.check(self._candidate(params)).fits:
                return params
            self.rejected += 1
        return params

    def sample_independent(
        self, study: Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        return self._base.sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._base.before_trial(study, trial)

    def after_trial(self, study: Study, trial: FrozenTrial, state: Any, values: Any) -> None:
        self._base.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self._base.reseed_rng()
        self._random.reseed_rng()
