"""More KerasHub vision families (tests/data/make_keras_hub_vision_more.py, real keras-hub
0.32) against Keras's own model.summary(), and transformers' deit
(tests/data/make_hf_vision_more.py, transformers 5.24 on the meta device), the twin DeiT's
memory runs as."""
import gzip
import json
import subprocess
import sys

import pytest

import archbudget
from conftest import DATA
from test_summary import oracle_shape

with gzip.open(DATA / "keras_hub_vision_more.json.gz", "rt") as f:
    MODELS = json.load(f)["models"]
HF = json.loads((DATA / "hf_vision_more.json").read_text())


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
    assert {m["class_name"] for m in MODELS} == {
        "DeiTBackbone", "DeiTImageClassifier", "DINOV2Backbone", "SwinTransformerBackbone",
        "SwinTransformerImageClassifier", "MiTBackbone", "SegFormerBackbone", "SegFormerImageSegmenter"}


@pytest.mark.parametrize("row", HF["rows"], ids=[r["name"] for r in HF["rows"]])
def test_hf_deit_equals_transformers(row):
    s = archbudget.summary(row["config"])
    assert (s.total_params, s.name) == (row["base_params"], row["base_class"])


@pytest.mark.parametrize("twin", HF["keras_hub_twins"], ids=[t["name"] for t in HF["keras_hub_twins"]])
@pytest.mark.parametrize("mode", ["train", "infer"])
def test_deit_memory_is_transformers_deit_without_its_pooler(twin, mode):
    m = archbudget.memory(model(twin["name"])["model_json"], mode=mode, batch=2)
    assert m.params == twin["params"]
    assert m.peak_bytes > m.breakdown["weights"] >= 4 * twin["params"] and m.flops_fwd > 0


def test_the_deit_classifier_runs_as_its_backbone():
    backbone = archbudget.memory(model("deit_tiny_distilled_patch16_224")["model_json"], mode="train", batch=4)
    task = archbudget.memory(model("deit_tiny_image_classifier")["model_json"], mode="train", batch=4)
    assert task.peak_bytes == backbone.peak_bytes


def cli(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "archbudget", *args], capture_output=True, text=True, input=stdin)


@pytest.mark.parametrize("name, key, value, words", [
    ("deit_small", "image_shape", [30, 32, 3], "30x32"),
    ("dinov2_tiny", "image_shape", [16, 20, 3], "square"),
    ("swin_small", "depths", [2], "'depths' and 'num_heads'"),
    ("mit_small", "layerwise_strides", [4, 3], "cannot reshape"),
    ("segformer_small", "image_encoder", None, "MiTBackbone"),
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
