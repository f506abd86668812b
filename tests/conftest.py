import ast
import gzip
import importlib
import importlib.util
import json
import os
import warnings
from pathlib import Path

import pytest

import archbudget

DATA = Path(__file__).parent / "data"
GOLDEN = Path(__file__).parent / "golden"
EXAMPLES = Path(__file__).parent.parent / "examples"


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", help="rewrite tests/golden from the current output")


@pytest.fixture
def golden(request):
    """Compare text with tests/golden/NAME, or rewrite it under --update-golden."""

    def check(name: str, text: str) -> None:
        path = GOLDEN / name
        if request.config.getoption("--update-golden"):
            path.write_text(text)
        assert path.exists(), f"no golden file {path}; run pytest --update-golden"
        assert text == path.read_text()

    return check


def live_transformers_cases(script: str) -> list:
    """`CASES` of a fixture generator in tests/data (`make_hf_types`, ...) as the
    parameters `(name, model_type, kwargs)` of a test that compares with transformers
    live; one skipped parameter where torch or transformers is absent."""
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        return [pytest.param(None, None, None, marks=pytest.mark.skip(reason="torch and transformers are not installed"))]
    spec = importlib.util.spec_from_file_location(script, DATA / f"{script}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.CASES


def assert_counts_equal_live(model_type: str, kwargs: dict, lm_class: str = "AutoModelForCausalLM"):
    """archbudget's totals for both heads equal the parameters of the models transformers
    builds from the same config (`AutoModel`, and `lm_class` for the LM head)."""
    import transformers
    from hf_fixture import build, count

    transformers.logging.set_verbosity_error()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cfg = transformers.AutoConfig.for_model(model_type, **kwargs)
        config = dict(model_type=model_type, **kwargs)
        assert archbudget.summary(config, head="base").total_params == count(build(transformers.AutoModel, cfg))
        lm = count(build(getattr(transformers, lm_class), cfg))
        assert archbudget.summary(config, head="causal_lm").total_params == lm


def load_keras_hub(name: str) -> dict:
    """A KerasHub fixture, tests/data/NAME (made by a make_keras_hub*.py generator)."""
    with gzip.open(DATA / name, "rt") as f:
        return json.load(f)


def keras_hub_model(fixture: str, name: str) -> dict:
    """Model NAME of the KerasHub fixture tests/data/FIXTURE.json.gz."""
    return next(m for m in load_keras_hub(f"{fixture}.json.gz")["models"] if m["name"] == name)


def assert_counts_and_modules_equal_transformers(row: dict):
    """A row of a transformers fixture: archbudget's total and class equal the model's
    (`base_params`, `base_class`), and where the generator kept `modules` every summary row
    is a module transformers builds, holding that module's parameters."""
    s = archbudget.summary(row["config"])
    assert (s.total_params, s.name) == (row["base_params"], row["base_class"])
    if "modules" in row:
        for name, params in zip(s.layers["name"].to_list(), s.layers["params"].to_list()):
            assert row["modules"][name][1] == params, name


def assert_flops_equal_the_flop_counter(case: dict):
    """A training step of a transformers fixture's FLOPs case: its parameters (and buffers,
    where the generator recorded them) and torch's flop counter's forward and forward +
    backward counts."""
    m = archbudget.memory(case["config"], mode="train", batch=case["batch"], attn=case["attn"])
    assert m.params == case["params"]
    if "buffers" in case:
        assert m.buffers == case["buffers"]
    assert (m.flops_fwd, m.flops_fwd_bwd) == (case["flops_fwd"], case["flops_fwd_bwd"])


def assert_summary_equals_keras(m: dict):
    """Totals and every row of archbudget's summary of a KerasHub fixture model equal
    Keras's own `model.summary()` as the generator recorded it."""
    s = archbudget.summary(m["model_json"])
    assert (s.total_params, s.trainable_params, s.non_trainable_params) == (
        m["total_params"], m["trainable_params"], m["non_trainable_params"])
    got = s.layers.select("name", "class_name", "output_shape", "params", "trainable", "non_trainable").rows()
    # the fixture keeps Python's str(list(shape)); the API shows a tuple, `(None,)` for one axis
    shape = lambda keras_repr: None if keras_repr == "None" else str(tuple(ast.literal_eval(keras_repr)))
    want = [(r["name"], r["class_name"], shape(r["output_shape"]), r["params"], r["trainable"], r["non_trainable"])
            for r in m["layers"]]
    assert got == want


def load_keras_oracle() -> list[dict]:
    with gzip.open(DATA / "keras_models_dev.json.gz", "rt") as f:
        return json.load(f)["models"]


def require(module: str):
    """Import an optional library, or skip the test where it is absent; CI sets
    ARCHBUDGET_REQUIRE_EXTRAS=1 so that a missing one fails instead of skipping."""
    if os.environ.get("ARCHBUDGET_REQUIRE_EXTRAS"):
        return importlib.import_module(module)
    return pytest.importorskip(module)
