"""The multimodal wrappers (gemma3, llava, mistral3, qwen2_5_vl, llama4) through the Python
API, the CLI and the sweep, against tests/data/hf_vlm.json (transformers 5.24, made by
tests/data/make_hf_vlm.py); where transformers is installed, also against the live library.
"""
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import archbudget
from archbudget.cli import app
from conftest import assert_counts_equal_live, live_transformers_cases

DATA = json.loads((Path(__file__).parent / "data" / "hf_vlm.json").read_text())
ROWS = DATA["rows"]
WRAPPERS = ["gemma3", "llava", "mistral3", "qwen2_5_vl"]
runner = CliRunner()


def _check_rows(summary, modules):
    """Each row is a module transformers builds; a leaf row holds that module's parameters
    (a tied head holds none: its weight is counted at the embedding)."""
    names = summary.layers["name"].to_list()
    for name, params in zip(names, summary.layers["params"].to_list()):
        assert name in modules, name
        parent = any(other.startswith(name + ".") for other in names)
        if name == "lm_head" and params == 0:
            continue
        if not parent:
            assert params == modules[name][1], name


@pytest.mark.parametrize("row", ROWS, ids=[r["name"] for r in ROWS])
def test_counts_equal_the_fixture(row):
    config = row["config"]
    base = archbudget.summary(config, head="base")
    lm = archbudget.summary(config, head="causal_lm")
    assert (base.total_params, lm.total_params) == (row["base_params"], row["causal_lm_params"])
    assert (base.name, lm.name) == (row["base_class"], row["causal_lm_class"])
    assert archbudget.summary(config).total_params == lm.total_params
    if "modules" in row:
        _check_rows(base, row["modules"]["base"])
        _check_rows(lm, row["modules"]["lm"])


def test_every_wrapper_has_five_configs_and_is_supported():
    per_type = {}
    for row in ROWS:
        per_type[row["model_type"]] = per_type.get(row["model_type"], 0) + 1
    assert min(per_type[t] for t in WRAPPERS) >= 5, per_type
    text = runner.invoke(app, ["summary", "-"], input=json.dumps({"model_type": "nonexistent"})).output
    for t in WRAPPERS:
        assert t in text


@pytest.mark.parametrize("mode", ["train", "infer", "generate"])
def test_memory_holds_the_idle_tower(mode):
    # a text-only prompt: the tower's weights are held but train nothing
    for row in ROWS:
        m = archbudget.memory(row["config"], mode=mode, batch=1, seq=32, new_tokens=4, precision="bf16")
        assert m.params == row["causal_lm_params"], row["name"]
        assert m.peak_bytes > m.breakdown["weights"] > 0, row["name"]
        if mode == "train":
            # the tower gets no gradient (exactly the text model's: rust tests/hf_vlm.rs)
            assert 0 < m.breakdown["gradients"] < m.breakdown["weights"], row["name"]


def test_flops_of_a_text_prompt_equal_the_flop_counter():
    for case in DATA["flops"]:
        m = archbudget.memory(case["config"], mode="train", batch=case["batch"], seq=case["seq"],
                              attn=case["attn"], head=case["head"])
        assert m.params == case["params"], case["name"]
        for ours, key in ((m.flops_fwd, "flops_fwd"), (m.flops_fwd_bwd, "flops_fwd_bwd")):
            assert abs(ours / case[key] - 1) < 0.01, (case["name"], key, ours, case[key])


def test_cli_summary_and_memory_of_a_wrapper():
    row = next(r for r in ROWS if r["name"] == "llava-tiny-qwen2-feature-layers")
    result = runner.invoke(app, ["summary", "-", "--format", "json"], input=json.dumps(row["config"]))
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["name"] == "LlavaForConditionalGeneration" and doc["total_params"] == row["causal_lm_params"]
    assert doc["layers"][0]["name"] == "model.vision_tower.embeddings"
    assert "model.language_model.embed_tokens" in [r["name"] for r in doc["layers"]]
    result = runner.invoke(app, ["memory", "-", "--mode", "generate", "--batch", "1", "--seq", "16",
                                 "--new-tokens", "8", "--format", "json"], input=json.dumps(row["config"]))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["params"] == row["causal_lm_params"]


@pytest.mark.parametrize("config, message", [
    ({"model_type": "llava", "vision_config": {"model_type": "vit"}}, "vision model_type 'vit'"),
    ({"model_type": "llava", "text_config": {"model_type": "bert"}}, "text decoder"),
    ({"model_type": "llava", "text_config": {"model_type": "nope"}}, "text_config"),
    ({"model_type": "mistral3", "vision_feature_layer": "last"}, "vision_feature_layer"),
    ({"model_type": "gemma3", "vision_config": {"hidden_size": 100, "num_attention_heads": 3}}, "vision_config"),
    ({"model_type": "qwen2_5_vl", "vision_config": {"depth": -1}}, "depth"),
    ({"model_type": "qwen2_5_vl", "text_config": [1]}, "text_config"),
])
def test_bad_configs_fail_cleanly(config, message):
    result = runner.invoke(app, ["summary", "-"], input=json.dumps(config))
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_memory_refuses_lora_on_a_wrapper_cleanly():
    with pytest.raises(archbudget.ArchBudgetError, match="multimodal"):
        archbudget.memory({"model_type": "gemma3"}, batch=1, seq=8, lora_rank=8, lora_targets="q_proj,v_proj")


def test_hf_sweep_rows_equal_summary_and_memory():
    # dotted keys set the nested configs
    fixed = {"model_type": "llava", "vision_config.model_type": "siglip_vision_model",
             "vision_config.hidden_size": 64, "vision_config.num_hidden_layers": 2,
             "vision_config.num_attention_heads": 4, "text_config.model_type": "qwen3",
             "text_config.num_hidden_layers": 2, "text_config.num_attention_heads": 4,
             "text_config.vocab_size": 1000}
    space = {"family": "hf", "fixed": fixed,
             "axes": {"text_config.hidden_size": [64, 128], "multimodal_projector_bias": [True, False]},
             "run": {"batch": 1, "seq": 64}}
    rows = archbudget.sweep(space).to_dicts()
    assert len(rows) == 4
    for row in rows:
        config = {"model_type": "llava", "multimodal_projector_bias": row["multimodal_projector_bias"],
                  "vision_config": {"model_type": "siglip_vision_model", "hidden_size": 64, "num_hidden_layers": 2,
                                    "num_attention_heads": 4},
                  "text_config": {"model_type": "qwen3", "num_hidden_layers": 2, "num_attention_heads": 4,
                                  "vocab_size": 1000, "hidden_size": row["text_config.hidden_size"]}}
        assert row["params"] == archbudget.summary(config).total_params
        assert row["peak_bytes"] == archbudget.memory(config, batch=1, seq=64).peak_bytes


@pytest.mark.parametrize("name, model_type, kwargs", live_transformers_cases("make_hf_vlm"))
def test_counts_equal_live_transformers(name, model_type, kwargs):
    assert_counts_equal_live(model_type, kwargs, "AutoModelForImageTextToText")
