"""archbudget.integrations.keras_tuner with the real Keras Tuner (Keras on JAX): over a
space where 80% of the models are oversized, RandomSearch, Hyperband and
BayesianOptimization finish their trials without building one, where Keras Tuner's own
`max_model_size` builds them and stops the search."""
import os

import numpy as np
import pytest

from conftest import require

os.environ.setdefault("KERAS_BACKEND", "jax")
kt = require("keras_tuner")
keras = require("keras")

import archbudget  # noqa: E402
from archbudget.integrations import keras_tuner as ab_kt  # noqa: E402

MAX_PARAMS = 4000
BUDGET = archbudget.Budget(max_params=MAX_PARAMS, batch=16)
DEPTHS, WIDTHS = range(1, 5), range(8, 257, 8)


def candidate(hp) -> dict:
    return {"family": "mlp", "input_dim": 32, "classes": 4,
            "depth": hp.Int("depth", 1, 4), "width": hp.Int("width", 8, 256, step=8)}


def make_build(built: list):
    def build(hp):
        model = keras.Sequential([keras.Input((32,))])
        for _ in range(hp.Int("depth", 1, 4)):
            model.add(keras.layers.Dense(hp.Int("width", 8, 256, step=8), activation="relu"))
        model.add(keras.layers.Dense(4))
        model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        built.append(model.count_params())  # Keras's own count of every model built
        return model

    return build


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 32)).astype("float32")
    y = rng.integers(0, 4, size=64)
    return x, y


def test_most_of_the_space_is_oversized():
    grid = [{"family": "mlp", "input_dim": 32, "classes": 4, "depth": d, "width": w} for d in DEPTHS for w in WIDTHS]
    assert sum(not BUDGET.check(c).fits for c in grid) / len(grid) >= 0.8


@pytest.mark.parametrize("tuner_class, kwargs", [
    (kt.RandomSearch, {"max_trials": 10}),
    (kt.BayesianOptimization, {"max_trials": 6, "num_initial_points": 3}),
    (kt.Hyperband, {"max_epochs": 2, "hyperband_iterations": 1}),
])
def test_budgeted_searches_never_build_an_oversized_model(tuner_class, kwargs, tmp_path):
    built: list = []
    tuner = ab_kt.budgeted(
        tuner_class, make_build(built), BUDGET, candidate,
        objective="loss", directory=tmp_path, project_name="t", seed=1, **kwargs,
    )
    x, y = data()
    tuner.search(x, y, epochs=1, batch_size=16, verbose=0)
    trials = list(tuner.oracle.trials.values())
    assert trials and all(t.status == "COMPLETED" for t in trials)
    if tuner_class is kt.RandomSearch:
        assert len(trials) == kwargs["max_trials"]
    assert built and max(built) <= MAX_PARAMS  # Keras's own counts of what was built
    assert tuner.oracle.archbudget_rejected > 0
    assert tuner.hypermodel.builds == len(built)


def test_keras_tuners_own_max_model_size_builds_oversized_models_and_stops(tmp_path):
    built: list = []
    tuner = kt.RandomSearch(
        make_build(built), objective="loss", max_trials=12, max_model_size=MAX_PARAMS,
        directory=tmp_path, project_name="t", seed=1,
    )
    x, y = data()
    with pytest.raises(RuntimeError, match="consecutive failures"):
        tuner.search(x, y, epochs=1, batch_size=16, verbose=0)
    assert max(built) > MAX_PARAMS
