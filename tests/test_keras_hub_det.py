"""KerasHub's D-FINE (tests/data/keras_hub_det.json.gz, built by keras-hub 0.32 / Keras
3.15.1 with tests/data/make_keras_hub_det.py): DFineBackbone on an HGNetV2Backbone and
DFineObjectDetector. Totals and every row of `model.summary()` through the Python API and
the CLI; `memory` and a channels_first backbone refused in one clear line.
"""
import ast
import copy
import json

import pytest
from typer.testing import CliRunner

import archbudget
from conftest import load_keras_hub
from archbudget.cli import app

DATA = load_keras_hub("keras_hub_det.json.gz")
MODELS = DATA["models"]
BY_NAME = {m["name"]: m for m in MODELS}
runner = CliRunner()


def keras_shape(row):
    """The fixture's shape as the API shows it: a tuple, or a list of tuples for the
    feature extractor's outputs (recorded under `output_shapes`)."""
    if row["class_name"] == "HGNetV2Backbone":
        return str([tuple(s) for s in row["output_shapes"]])
    return None if row["output_shape"] == "None" else str(tuple(ast.literal_eval(row["output_shape"])))


@pytest.mark.parametrize("m", MODELS, ids=[m["name"] for m in MODELS])
def test_summary_equals_keras(m):
    s = archbudget.summary(m["model_json"])
    assert (s.total_params, s.trainable_params, s.non_trainable_params) == (
        m["total_params"], m["trainable_params"], m["non_trainable_params"])
    got = s.layers.select("name", "class_name", "output_shape", "params", "trainable", "non_trainable").rows()
    want = [(r["name"], r["class_name"], keras_shape(r), r["params"], r["trainable"], r["non_trainable"])
            for r in m["layers"]]
    assert got == want


def test_fixture_covers_the_classes():
    classes = {m["model_json"]["class_name"] for m in MODELS}
    assert {"DFineBackbone", "DFineObjectDetector"} <= classes
    nano = BY_NAME["dfine_nano_coco"]
    assert nano["total_params"] == nano["preset_params"]


def test_cli_summary_and_memory_refusal(tmp_path):
    path = tmp_path / "d_fine.json"
    m = BY_NAME["d_fine_object_detector"]
    path.write_text(json.dumps(m["model_json"]))
    out = runner.invoke(app, ["summary", str(path), "--format", "json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert (doc["total_params"], doc["non_trainable_params"]) == (
        m["total_params"], m["non_trainable_params"])
    out = runner.invoke(app, ["memory", str(path), "--mode", "train", "--batch", "2", "--seq", "64"])
    assert out.exit_code == 2, out.output
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.output, out.stderr
    assert "DFineObjectDetector" in lines[0] and "memory covers" in lines[0]


def test_channels_first_is_refused_in_one_line(tmp_path):
    model_json = copy.deepcopy(BY_NAME["d_fine_tiny"]["model_json"])
    model_json["config"]["data_format"] = "channels_first"
    path = tmp_path / "d_fine_cf.json"
    path.write_text(json.dumps(model_json))
    out = runner.invoke(app, ["summary", str(path)])
    assert out.exit_code == 2, out.output
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.output, out.stderr
    assert "DFineBackbone" in lines[0] and "channels_first" in lines[0]
    with pytest.raises(archbudget.ArchBudgetError, match="channels_first"):
        archbudget.summary(model_json)
