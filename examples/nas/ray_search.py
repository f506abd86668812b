"""Ray Tune: Optuna's TPE through BudgetSearcher (no over-budget trial ever starts) and
GPU shares from each configuration's predicted peak (trials that fit together share
the GPU). Runs on CPU: the GPU here is a logical one Ray is told about.

    pip install 'archbudget[ray,optuna]'; python examples/nas/ray_search.py
"""
import time

import ray
from ray import tune
from ray.tune.search.optuna import OptunaSearch

import archbudget
from archbudget.integrations import ray as ab_ray

budget = archbudget.Budget(max_params=100_000, max_memory="16MiB", batch=64)


def candidate(config):
    return {"family": "mlp", "input_dim": 784, "classes": 10, "depth": config["depth"], "width": config["width"]}


def train(config):
    time.sleep(0.5)  # the training would run here, inside its GPU share
    tune.report({"score": float(config["depth"] * config["width"])})


ray.init(address="local", num_cpus=2, num_gpus=1, include_dashboard=False, log_to_driver=False)
searcher = ab_ray.BudgetSearcher(OptunaSearch(seed=0), budget, candidate)
tuner = tune.Tuner(
    tune.with_resources(train, ab_ray.gpu_share(budget, candidate, cpus=0.25)),
    param_space={"depth": tune.randint(1, 9), "width": tune.lograndint(16, 1025)},
    tune_config=tune.TuneConfig(search_alg=searcher, metric="score", mode="max", num_samples=12, max_concurrent_trials=4),
    run_config=tune.RunConfig(verbose=0),
)
best = tuner.fit().get_best_result()
print(f"best {best.config}; {searcher.rejected} over-budget suggestions turned down, none started")
