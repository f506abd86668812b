"""archbudget.summary() against the Keras oracle (Keras 3.15.1): totals and every row."""
import ast

import polars as pl
import pytest

import archbudget
from conftest import EXAMPLES, load_keras_oracle

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
    import json

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
