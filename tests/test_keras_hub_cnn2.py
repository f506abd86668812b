"""KerasHub segmentation and detection families read from their constructor arguments
(tests/data/make_keras_hub_cnn2.py, real keras-hub 0.32): DeepLabV3 backbones and image
segmenters and RetinaNet backbones against Keras's own model.summary(), `memory` of the
Keras functional graph archbudget translates them into, the held-out-style variants of
tests/data/make_keras_hub_mutants_cnn2.py, and the inputs refused in one line."""
import gzip
import json
import subprocess
import sys

import pytest

import archbudget
from conftest import DATA
from test_summary import oracle_shape

with gzip.open(DATA / "keras_hub_cnn2.json.gz", "rt") as f:
    MODELS = json.load(f)["models"]
with gzip.open(DATA / "keras_hub_mutants_cnn2.json.gz", "rt") as f:
    MUTANTS = json.load(f)["models"]
ALL = MODELS + MUTANTS
IDS = [m["name"] for m in ALL]


def model(name):
    return next(m for m in MODELS if m["name"] == name)


@pytest.mark.parametrize("m", ALL, ids=IDS)
def test_totals_and_rows_equal_keras(m):
    s = archbudget.summary(m["model_json"])
    assert (s.total_params, s.trainable_params, s.non_trainable_params) == (
        m["total_params"], m["trainable_params"], m["non_trainable_params"])
    rows = s.to_dict()["layers"]
    assert [(r["name"], r["class_name"], r["params"], r["trainable"], r["non_trainable"]) for r in rows] == [
        (w["name"], w["class_name"], w["params"], w["trainable"], w["non_trainable"]) for w in m["layers"]]
    # a row of one output has Keras's shape (the pyramid and FPN rows, of several, are
    # recorded as None)
    for r, w in zip(rows, m["layers"]):
        if w["output_shape"] != "None":
            assert r["output_shape"] == oracle_shape(w["output_shape"]), (m["name"], r["name"])


def test_every_class_is_covered():
    assert {m["class_name"] for m in MODELS} == {
        "DeepLabV3Backbone", "DeepLabV3ImageSegmenter", "RetinaNetBackbone"}


def test_presets_equal_their_metadata():
    presets = [m for m in MODELS if "preset_params" in m]
    assert {m["name"] for m in presets} == {"deeplab_v3_plus_resnet50_pascalvoc", "retinanet_resnet50_fpn_v2_coco"}
    for m in presets:
        assert archbudget.summary(m["model_json"]).total_params == m["preset_params"]


@pytest.mark.parametrize("m", ALL, ids=IDS)
def test_memory_counts_the_trainable_weights(m):
    # an image_shape of (None, None, 3) takes its side from --seq
    report = archbudget.memory(m["model_json"], mode="train", batch=2, seq=64)
    assert report.params == m["trainable_params"]
    assert report.peak_bytes > report.breakdown["weights"] >= 4 * m["trainable_params"]
    assert report.flops_fwd > 0


def cli(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "archbudget", *args], capture_output=True, text=True, input=stdin)


def test_cli_summary_reads_the_segmenter():
    m = model("deeplab_v3_image_segmenter")
    run = cli("summary", "-", "--format", "json", stdin=json.dumps(m["model_json"]))
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["total_params"] == m["total_params"]


def edited(name, *path_and_value):
    bad = json.loads(json.dumps(model(name)["model_json"]))
    *path, key, value = path_and_value
    target = bad["config"]
    for p in path:
        target = target[p]["config"] if p in ("image_encoder", "backbone") else target[p]
    target[key] = value
    return bad


@pytest.mark.parametrize("bad, words", [
    (edited("deeplab_v3_plus_resnet_basic", "spatial_pyramid_pooling_key", "P9"),
     "'P9' is not one of its image encoder's pyramid outputs"),
    (edited("deeplab_v3_plus_resnet_basic", "low_level_feature_key", "low"), "'low_level_feature_key' must name a pyramid level"),
    (edited("deeplab_v3_plus_resnet_basic", "upsampling_size", 64), "'upsampling_size' 64 is larger than"),
    (edited("deeplab_v3_plus_resnet_basic", "image_encoder", "use_pre_activation", True),
     "past the pyramid levels it reads (post_bn)"),
    (edited("retinanet_fpn_batch_norm", "min_level", 8), "'min_level' 8 is above 'max_level' 7"),
    (edited("retinanet_fpn_batch_norm", "min_level", 1), "asks for P1"),
    (edited("deeplab_v3_image_segmenter", "backbone", "dilation_rates", [6, 0]), "'dilation_rates' must hold positive integers"),
])
def test_bad_arguments_exit_2_with_one_line(tmp_path, bad, words):
    path = tmp_path / "model.json"
    path.write_text(json.dumps(bad))
    run = cli("summary", str(path))
    assert run.returncode == 2 and run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in run.stderr
    assert words in lines[0] and str(path) in lines[0]


def test_an_encoder_without_pyramid_outputs_is_named(tmp_path):
    bad = json.loads(json.dumps(model("deeplab_v3_plus_resnet_basic")["model_json"]))
    bad["config"]["image_encoder"] = {"class_name": "VGGBackbone", "registered_name": "keras_hub>VGGBackbone",
                                      "config": {"stackwise_num_repeats": [1], "stackwise_num_filters": [8]}}
    path = tmp_path / "model.json"
    path.write_text(json.dumps(bad))
    run = cli("summary", str(path))
    assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1
    assert "VGGBackbone is not an encoder whose pyramid outputs archbudget reads" in run.stderr
