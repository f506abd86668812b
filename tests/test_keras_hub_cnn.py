"""KerasHub convolutional families read from their constructor arguments
(tests/data/make_keras_hub_cnn.py, real keras-hub 0.32): HGNetV2 backbones and image
classifiers against Keras's own model.summary(), `memory` of the Keras functional graph
archbudget translates them into, and the held-out-style variants of
tests/data/make_keras_hub_mutants_cnn.py."""
import gzip
import json
import subprocess
import sys

import pytest

import archbudget
from conftest import DATA
from test_summary import oracle_shape

with gzip.open(DATA / "keras_hub_cnn.json.gz", "rt") as f:
    MODELS = json.load(f)["models"]
with gzip.open(DATA / "keras_hub_mutants_cnn.json.gz", "rt") as f:
    MUTANTS = json.load(f)["models"]


def model(name):
    return next(m for m in MODELS if m["name"] == name)


def expected_rows(m):
    """The oracle's rows; a row of several outputs (recorded as None) with their shapes."""
    return [{**{k: v for k, v in row.items() if k != "output_shapes"},
             "output_shape": row["output_shapes"] if "output_shapes" in row else oracle_shape(row["output_shape"])}
            for row in m["layers"]]


@pytest.mark.parametrize("m", MODELS + MUTANTS, ids=[m["name"] for m in MODELS + MUTANTS])
def test_totals_and_rows_equal_keras(m):
    s = archbudget.summary(m["model_json"])
    assert (s.total_params, s.trainable_params, s.non_trainable_params) == (
        m["total_params"], m["trainable_params"], m["non_trainable_params"])
    got = s.to_dict()["layers"]
    want = expected_rows(m)
    if m["kind"] == "mutant":  # make_keras_hub.describe: no output_shapes key
        got = [{**g, "output_shape": w["output_shape"]} if w["output_shape"] is None else g
               for g, w in zip(got, want)]
    assert got == want


def test_every_class_is_covered():
    assert {m["class_name"] for m in MODELS} == {"HGNetV2Backbone", "HGNetV2ImageClassifier"}


@pytest.mark.parametrize("m", MODELS + MUTANTS, ids=[m["name"] for m in MODELS + MUTANTS])
@pytest.mark.parametrize("mode", ["train", "infer"])
def test_memory_counts_the_trainable_weights(m, mode):
    # an image_shape of (None, None, 3) takes its side from --seq
    report = archbudget.memory(m["model_json"], mode=mode, batch=2, seq=64)
    assert report.params == m["trainable_params"]
    assert report.peak_bytes > report.breakdown["weights"] >= 4 * m["trainable_params"]
    assert report.flops_fwd > 0


def cli(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "archbudget", *args], capture_output=True, text=True, input=stdin)


def test_cli_summary_reads_the_classifier():
    m = model("hgnetv2_image_classifier_max")
    run = cli("summary", "-", "--format", "json", stdin=json.dumps(m["model_json"]))
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["total_params"] == m["total_params"]


def test_a_named_backbone_prefixes_its_layers():
    # keras-hub names the stem and encoder layers after a backbone given a name
    m = json.loads(json.dumps(model("hgnetv2_lab_light")["model_json"]))
    m["config"]["name"] = "hgnet"
    names = [row["name"] for row in archbudget.summary(m).to_dict()["layers"]]
    assert names == ["pixel_values_input", "hgnet_embedder", "hgnet_encoder"]


@pytest.mark.parametrize("name, key, value, words", [
    ("hgnetv2_lab_light", "hidden_act", "swish", "'hidden_act' must be relu, gelu, tanh or null"),
    ("hgnetv2_lab_light", "stackwise_stage_filters", [[16, 8, 32]], "'stackwise_stage_filters'"),
    ("hgnetv2_lab_light", "use_lightweight_conv_block", [True], "'use_lightweight_conv_block'"),
    ("hgnetv2_image_classifier", "pooling", "mean", "'pooling' must be avg or max"),
])
def test_bad_arguments_exit_2_with_one_line(tmp_path, name, key, value, words):
    bad = json.loads(json.dumps(model(name)["model_json"]))
    bad["config"][key] = value
    path = tmp_path / "model.json"
    path.write_text(json.dumps(bad))
    run = cli("summary", str(path))
    assert run.returncode == 2 and run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in run.stderr
    assert words in lines[0] and str(path) in lines[0]


def test_a_classifier_without_the_last_stage_output_exits_2(tmp_path):
    bad = json.loads(json.dumps(model("hgnetv2_image_classifier")["model_json"]))
    bad["config"]["backbone"]["config"]["out_features"] = ["stem"]
    path = tmp_path / "model.json"
    path.write_text(json.dumps(bad))
    run = cli("summary", str(path))
    assert run.returncode == 2 and "'stage2'" in run.stderr and len(run.stderr.strip().splitlines()) == 1
