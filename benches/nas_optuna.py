"""How an over-budget trial should end so that Optuna's TPE steers best: measured.

Space: an MLP on 784 inputs, depth 1-8, width 16-2048 (uniform), batch 64, budget 60k
params (about 97% of the space is over budget: few of the 10 random start-up trials fit). The objective is the model's parameter
count (bigger trains better, up to the budget), so the best model sits on the budget's
edge. Each strategy runs 200 trials per seed; reported: trials that trained (inside the
budget), the best feasible objective, and its gap to the best feasible model of the
space (found by `archbudget.sweep`).

usage: python benches/nas_optuna.py [--trials 200] [--seeds 3]   (needs optuna)
"""
import argparse
import statistics

import optuna

import archbudget
from archbudget.integrations import optuna as ab_optuna

BUDGET = archbudget.Budget(max_params=60_000, batch=64)
SPACE = {
    "depth": optuna.distributions.IntDistribution(1, 8),
    "width": optuna.distributions.IntDistribution(16, 2048),
}


def mlp(p: dict) -> dict:
    return {"family": "mlp", "input_dim": 784, "classes": 10, "depth": p["depth"], "width": p["width"]}


class OverBudget(RuntimeError):
    pass


def objective(ending: str):
    def run(trial):
        p = {"depth": trial.suggest_int("depth", 1, 8), "width": trial.suggest_int("width", 16, 2048)}
        if ending == "constrained":
            return ab_optuna.check_trial(trial, BUDGET, mlp(p)).params
        check = BUDGET.check(mlp(p))
        if not check.fits:
            if ending == "fail":
                raise OverBudget()
            raise optuna.TrialPruned()
        return check.params

    return run


STRATEGIES = {
    "random sampler, pruned": (lambda s: optuna.samplers.RandomSampler(seed=s), "constrained"),
    "TPE, failed (exception)": (lambda s: optuna.samplers.TPESampler(seed=s), "fail"),
    "TPE, pruned": (lambda s: optuna.samplers.TPESampler(seed=s), "prune"),
    "TPE, pruned + constraints": (lambda s: optuna.samplers.TPESampler(seed=s), "constrained"),
    "FeasibleSampler(TPE)": (
        lambda s: ab_optuna.FeasibleSampler(optuna.samplers.TPESampler(seed=s), BUDGET, mlp, SPACE, seed=s),
        "constrained",
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--only", help="run only the strategies whose name contains this")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    space = {"family": "mlp", "fixed": {"input_dim": 784, "classes": 10},
             "axes": {"depth": list(range(1, 9)), "width": list(range(16, 2049))}, "run": {"batch": 64}}
    best_possible = archbudget.sweep(space, max_params=60_000, sort="params", descending=True, top=1)["params"][0]
    print(f"best feasible model of the space: {best_possible:,} params; {args.trials} trials x {args.seeds} seeds")
    print(f"{'strategy':<28}{'trained (feasible)':>20}{'best objective':>16}{'gap to best':>13}")
    for name, (sampler, ending) in STRATEGIES.items():
        if args.only and args.only not in name:
            continue
        trained, best = [], []
        for seed in range(args.seeds):
            study = optuna.create_study(direction="maximize", sampler=sampler(seed))
            study.optimize(objective(ending), n_trials=args.trials, catch=(OverBudget,))
            done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
            trained.append(len(done))
            best.append(max((t.value for t in done), default=0))
        b = statistics.mean(best)
        print(f"{name:<28}{statistics.mean(trained):>20.1f}{b:>16,.0f}{(best_possible - b) / best_possible:>12.2%}")


if __name__ == "__main__":
    main()
