"""KerasHub vision families read from their constructor arguments
(tests/data/make_keras_hub_vision_families.py, real keras-hub 0.32): CSPNet backbones and
image classifiers against Keras's own model.summary(), and `memory` of the Keras
functional graph archbudget translates them into."""
import gzip
import json
import subprocess
import sys

import pytest

import archbudget
from conftest import DATA
from test_summary import oracle_shape

with gzip.open(DATA / "keras_hub_vision_families.json.gz", "rt") as f:
    MODELS = json.load(f)["models"]


def model(name):
    return next(m for m in MODELS if m["name"] == name)


@pytest.mark.parametrize("m", MODELS, ids=[m["name"] for m in MODELS])
def test_totals_and_rows_equal_keras(m):
    s = archbudget.summary(m["model_json"])
    assert (s.total_params, s.trainable_params, s.non_trainable_params) == (
        m["total_params"], m["trainable_params"], m["non_trainable_params"])
    want = [{**row, "output_shape": oracle_shape(row["output_shape"])} for row in m["layers"]]
    assert s.to_dict()["layers"] == want


def test_every_class_is_covered():
    assert {m["class_name"] for m in MODELS} == {"CSPNetBackbone", "CSPNetImageClassifier"}


@pytest.mark.parametrize("m", MODELS, ids=[m["name"] for m in MODELS])
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
    run = cli("summary", "-", "--format", "json", stdin=json.dumps(model("cspnet_image_classifier")["model_json"]))
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["total_params"] == model("cspnet_image_classifier")["total_params"]


@pytest.mark.parametrize("key, value, words", [
    ("stage_type", None, "'stage_type' must be csp, cs3 or dark"),
    ("block_type", "res_block", "'block_type'"),
    ("stem_strides", 3, "'stem_strides' must be 1, 2 or 4"),
    ("expand_ratio", [1.0625], "does not split into 2 equal pieces"),
    ("output_strides", 4, "'output_strides'"),
])
def test_bad_arguments_exit_2_with_one_line(tmp_path, key, value, words):
    bad = json.loads(json.dumps(model("cspnet_csp_bottleneck")["model_json"]))
    bad["config"][key] = value
    path = tmp_path / "model.json"
    path.write_text(json.dumps(bad))
    run = cli("summary", str(path))
    assert run.returncode == 2 and run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in run.stderr
    assert words in lines[0] and str(path) in lines[0]
