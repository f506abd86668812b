"""KerasHub families keras-hub 0.32 added (tests/data/keras_hub_new.json.gz, built by
keras-hub 0.32 / Keras 3.15.1 with tests/data/make_keras_hub_new.py): Qwen3_5 and
Qwen3_5Moe backbones and CausalLMs, MetaCLIP2 backbone and encoders, DINOV3Backbone. Totals and every row
of `model.summary()` through the Python API; totals and active parameters equal to
transformers' own model of the same sizes where it has one (Qwen3_5ForCausalLM,
Qwen3_5MoeForCausalLM, MetaClip2Model: tests/data/hf_keras_hub_new.json, made by
make_hf_keras_hub_new.py); `memory` for every model (the MetaCLIP2 encoders alone and
DINOv3 against transformers in test_keras_hub_vision_twins.py and test_hf_dinov3_vit.py); the
errors in one line.
"""
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import archbudget
from archbudget.cli import app
from conftest import assert_summary_equals_keras, load_keras_hub

DATA_DIR = Path(__file__).parent / "data"
DATA = load_keras_hub("keras_hub_new.json.gz")
MODELS = DATA["models"]
BY_NAME = {m["name"]: m for m in MODELS}
TRANSFORMERS = json.loads((DATA_DIR / "hf_keras_hub_new.json").read_text())
runner = CliRunner()


@pytest.mark.parametrize("m", MODELS, ids=[m["name"] for m in MODELS])
def test_summary_equals_keras(m):
    assert_summary_equals_keras(m)


def test_fixture_covers_the_families():
    assert DATA["keras_hub"] == "0.32.0" and DATA["keras"] == "3.15.1"
    classes = {m["model_json"]["class_name"] for m in MODELS}
    for family in ("Qwen3_5", "Qwen3_5Moe"):
        assert {f"{family}Backbone", f"{family}CausalLM"} <= classes, family
    assert {"MetaCLIP2Backbone", "MetaCLIP2VisionEncoder", "MetaCLIP2TextEncoder", "DINOV3Backbone"} <= classes


@pytest.mark.parametrize("name", sorted(TRANSFORMERS["models"]))
def test_counts_equal_transformers(name):
    want = TRANSFORMERS["models"][name]
    s = archbudget.summary(BY_NAME[name]["model_json"])
    assert (s.total_params, s.active_params) == (want["params"], want["active_params"])


@pytest.mark.parametrize("m", MODELS, ids=[m["name"] for m in MODELS])
def test_memory_gives_a_figure(m):
    causal = m["model_json"]["class_name"].endswith("CausalLM")
    for mode in ["train", "infer"] + (["generate"] if causal else []):
        r = archbudget.memory(m["model_json"], mode=mode, batch=2, seq=16,
                              new_tokens=4 if mode == "generate" else 0)
        assert r.peak_bytes > 0 and r.flops_fwd > 0 and r.breakdown["weights"] > 0, mode


def test_vision_encoder_is_refused_in_one_line(tmp_path):
    model = json.loads(json.dumps(BY_NAME["Qwen3_5"]["model_json"]))
    model["config"]["vision_encoder"] = {"registered_name": "keras_hub>Qwen3_5VisionEncoder",
                                         "config": {}}
    path = tmp_path / "qwen3_5.json"
    path.write_text(json.dumps(model))
    out = runner.invoke(app, ["summary", str(path)])
    assert out.exit_code == 2, out.output
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.output
    assert "qwen3_5.json" in lines[0] and "vision_encoder" in lines[0]
