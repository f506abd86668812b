"""KerasHub ViTDet, SAM and Depth Anything (tests/data/keras_hub_vit.json.gz, built by keras-hub 0.32 / Keras
3.15.1 with tests/data/make_keras_hub_vit.py): totals and every row of `model.summary()`
through the Python API, the released SAM sizes among them; `memory`, which SAM does not
model (ViTDet's: test_keras_hub_vit_det_twin.py; Depth Anything's:
test_keras_hub_depth_anything.py), refused in one line with exit status 2 on the CLI and ArchBudgetError in Python.
"""
import json

import pytest
from typer.testing import CliRunner

import archbudget
from archbudget.cli import app
from conftest import assert_summary_equals_keras, load_keras_hub

DATA = load_keras_hub("keras_hub_vit.json.gz")
MODELS = DATA["models"]
BY_NAME = {m["name"]: m for m in MODELS}
runner = CliRunner()


@pytest.mark.parametrize("m", MODELS, ids=[m["name"] for m in MODELS])
def test_summary_equals_keras(m):
    assert_summary_equals_keras(m)


def test_fixture_covers_the_families():
    assert DATA["keras_hub"] == "0.32.0" and DATA["keras"] == "3.15.1"
    classes = {m["model_json"]["class_name"] for m in MODELS}
    assert {"ViTDetBackbone", "SAMBackbone", "SAMImageSegmenter", "DepthAnythingBackbone",
            "DepthAnythingDepthEstimator"} <= classes
    presets = {m["name"] for m in MODELS if m["kind"] == "preset"}
    assert presets == {"sam_base_sa1b", "sam_large_sa1b", "sam_huge_sa1b",
                       "depth_anything_v2_small", "depth_anything_v2_base",
                       "depth_anything_v2_large"}


# ViTDet's memory, its transformers twin's: test_keras_hub_vit_det_twin.py; SAM's twin:
# keras_hub_sam.rs
@pytest.mark.parametrize("name", ["SAM", "SAMImageSegmenter"])
def test_sam_memory_holds_its_summarys_parameters(tmp_path, name):
    path = tmp_path / "model.json"
    path.write_text(json.dumps(BY_NAME[name]["model_json"]))
    out = runner.invoke(app, ["memory", str(path), "--mode", "train", "--batch", "2"])
    assert out.exit_code == 0, out.output
    m = archbudget.memory(BY_NAME[name]["model_json"], mode="infer", batch=1)
    assert m.params == BY_NAME[name]["total_params"]


def test_a_sam_no_transformers_model_holds_is_refused_in_one_line(tmp_path):
    model = json.loads(json.dumps(BY_NAME["SAM"]["model_json"]))
    # an odd width per head: keras-hub's cross-attention is then narrower than transformers'
    model["config"]["mask_decoder"]["config"].update(hidden_size=6, embedding_dim=6)
    path = tmp_path / "model.json"
    path.write_text(json.dumps(model))
    out = runner.invoke(app, ["memory", str(path), "--mode", "train", "--batch", "2"])
    assert out.exit_code == 2, out.output
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.output
    assert "model.json" in lines[0] and "not modelled" in lines[0]
    with pytest.raises(archbudget.ArchBudgetError, match="not modelled"):
        archbudget.memory(model, mode="infer", batch=1)
