"""More KerasHub text families (tests/data/keras_hub_text.json.gz, built by keras-hub 0.32 /
Keras 3.15.1 with tests/data/make_keras_hub_text.py): Bloom, ESM, RoformerV2, XLNet and
PaliGemma.
Totals and every row of `model.summary()` through the Python API; Bloom's `memory`
equal to the memory of its transformers twin (bloom) (RoformerV2's and XLNet's own
lowerings: test_keras_hub_roformer.py); the errors.
"""
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import archbudget
from conftest import assert_summary_equals_keras, load_keras_hub
from archbudget.cli import app

DATA_DIR = Path(__file__).parent / "data"
DATA = load_keras_hub("keras_hub_text.json.gz")
MODELS = DATA["models"]
BY_NAME = {m["name"]: m for m in MODELS}
runner = CliRunner()


@pytest.mark.parametrize("m", MODELS, ids=[m["name"] for m in MODELS])
def test_summary_equals_keras(m):
    assert_summary_equals_keras(m)


def test_fixture_covers_the_families_and_presets():
    assert DATA["keras_hub"] == "0.32.0" and DATA["keras"] == "3.15.1"
    classes = {m["model_json"]["class_name"] for m in MODELS}
    assert {"BloomBackbone", "BloomCausalLM", "ESMBackbone", "ESMMaskedPLM",
            "ESMProteinClassifier", "RoformerV2Backbone", "RoformerV2TextClassifier",
            "RoformerV2MaskedLM", "XLNetBackbone", "PaliGemmaBackbone", "PaliGemmaCausalLM"} <= classes
    # the preset-sized builds equal keras-hub's preset metadata (checked by the generator)
    assert {m["preset"]: m["backbone_params"] for m in MODELS if m["kind"] == "preset"} == {
        "bloom_560m_multi": 559_214_592, "esm2_t6_8M": 7_408_960, "esm2_t33_650M": 649_400_320,
        "pali_gemma_3b_mix_224": 2_923_335_408}


# bigscience/bloom-560m's sizes, and the small Bloom's: keras-hub builds exactly the
# transformers parameters (its three q/k/v kernels are bloom's fused query_key_value)
TWINS = {
    "Bloom_560m": {"model_type": "bloom", "vocab_size": 250880, "hidden_size": 1024,
                   "n_layer": 24, "n_head": 16},
    "BloomCausalLM": {"model_type": "bloom", "vocab_size": 64, "hidden_size": 16,
                      "n_layer": 2, "n_head": 4},
}


@pytest.mark.parametrize("name", list(TWINS))
def test_memory_equals_the_transformers_twin(name):
    config = TWINS[name]
    model = BY_NAME[name]["model_json"]
    for mode, extra in (("train", {}), ("infer", {}), ("generate", {"new_tokens": 3})):
        for precision in ("fp32", "amp_bf16"):
            run = dict(mode=mode, batch=3, seq=12, precision=precision, **extra)
            ours = archbudget.memory(model, **run)
            twin = archbudget.memory(config, head="causal_lm", **run)
            assert (ours.peak_bytes, ours.breakdown, ours.flops_fwd_bwd) == (
                twin.peak_bytes, twin.breakdown, twin.flops_fwd_bwd), (mode, precision)
    assert archbudget.summary(config, head="causal_lm").total_params == BY_NAME[name]["total_params"]


def bad(tmp_path, model, *args):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(model))
    out = runner.invoke(app, [*args[:1], str(path), *args[1:]])
    assert out.exit_code == 2, out.output
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.output, out.stderr
    return lines[0]


def test_errors(tmp_path):
    bloom = json.loads(json.dumps(BY_NAME["Bloom"]["model_json"]))
    bloom["config"]["num_heads"] = 3
    msg = bad(tmp_path, bloom, "summary")
    assert "BloomBackbone" in msg and "num_heads" in msg and "m.json" in msg
    esm = json.loads(json.dumps(BY_NAME["ESM"]["model_json"]))
    esm["config"]["position_embedding_type"] = "alibi"
    with pytest.raises(archbudget.ArchBudgetError, match="'position_embedding_type'"):
        archbudget.summary(esm)
