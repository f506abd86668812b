"""KerasHub classes read since session 11 (tests/data/keras_hub_readers.json.gz, built by
keras-hub 0.32 / Keras 3.15.1 with tests/data/make_keras_hub_readers.py):
RetinaNetObjectDetector, BASNet (Backbone, ImageSegmenter) and MiTImageClassifier.
Totals and every row of `model.summary()` (the shapes of several-output rows included),
the presets against their metadata, `memory` (of the Keras graph the CNNs translate
into; MiT's as transformers' segformer encoder), and bad input refused in one line.
"""
import ast
import copy
import json

import pytest
from typer.testing import CliRunner

import archbudget
from archbudget.cli import app
from conftest import load_keras_hub

MODELS = load_keras_hub("keras_hub_readers.json.gz")["models"]
BY_NAME = {m["name"]: m for m in MODELS}
IDS = [m["name"] for m in MODELS]
# the CNNs, translated into Keras graphs; MiT's classifier runs as its transformers twin
GRAPHS = [m for m in MODELS if m["class_name"] != "MiTImageClassifier"]
MIT = [m for m in MODELS if m["class_name"] == "MiTImageClassifier"]
runner = CliRunner()


def keras_shape(row):
    """The fixture's shape as the API shows it: a tuple, or a list of tuples for a row of
    several outputs (recorded under `output_shapes`, a dict's in key order)."""
    if "output_shapes" in row:
        return str([tuple(s) for s in row["output_shapes"]])
    return None if row["output_shape"] == "None" else str(tuple(ast.literal_eval(row["output_shape"])))


@pytest.mark.parametrize("m", MODELS, ids=IDS)
def test_summary_equals_keras(m):
    s = archbudget.summary(m["model_json"])
    assert (s.total_params, s.trainable_params, s.non_trainable_params) == (
        m["total_params"], m["trainable_params"], m["non_trainable_params"])
    got = s.layers.select("name", "class_name", "output_shape", "params", "trainable", "non_trainable").rows()
    want = [(r["name"], r["class_name"], keras_shape(r), r["params"], r["trainable"], r["non_trainable"])
            for r in m["layers"]]
    assert got == want


def test_fixture_covers_the_classes_and_presets():
    assert {m["class_name"] for m in MODELS} == {
        "RetinaNetObjectDetector", "BASNetBackbone", "BASNetImageSegmenter", "MiTImageClassifier"}
    assert BY_NAME["retinanet_resnet50_fpn_coco"]["total_params"] == BY_NAME["retinanet_resnet50_fpn_coco"]["preset_params"]
    # basnet_duts' metadata counts the rows: not the encoder's stem, which the backbone
    # tracks (Keras's totals count it) and never runs
    duts = BY_NAME["basnet_duts"]
    assert sum(r["params"] for r in duts["layers"]) == duts["preset_params"] < duts["total_params"]


@pytest.mark.parametrize("m", GRAPHS, ids=[m["name"] for m in GRAPHS])
def test_memory_counts_the_trainable_weights(m):
    # an image_shape of (None, None, 3) takes its side from --seq
    report = archbudget.memory(m["model_json"], mode="train", batch=2, seq=64)
    assert report.trainable_params == m["trainable_params"]
    assert report.peak_bytes > report.breakdown["weights"] >= 4 * m["trainable_params"]
    assert report.flops_fwd > 0


@pytest.mark.parametrize("m", MIT, ids=[m["name"] for m in MIT])
def test_mit_classifier_memory_runs_the_encoder_twin(m):
    # as for keras-hub's other transformer ImageClassifiers: the segformer encoder, the
    # few-unit head left out
    report = archbudget.memory(m["model_json"], mode="train", batch=2, seq=64)
    backbone = next(r for r in m["layers"] if r["class_name"] == "MiTBackbone")
    assert report.trainable_params == backbone["trainable"]
    assert report.flops_fwd > 0


def test_basnet_counts_the_unused_stem_in_the_totals_only():
    m = BY_NAME["basnet_resnet18"]
    s = archbudget.summary(m["model_json"])
    stem = m["total_params"] - sum(r["params"] for r in m["layers"])
    assert stem > 0 and sum(s.layers["params"]) == s.total_params - stem


def test_shared_heads_are_one_row_each_and_count_once():
    m = BY_NAME["retinanet_detector"]
    s = archbudget.summary(m["model_json"])
    heads = s.layers.filter(s.layers["class_name"] == "PredictionHead")
    assert heads["name"].to_list() == ["box_head", "classification_head"]
    # 5 levels, each head built once: the row sum is the total
    assert sum(s.layers["params"]) == m["total_params"]


def test_cli_summary_json(tmp_path):
    m = BY_NAME["retinanet_detector_head_norm"]
    path = tmp_path / "detector.json"
    path.write_text(json.dumps(m["model_json"]))
    out = runner.invoke(app, ["summary", str(path), "--format", "json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert (doc["total_params"], doc["trainable_params"]) == (m["total_params"], m["trainable_params"])


def edited(name, edit):
    model_json = copy.deepcopy(BY_NAME[name]["model_json"])
    edit(model_json["config"])
    return model_json


@pytest.mark.parametrize("bad, words", [
    (edited("retinanet_detector", lambda c: c["backbone"]["config"].update(data_format="channels_first")),
     "channels_first backbone is not read"),
    (edited("retinanet_detector", lambda c: c.update(num_classes=0)), "'num_classes' must hold positive integers"),
    (edited("retinanet_detector", lambda c: c["anchor_generator"]["config"].update(aspect_ratios=[])),
     "'anchor_generator' must hold"),
    (edited("retinanet_detector", lambda c: c.update(pre_logits_num_conv_layers=-1)),
     "'pre_logits_num_conv_layers' must be a non-negative integer"),
    (edited("retinanet_detector", lambda c: c["backbone"].update(registered_name="keras_hub>ResNetBackbone")),
     "not the RetinaNetBackbone"),
    (edited("basnet_resnet18", lambda c: c.update(projection_filters=32)),
     "'projection_filters' 32 must equal its image encoder's stem width 64"),
    (edited("basnet_resnet18", lambda c: c["image_encoder"]["config"].update(use_pre_activation=True)),
     "ResNet v2 (use_pre_activation)"),
    (edited("basnet_resnet18", lambda c: c["image_encoder"]["config"].update(stackwise_num_blocks=[2, 2, 2])),
     "fewer than the four stacks"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, bad, words):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    out = runner.invoke(app, ["summary", str(path)])
    assert out.exit_code == 2, out.output
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.output, out.stderr
    assert words in lines[0], lines[0]
