"""archbudget.integrations.optuna with the real Optuna: over-budget trials are pruned
before training and recorded as infeasible, constrained TPE finds at least as many
feasible models as random search, the feasible sampler only suggests fitting points,
and a sweep's best rows are enqueued."""
from conftest import require

optuna = require("optuna")

import archbudget  # noqa: E402
from archbudget.integrations import optuna as ab_optuna  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)

BUDGET = archbudget.Budget(max_params=100_000, batch=64)
# Optuna >= 5 reads the constraints check_trial sets on the trial; Optuna 4 needs the
# sampler's constraints_func
CONSTRAINED = {} if hasattr(optuna.trial.Trial, "set_constraint") else {"constraints_func": ab_optuna.constraints_func}
SPACE = {
    "depth": optuna.distributions.IntDistribution(1, 8),
    "width": optuna.distributions.IntDistribution(16, 1024, log=True),
}


def mlp(params: dict) -> dict:
    return {"family": "mlp", "input_dim": 784, "classes": 10, "depth": params["depth"], "width": params["width"]}


def make_objective(trained: list):
    def objective(trial):
        params = {"depth": trial.suggest_int("depth", 1, 8), "width": trial.suggest_int("width", 16, 1024, log=True)}
        check = ab_optuna.check_trial(trial, BUDGET, mlp(params))
        trained.append((params, check))  # stands for the training: reached only inside the budget
        return check.params  # bigger models do better, up to the budget

    return objective


def test_most_of_the_space_is_over_budget():
    grid = [{"depth": d, "width": w} for d in range(1, 9) for w in range(16, 1025)]
    over = sum(not BUDGET.check(mlp(p)).fits for p in grid)
    assert over / len(grid) > 0.8


def run_study(sampler, n_trials=200):
    trained: list = []
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(make_objective(trained), n_trials=n_trials)
    return study, trained


def test_constrained_tpe_trains_nothing_over_budget_and_finds_as_many_feasible_as_random():
    tpe, tpe_trained = run_study(optuna.samplers.TPESampler(seed=0, **CONSTRAINED))
    rnd, rnd_trained = run_study(optuna.samplers.RandomSampler(seed=0))
    for trained in (tpe_trained, rnd_trained):
        assert all(BUDGET.check(mlp(p)).fits for p, check in trained)
    complete = [t for t in tpe.trials if t.state == optuna.trial.TrialState.COMPLETE]
    pruned = [t for t in tpe.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert len(complete) == len(tpe_trained) and len(complete) + len(pruned) == 200
    # pruned trials carry their figures and positive constraint values
    assert all(t.user_attrs["archbudget.fits"] is False and ab_optuna.constraints_func(t)[0] > 0 for t in pruned)
    assert all(ab_optuna.constraints_func(t)[0] <= 0 for t in complete)
    assert len(tpe_trained) >= len(rnd_trained)
    assert tpe.best_trial.user_attrs["archbudget.params"] <= 100_000


def test_feasible_sampler_suggests_only_points_inside_the_budget():
    sampler = ab_optuna.FeasibleSampler(optuna.samplers.TPESampler(seed=1, **CONSTRAINED), BUDGET, mlp, SPACE, seed=1)
    study, trained = run_study(sampler, n_trials=40)
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    assert len(trained) == 40 and sampler.rejected > 0


def test_a_sweeps_best_rows_are_enqueued_first():
    frame = archbudget.sweep(
        {"family": "mlp", "fixed": {"input_dim": 784, "classes": 10},
         "axes": {"depth": list(range(1, 9)), "width": list(range(16, 1025))}, "run": {"batch": 64}},
        max_params=100_000, sort="params", descending=True, top=5,
    )
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    assert ab_optuna.enqueue_sweep(study, frame) == 5
    trained: list = []
    study.optimize(make_objective(trained), n_trials=5)
    assert [p for p, _ in trained] == frame.select("depth", "width").to_dicts()
    assert [c.params for _, c in trained] == frame["params"].to_list()
