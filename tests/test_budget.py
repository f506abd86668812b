"""archbudget.Budget: a check of each candidate kind equals summary / memory / sweep of
the same model and the frameworks' own counts (oracle and fixture files); bad input is
one clear ArchBudgetError."""
import json
import pickle
import random

import pytest

import archbudget
from archbudget import ArchBudgetError
from conftest import DATA, EXAMPLES

ORACLE = json.loads((DATA / "gpu_memory_dev.json").read_text())["cases"]
FAMILY_KEYS = {
    "mlp": ("input_dim", "depth", "width", "classes"),
    "cnn": ("image", "channels", "stages", "convs", "filters", "batchnorm", "classes"),
    "lstm": ("vocab", "embed", "hidden", "layers", "seq", "classes"),
}


def cases(family: str, n: int) -> list[dict]:
    found = [c for c in ORACLE if c["family"] == family]
    return random.Random(13).sample(found, min(n, len(found)))


def figures(check) -> tuple:
    return check.params, check.peak_bytes, check.flops_fwd_bwd


@pytest.mark.parametrize("family", ["mlp", "cnn", "lstm"])
def test_family_dicts_equal_memory_and_the_measured_counts(family):
    for case in cases(family, 12):
        run = dict(case["run"])
        candidate = {"family": family, **{k: case["case"][k] for k in FAMILY_KEYS[family]}}
        check = archbudget.Budget(**run).check(candidate)
        m = archbudget.memory(case["model"]["model_json"], **run)
        assert figures(check) == (m.params, m.peak_bytes, m.flops_fwd_bwd), case["id"]
        assert check.params == case["measured"]["params"], case["id"]  # what PyTorch counted
        assert check.trainable_params == case["measured"]["trainable"], case["id"]


def test_family_dicts_equal_the_sweep_row():
    space = {
        "family": "mlp",
        "fixed": {"input_dim": 784, "classes": 10},
        "axes": {"depth": [1, 3], "width": [64, 512]},
        "run": {"batch": 32, "precision": "amp_bf16"},
    }
    budget = archbudget.Budget(batch=32, precision="amp_bf16")
    for row in archbudget.sweep(space).to_dicts():
        check = budget.check({"family": "mlp", "input_dim": 784, "classes": 10, "depth": row["depth"], "width": row["width"]})
        assert (check.params, check.trainable_params, check.peak_bytes, check.flops_fwd, check.flops_fwd_bwd) == (
            row["params"], row["trainable_params"], row["peak_bytes"], row["flops_fwd"], row["flops_fwd_bwd"]
        )


def test_transformers_configs_equal_summary_and_memory():
    for case in cases("hf", 8):
        config = case["model"]["config"]
        run = dict(case["run"])
        head = run["head"]
        check = archbudget.Budget(**run).check(config)
        assert check.params == archbudget.summary(config, head=head).total_params, case["id"]
        assert check.params == case["measured"]["params"], case["id"]  # what transformers counted
        m = archbudget.memory(config, **run)
        assert (check.peak_bytes, check.flops_fwd_bwd) == (m.peak_bytes, m.flops_fwd_bwd), case["id"]


def test_a_config_with_nested_values_and_the_hf_family_form():
    config = json.loads((EXAMPLES / "llama-3-8b.json").read_text())
    assert isinstance(config.get("rope_parameters"), dict)  # nested values reach the reader
    budget = archbudget.Budget(batch=1, seq=512, precision="bf16")
    check = budget.check(config)
    assert check.params == archbudget.summary(config).total_params
    assert check.peak_bytes == archbudget.memory(config, batch=1, seq=512, precision="bf16").peak_bytes
    small = {"model_type": "gpt2", "n_embd": 256, "n_layer": 2, "n_head": 4}
    family_form = budget.check({"family": "hf", **small, "seq": 128})
    assert family_form.params == archbudget.summary(small).total_params
    assert family_form.peak_bytes == archbudget.memory(small, batch=1, seq=128, precision="bf16").peak_bytes


def test_keras_json_counts_as_keras_and_peaks_as_memory():
    models = json.loads((DATA / "keras_memory.json").read_text())["models"]
    budget = archbudget.Budget(batch=2)
    for name, entry in models.items():
        check = budget.check(entry["model_json"])
        assert check.params == entry["keras_params"], name  # Keras's count_params()
        m = archbudget.memory(entry["model_json"], batch=2)
        assert (check.peak_bytes, check.flops_fwd_bwd) == (m.peak_bytes, m.flops_fwd_bwd), name
    # the same model as text and as a file path
    path = EXAMPLES / "mlp_keras.json"
    assert budget.check(path.read_text()) == budget.check(str(path)) == budget.check(json.loads(path.read_text()))


def test_a_template_with_values_equals_the_edited_model():
    template = json.loads((EXAMPLES / "mlp_keras.json").read_text())
    edited = json.loads(json.dumps(template))
    for layer in edited["config"]["layers"]:
        if layer["config"].get("name") == "dense":
            layer["config"]["units"] = 96
    budget = archbudget.Budget(batch=16)
    for given in (template, json.dumps(template), str(EXAMPLES / "mlp_keras.json")):
        check = budget.check({"template": given, "dense.units": 96})
        assert check.params == archbudget.summary(edited).total_params
        assert check.peak_bytes == archbudget.memory(edited, batch=16).peak_bytes
    assert budget.check({"template": template, "dense.units": 96, "batch": 64}).peak_bytes == archbudget.memory(edited, batch=64).peak_bytes


def test_limits_decide_fits_and_the_constraint_values():
    candidate = {"family": "mlp", "input_dim": 784, "depth": 3, "width": 512, "classes": 10}
    free = archbudget.Budget(batch=64).check(candidate)
    assert free.fits and free.constraints == ()
    at_limit = archbudget.Budget(max_params=free.params, max_memory=free.peak_bytes, max_flops=free.flops_fwd_bwd, batch=64)
    assert at_limit.check(candidate).fits
    assert at_limit.check(candidate).constraints == (0.0, 0.0, 0.0)
    one_less = archbudget.Budget(max_params=free.params - 1, batch=64).check(candidate)
    assert not one_less.fits and one_less.constraints[0] > 0
    too_small = archbudget.Budget(min_params=free.params + 1, batch=64)
    assert too_small.constraint_names == ("min_params",)
    assert not too_small.check(candidate).fits
    assert too_small.check(candidate).constraints == (1 / (free.params + 1),)
    assert not archbudget.Budget(max_memory=free.peak_bytes - 1, batch=64).check(candidate).fits
    assert archbudget.Budget(max_params="2M", max_memory="1GiB", batch=64).check(candidate).fits


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: archbudget.Budget(bach=4), "unknown run setting 'bach'"),
        (lambda: archbudget.Budget(max_params="lots"), "max_params"),
        (lambda: archbudget.Budget(gpu="H1000"), "did you mean"),
        (lambda: archbudget.Budget().check({"family": "mlp", "depth": 2}), "needs 'input_dim'"),
        (lambda: archbudget.Budget().check({"family": "mlp", "input_dim": 4, "depth": -1, "width": 2, "classes": 2}), "depth"),
        (lambda: archbudget.Budget().check({"depth": 2}), "a candidate needs 'family'"),
        (lambda: archbudget.Budget().check({"model_type": "gpt2"}), "needs 'seq'"),
        (lambda: archbudget.Budget(seq=8).check({"model_type": "no_such_model"}), "no_such_model"),
        (lambda: archbudget.Budget().check("{not json"), "malformed JSON"),
        (lambda: archbudget.Budget().check([1, 2]), "expected a dict"),
        (lambda: archbudget.Budget().check({"template": str(EXAMPLES / "mlp_keras.json"), "nope.units": 3}), "nope.units"),
        (lambda: archbudget.Budget().check({"template": "/no/such/file.json"}), "cannot read the template"),
    ],
)
def test_bad_input_is_one_clear_error(make, message):
    with pytest.raises(ArchBudgetError, match=message.replace("(", r"\(")):
        make()


def test_a_budget_survives_pickling():
    budget = archbudget.Budget(max_params="1M", batch=64, precision="amp_bf16")
    candidate = {"family": "mlp", "input_dim": 784, "depth": 3, "width": 512, "classes": 10}
    copy = pickle.loads(pickle.dumps(budget))
    assert copy.check(candidate) == budget.check(candidate)
    assert copy.constraint_names == ("max_params",)


def test_gpu_budget_is_the_catalog_budget_that_memory_and_fit_use():
    budget = archbudget.Budget(gpu="rtx4090", headroom="2GiB")
    assert budget.max_memory == archbudget.gpu_budget_bytes("rtx4090", headroom="2GiB")
    tighter = archbudget.Budget(gpu="h100", max_memory="1GiB")
    assert tighter.max_memory == 1 << 30
