"""KerasHub vision models (tests/data/make_keras_hub_vision.py, real keras-hub 0.32):
ResNet, VGG, DenseNet, EfficientNet and MobileNet backbones and their image classifiers,
each read from the constructor arguments its JSON holds, against Keras's own
model.summary() of the model keras-hub built; `memory` gives a figure for each."""
import gzip
import json
import subprocess
import sys

import pytest

import archbudget
from conftest import DATA
from test_summary import oracle_shape

with gzip.open(DATA / "keras_hub_vision.json.gz", "rt") as f:
    MODELS = json.load(f)["models"]
IDS = [m["name"] for m in MODELS]


def unknown_image_size(model):
    return any(r["output_shape"].startswith("[None, None") for r in model["layers"][:1])


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_totals_and_rows_equal_keras(model):
    s = archbudget.summary(model["model_json"])
    assert (s.total_params, s.trainable_params, s.non_trainable_params) == (
        model["total_params"], model["trainable_params"], model["non_trainable_params"])
    want = [{**row, "output_shape": oracle_shape(row["output_shape"])} for row in model["layers"]]
    assert s.to_dict()["layers"] == want


def test_every_family_and_task_is_covered():
    classes = {m["class_name"] for m in MODELS}
    assert {"ResNetBackbone", "VGGBackbone", "DenseNetBackbone", "EfficientNetBackbone", "MobileNetBackbone",
            "ImageClassifier", "ResNetImageClassifier", "VGGImageClassifier", "DenseNetImageClassifier",
            "EfficientNetImageClassifier", "MobileNetImageClassifier"} <= classes


@pytest.mark.parametrize("mode", ["train", "infer"])
def test_memory_gives_a_figure_for_every_model(mode):
    for model in MODELS:
        # an image_shape of (None, None, 3) takes its side from --seq
        seq = 64 if unknown_image_size(model) else None
        m = archbudget.memory(model["model_json"], mode=mode, batch=2, seq=seq)
        assert m.peak_bytes > m.breakdown["weights"] > 0, model["name"]
        assert m.flops_fwd > 0


def test_unknown_image_size_asks_for_seq():
    model = next(m for m in MODELS if unknown_image_size(m))
    with pytest.raises(archbudget.ArchBudgetError, match="--seq"):
        archbudget.memory(model["model_json"], mode="infer", batch=1)


def cli(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "archbudget", *args], capture_output=True, text=True, input=stdin)


def test_cli_summary_of_a_keras_hub_json():
    model = next(m for m in MODELS if m["name"] == "resnet_50_imagenet")
    run = cli("summary", "-", "--format", "json", stdin=json.dumps(model["model_json"]))
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert (out["format"], out["total_params"]) == ("keras", model["total_params"])


def test_bad_arguments_exit_2_with_one_line(tmp_path):
    model = next(m for m in MODELS if m["name"] == "densenet_small")
    bad = json.loads(json.dumps(model["model_json"]))
    bad["config"]["stackwise_num_repeats"] = [2, "three"]
    path = tmp_path / "densenet.json"
    path.write_text(json.dumps(bad))
    run = cli("summary", str(path))
    assert run.returncode == 2 and run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in run.stderr
    assert "DenseNetBackbone" in lines[0] and "'stackwise_num_repeats'" in lines[0] and str(path) in lines[0]
