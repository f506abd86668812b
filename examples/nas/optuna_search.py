"""Optuna TPE over MLP shapes, every trial checked against a 100k-parameter budget
before it trains: an over-budget trial is pruned with its constraint values recorded
(see archbudget/integrations/optuna.py for why), so TPE learns where the budget ends.

    pip install 'archbudget[optuna]'; python examples/nas/optuna_search.py
"""
import numpy as np
import optuna

import archbudget
from archbudget.integrations import optuna as ab_optuna

budget = archbudget.Budget(max_params=100_000, max_memory="64MiB", batch=64)
rng = np.random.default_rng(0)
x = rng.normal(size=(2000, 784)).astype("float32")
y = (x[:, :10].sum(axis=1) > 0).astype(int)


def train(depth: int, width: int) -> float:
    """A tiny stand-in for training: random ReLU layers, a least-squares read-out,
    validation accuracy."""
    h = x
    for _ in range(depth):
        h = np.maximum(h @ rng.normal(scale=h.shape[1] ** -0.5, size=(h.shape[1], width)), 0)
    w, *_ = np.linalg.lstsq(h[:1500], y[:1500] * 2.0 - 1, rcond=None)
    return float(((h[1500:] @ w > 0) == y[1500:]).mean())


def objective(trial: optuna.Trial) -> float:
    depth = trial.suggest_int("depth", 1, 8)
    width = trial.suggest_int("width", 16, 1024, log=True)
    check = ab_optuna.check_trial(trial, budget, {"family": "mlp", "input_dim": 784, "depth": depth, "width": width, "classes": 10})
    print(f"trial {trial.number}: depth {depth}, width {width}: {check.params:,} params, trains")
    return train(depth, width)


optuna.logging.set_verbosity(optuna.logging.WARNING)
study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
study.optimize(objective, n_trials=40)
pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)
print(f"best {study.best_params} accuracy {study.best_value:.3f}; {pruned} of 40 trials over budget, none trained")
