"""archbudget.summary() against the Keras oracle (Keras 3.15.1): totals and every row."""
import ast
import json

import polars as pl
import pytest

import archbudget
import archbudget.errors
from conftest import DATA, EXAMPLES, load_keras_oracle

MODELS = load_keras_oracle()


def oracle_shape(text: str):
    """The oracle stores shapes as Python's str(list(shape))."""
    return None if text == "None" else ast.literal_eval(text)


@pytest.mark.parametrize("model", MODELS, ids=[m.get("name") or f"{m['kind']}-{i}" for i, m in enumerate(MODELS)])
def test_rows_and_totals_equal_keras(model):
    s = archbudget.summary(model["model_json"])
    assert (s.total_params, s.trainable_params, s.non_trainable_params) == (
        model["total_params"],
        model["trainable_params"],
        model["non_trainable_params"],
    )
    rows = s.to_dict()["layers"]
    expected = [
        {**row, "output_shape": oracle_shape(row["output_shape"])} for row in model["layers"]
    ]
    assert rows == expected


def test_layers_frame():
    s = archbudget.summary(EXAMPLES / "resnet50.json")
    frame = s.layers
    assert isinstance(frame, pl.DataFrame)
    assert frame.columns == ["name", "class_name", "output_shape", "params", "trainable", "non_trainable", "explain"]
    assert frame["params"].sum() == s.total_params == 25_636_712
    assert frame.filter(pl.col("name") == "predictions").row(0, named=True) == {
        "name": "predictions",
        "class_name": "Dense",
        "output_shape": "(None, 1000)",
        "params": 2_049_000,
        "trainable": 2_049_000,
        "non_trainable": 0,
        "explain": "Dense: 2048 inputs × 1000 units + 1000 biases = 2049000",
    }


def test_model_given_as_path_json_text_and_dict_agree():
    path = EXAMPLES / "resnet50.json"
    text = path.read_text()
    counts = {
        archbudget.summary(x).total_params for x in (path, str(path), text, json.loads(text), text.encode())
    }
    assert counts == {25_636_712}


def test_batchnorm_statistics_are_non_trainable():
    s = archbudget.summary(EXAMPLES / "resnet50.json")
    bn = s.layers.filter(pl.col("class_name") == "BatchNormalization")
    # gamma and beta train; moving mean and variance do not: half of each BN's weights.
    assert (bn["trainable"] == bn["non_trainable"]).all()
    assert s.non_trainable_params == bn["non_trainable"].sum() == 53_120


def test_bad_input_raises_archbudget_error():
    with pytest.raises(archbudget.ArchBudgetError, match="malformed JSON"):
        archbudget.summary('{"class_name": ')
    assert issubclass(archbudget.ArchBudgetError, ValueError)


HF = json.loads((DATA / "hf_known_dev.json").read_text())["rows"]


@pytest.mark.parametrize("row", HF, ids=[r["name"] for r in HF])
def test_transformers_counts_equal_transformers(row):
    base = archbudget.summary(row["config"], head="base")
    assert (base.format, base.total_params, base.trainable_params) == ("hf", row["base_params"], row["base_params"])
    causal = archbudget.summary(row["config"], head="causal_lm")
    assert causal.total_params == row["causal_lm_params"]
    assert archbudget.summary(row["config"]).total_params == row["causal_lm_params"], "causal_lm is the default"
    assert causal.layers["params"].sum() == causal.total_params, "rows add up (tied weights counted once)"


def test_unknown_model_type_lists_the_supported_ones():
    with pytest.raises(archbudget.errors.UnknownModelTypeError, match="unknown model_type 'llama9'.*gpt2.*llama"):
        archbudget.summary({"model_type": "llama9"})
