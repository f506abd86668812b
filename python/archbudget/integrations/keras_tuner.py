"""Keras Tuner: searches that never build an oversized model.

Keras Tuner's own `max_model_size` (keras_tuner/engine/tuner.py, `Tuner._try_build`)
builds each model to call `count_params()`, then fails the trial; a run of failed trials
stops the search (`Oracle._check_consecutive_failures`: "Number of consecutive failures
exceeded the limit of 3"; "Too many consecutive oversized models" in Keras Tuner < 1.1).
Here the budget is checked on hyperparameter values, before a trial exists:

- every oracle draws its random points through `Oracle._random_values` (RandomSearch,
  Hyperband's new brackets, BayesianOptimization's initial points); `guard_oracle`
  makes it return only points inside the budget, marking a rejected point as tried so
  that it is never drawn again (and the search stops, as Keras Tuner does, once no
  untried feasible point is left);
- a point an oracle computes (BayesianOptimization's Gaussian-process optimum) that is
  over budget is replaced by a feasible random one;
- `BudgetHyperModel` checks again before `build` and never builds an over-budget model;
  while the tuner explores its space at construction (`BaseTuner._populate_initial_space`
  builds the model at the default values) it skips an over-budget build.

`candidate(hp)` maps hyperparameters to an archbudget candidate: a family dict, a
config dict, or `{"template": model_json, "dense_1.units": hp.Int("units", 32, 512)}`.
It must declare (`hp.Int`, `hp.Choice`, ...) every hyperparameter that sizes the model.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras_tuner as kt

from archbudget.budget import Budget, Candidate

CandidateFn = Callable[[kt.HyperParameters], Candidate]


class BudgetHyperModel(kt.HyperModel):
    """A hypermodel that checks its candidate before building: `builds` counts the models
    built, `skipped` the over-budget builds skipped while the tuner explored its space."""

    def __init__(self, hypermodel: Any, budget: Budget, candidate: CandidateFn) -> None:
        super().__init__()
        # A build function is a hypermodel with the default fit (model.fit) and no
        # declared hyperparameters. (kt.HyperModel keeps its own `_build`: other names.)
        self._inner = hypermodel if isinstance(hypermodel, kt.HyperModel) else kt.HyperModel()
        self._inner_build = hypermodel.build if isinstance(hypermodel, kt.HyperModel) else hypermodel
        self._budget = budget
        self._candidate = candidate
        self.exploring = True
        self.builds = 0
        self.skipped = 0

    def declare_hyperparameters(self, hp: kt.HyperParameters) -> None:
        self._candidate(hp)
        self._inner.declare_hyperparameters(hp)

    def build(self, hp: kt.HyperParameters) -> Any:
        check = self._budget.check(self._candidate(hp))
        if not check.fits:
            if self.exploring:
                self.skipped += 1
                return None  # the tuner only reads the hyperparameters this build declares
            raise kt.errors.FailedTrialError(
                f"archbudget: over budget ({self._budget!r}): {check.params} params, peak {check.peak_bytes} bytes"
            )
        self.builds += 1
        return self._inner_build(hp)

    def fit(self, hp: kt.HyperParameters, model: Any, *args: Any, **kwargs: Any) -> Any:
        return self._inner.fit(hp, model, *args, **kwargs)


def guard_oracle(oracle: kt.Oracle, budget: Budget, candidate: CandidateFn) -> kt.Oracle:
    """Make `oracle` hand out only points inside `budget` (see the module's doc);
    `oracle.archbudget_rejected` counts the points it turned down."""
    random_values = oracle._random_values
    populate_space = oracle.populate_space

    def fits(values: dict[str, Any]) -> bool:
        hp = oracle.hyperparameters.copy()
        hp.values = dict(values)
        if budget.check(candidate(hp)).fits:
            return True
        oracle._tried_so_far.add(oracle._compute_values_hash(values))
        oracle.archbudget_rejected += 1
        return False

    def feasible_random_values() -> dict[str, Any] | None:
        while True:
            values = random_values()
            if values is None or fits(values):
                return values

    def feasible_populate_space(trial_id: str) -> dict[str, Any]:
        response = populate_space(trial_id)
        values = response.get("values")
        if response.get("status") != kt.engine.trial.TrialStatus.RUNNING or not values:
            return response
        own = {k: v for k, v in values.items() if not k.startswith("tuner/")}
        if fits(own):
            return response
        replacement = feasible_random_values()
        if replacement is None:
            return {"status": kt.engine.trial.TrialStatus.STOPPED, "values": None}
        return {**response, "values": {**replacement, **{k: v for k, v in values.items() if k.startswith("tuner/")}}}

    oracle.archbudget_rejected = 0
    oracle._random_values = feasible_random_values
    oracle.populate_space = feasible_populate_space
    return oracle


def budgeted(tuner_class: type, hypermodel: Any, budget: Budget, candidate: CandidateFn, **tuner_kwargs: Any) -> Any:
    """`tuner_class(hypermodel=..., **tuner_kwargs)` (kt.RandomSearch, kt.Hyperband,
    kt.BayesianOptimization, ...) that only ever builds and trains models inside
    `budget`. `tuner.hypermodel.builds` counts the models built."""
    guarded = BudgetHyperModel(hypermodel, budget, candidate)
    tuner = tuner_class(hypermodel=guarded, **tuner_kwargs)
    guard_oracle(tuner.oracle, budget, candidate)
    guarded.exploring = False
    return tuner
