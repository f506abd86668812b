"""The KerasHub text families keras-hub 0.32 added last (tests/data/keras_hub_text2.json.gz,
built by keras-hub 0.32 / Keras 3.15.1 with tests/data/make_keras_hub_text2.py): Gemma3n's
text model, T5Gemma, T5Gemma2's text model, Moonshine and RWKV7 with their task models, and
VideoPrism's video encoder.
Totals and every row of `model.summary()` through the Python API and the CLI; `memory` of
RWKV-7 (keras-hub's layers lowered) through both, its bad runs in one clear line.
"""
import json

import pytest
from typer.testing import CliRunner

import archbudget
from conftest import assert_summary_equals_keras, load_keras_hub
from archbudget.cli import app

DATA = load_keras_hub("keras_hub_text2.json.gz")
MODELS = DATA["models"]
BY_NAME = {m["name"]: m for m in MODELS}
runner = CliRunner()


@pytest.mark.parametrize("m", MODELS, ids=[m["name"] for m in MODELS])
def test_summary_equals_keras(m):
    assert_summary_equals_keras(m)


def test_fixture_covers_the_families():
    assert DATA["keras_hub"] == "0.32.0" and DATA["keras"] == "3.15.1"
    classes = {m["model_json"]["class_name"] for m in MODELS}
    assert {"Gemma3nBackbone", "Gemma3nCausalLM", "T5GemmaBackbone", "T5GemmaSeq2SeqLM",
            "T5Gemma2Backbone", "T5Gemma2Seq2SeqLM", "MoonshineBackbone",
            "MoonshineAudioToText", "RWKV7Backbone", "RWKV7CausalLM", "VideoPrismBackbone"} <= classes


def test_cli_summary_and_memory(tmp_path):
    path = tmp_path / "rwkv7.json"
    m = BY_NAME["RWKV7_defaults"]
    path.write_text(json.dumps(m["model_json"]))
    out = runner.invoke(app, ["summary", str(path), "--format", "json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert (doc["total_params"], doc["non_trainable_params"]) == (
        m["total_params"], m["non_trainable_params"])
    out = runner.invoke(app, ["memory", str(path), "--mode", "train", "--batch", "2",
                              "--seq", "8", "--format", "json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["params"] == m["total_params"]
    assert archbudget.memory(m["model_json"], mode="infer", batch=1, seq=8).peak_bytes > 0
    out = runner.invoke(app, ["memory", str(path), "--mode", "generate", "--batch", "1",
                              "--seq", "8", "--new-tokens", "4"])
    assert out.exit_code == 2, out.output
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.output, out.stderr
    assert "RWKV7" in lines[0] and "train or infer" in lines[0]
    with pytest.raises(archbudget.ArchBudgetError, match="RWKV7"):
        archbudget.memory(m["model_json"], mode="generate", batch=1, seq=8, new_tokens=4)
