"""archbudget.integrations.ray with the real Ray Tune on a local Ray: the searcher
wrapper starts no over-budget trial, and the GPU shares Ray gave the trials running at
any moment sum to at most one GPU, each share covering its trial's predicted peak."""
import sys
import time

import pytest

from conftest import require

ray = require("ray")
require("ray.tune")
require("optuna")

from ray import tune  # noqa: E402
from ray.tune.search.optuna import OptunaSearch  # noqa: E402

import archbudget  # noqa: E402
from archbudget.integrations import ray as ab_ray  # noqa: E402


def mlp(config: dict) -> dict:
    return {"family": "mlp", "input_dim": 784, "classes": 10, "depth": config["depth"], "width": config["width"]}


BUDGET = archbudget.Budget(max_params=100_000, batch=64)
# A small "GPU", so that two to four of these models share it.
GPU_BYTES = 3 * BUDGET.check(mlp({"depth": 2, "width": 96})).peak_bytes


def train(config: dict) -> None:
    start = time.time()
    gpu = ray.get_runtime_context().get_assigned_resources().get("GPU", 0.0)
    time.sleep(2.5)  # stands for the training
    tune.report({"score": float(config["width"]), "start": start, "end": time.time(), "gpu": gpu})


@pytest.fixture(scope="module")
def local_ray():
    # Ray's workers cannot import a test module: its functions travel by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(address="local", num_cpus=2, num_gpus=1, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_searcher_wrapper_starts_no_over_budget_trial_and_gpu_shares_fit(local_ray, tmp_path):
    searcher = ab_ray.BudgetSearcher(OptunaSearch(seed=0), BUDGET, mlp)
    resources = ab_ray.gpu_share(BUDGET, mlp, gpu_bytes=GPU_BYTES, cpus=0.25)
    tuner = tune.Tuner(
        tune.with_resources(train, resources),
        param_space={"depth": tune.randint(1, 9), "width": tune.lograndint(16, 1025)},
        tune_config=tune.TuneConfig(search_alg=searcher, metric="score", mode="max", num_samples=8, max_concurrent_trials=4),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    )
    results = tuner.fit()
    rows = [r for r in results if r.metrics]
    assert len(rows) == 8 and not results.errors
    for r in rows:
        assert BUDGET.check(mlp(r.config)).fits  # every trial that started fits
        share = ab_ray.gpu_fraction(BUDGET.check(mlp(r.config)).peak_bytes, GPU_BYTES)
        assert r.metrics["gpu"] == pytest.approx(share)  # what Ray gave the trial
        assert share * GPU_BYTES >= BUDGET.check(mlp(r.config)).peak_bytes
    assert searcher.rejected > 0
    for r in rows:  # at each start, the shares of the trials running sum to at most one GPU
        t = r.metrics["start"]
        running = [o for o in rows if o.metrics["start"] <= t < o.metrics["end"]]
        assert sum(o.metrics["gpu"] for o in running) <= 1.0 + 1e-9
    assert max(len([o for o in rows if o.metrics["start"] <= r.metrics["start"] < o.metrics["end"]]) for r in rows) >= 2


def test_sweep_grid_runs_the_sweeps_rows(local_ray, tmp_path):
    frame = archbudget.sweep(
        {"family": "mlp", "fixed": {"input_dim": 784, "classes": 10},
         "axes": {"depth": [1, 2, 3], "width": [32, 64, 128, 256]}, "run": {"batch": 64}},
        max_params=100_000, sort="params", descending=True, top=3,
    )

    def trainable(config):
        tune.report({"params": BUDGET.check(mlp(config["arch"])).params})

    results = tune.Tuner(
        tune.with_resources(trainable, {"cpu": 0.5}),
        param_space={"arch": ab_ray.sweep_grid(frame)},
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    ).fit()
    assert sorted(r.metrics["params"] for r in results) == sorted(frame["params"].to_list())


def test_a_config_over_one_gpu_is_an_error():
    huge = ab_ray.gpu_share(BUDGET, mlp, gpu_bytes=1024)
    with pytest.raises(archbudget.ArchBudgetError, match="exceeds one GPU"):
        huge({"depth": 2, "width": 64})
