"""KerasHub's D-FINE (tests/data/keras_hub_det.json.gz, built by keras-hub 0.32 / Keras
3.15.1 with tests/data/make_keras_hub_det.py): DFineBackbone on an HGNetV2Backbone and
DFineObjectDetector. Totals and every row of `model.summary()` through the Python API and
the CLI. `memory` of every model and of the variants (keras_hub_mutants_det.json.gz, built with
tests/data/make_keras_hub_mutants_det.py), lowered from keras-hub's layers: its parameters are the
ones Keras trains (BatchNorm statistics and the frozen scalars are PyTorch buffers). An unknown
image size without --seq and a channels_first backbone are refused in one clear line.
"""
import ast
import copy
import json

import pytest
from typer.testing import CliRunner

import archbudget
from conftest import DATA as DATA_DIR, load_keras_hub
from archbudget.cli import app

DATA = load_keras_hub("keras_hub_det.json.gz")
MODELS = DATA["models"]
MUTANTS = load_keras_hub("keras_hub_mutants_det.json.gz")["models"]
# transformers' DFineForObjectDetection of the same configurations (tests/data/make_hf_d_fine.py)
HF = json.loads((DATA_DIR / "hf_d_fine.json").read_text())["models"]
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


@pytest.mark.parametrize("m", MODELS + MUTANTS, ids=[m["name"] for m in MODELS + MUTANTS])
def test_memory_holds_the_trainable_weights(m):
    train = archbudget.memory(m["model_json"], mode="train", batch=2, seq=64)
    infer = archbudget.memory(m["model_json"], mode="infer", batch=2, seq=64)
    assert train.params == infer.params == m["trainable_params"]
    assert train.peak_bytes > infer.peak_bytes


@pytest.mark.parametrize("hf", HF, ids=[r["name"] for r in HF])
def test_forward_flops_equal_transformers(hf):
    # transformers runs keras-hub's layers op for op: the flop counter's forward exactly
    ours = archbudget.memory(BY_NAME[hf["name"]]["model_json"], mode="train", batch=hf["batch"], seq=hf["seq"])
    assert ours.flops_fwd == hf["flops_fwd"]


def test_cli_summary_and_memory(tmp_path):
    path = tmp_path / "d_fine.json"
    m = BY_NAME["d_fine_object_detector"]
    path.write_text(json.dumps(m["model_json"]))
    out = runner.invoke(app, ["summary", str(path), "--format", "json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert (doc["total_params"], doc["non_trainable_params"]) == (
        m["total_params"], m["non_trainable_params"])
    out = runner.invoke(app, ["memory", str(path), "--mode", "train", "--batch", "2", "--seq", "64",
                              "--format", "json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["params"] == m["trainable_params"] and doc["flops_fwd_bwd"] > 2 * doc["flops_fwd"]
    # its image size unknown, the side must be given
    out = runner.invoke(app, ["memory", str(path), "--mode", "train", "--batch", "2"])
    assert out.exit_code == 2, out.output
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.output, out.stderr
    assert "--seq" in lines[0] and "image" in lines[0]


def test_a_fixed_image_size_needs_no_seq():
    m = BY_NAME["d_fine_fixed_size"]
    fixed = archbudget.memory(m["model_json"], mode="train", batch=2)
    ignored = archbudget.memory(m["model_json"], mode="train", batch=2, seq=640)
    assert (fixed.peak_bytes, fixed.flops_fwd_bwd) == (ignored.peak_bytes, ignored.flops_fwd_bwd)


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
