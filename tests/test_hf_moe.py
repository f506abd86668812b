"""The mixture-of-experts and MLA types (qwen3_moe, deepseek_v2/v3, glm4_moe, gpt_oss,
llama4_text) through the Python API and the CLI, against tests/data/hf_moe.json (made by
tests/data/make_hf_moe.py with the real transformers on the meta device)."""
import json

import pytest
from typer.testing import CliRunner

import archbudget
from archbudget.cli import app
from conftest import DATA

runner = CliRunner()
FIXTURE = json.loads((DATA / "hf_moe.json").read_text())
ROWS = FIXTURE["rows"]
NEW_TYPES = ["qwen3_moe", "deepseek_v2", "deepseek_v3", "glm4_moe", "gpt_oss", "llama4_text"]


@pytest.mark.parametrize("row", ROWS, ids=[r["name"] for r in ROWS])
def test_totals_and_active_params_equal_transformers(row):
    for head in ("base", "causal_lm"):
        s = archbudget.summary(row["config"], head=head)
        assert (s.total_params, s.active_params) == (row[f"{head}_params"], row[f"{head}_active"])
        assert s.name == row[f"{head}_class"]


def test_dense_models_are_all_active():
    s = archbudget.summary({"model_type": "llama", "num_hidden_layers": 2})
    assert s.active_params == s.total_params


def test_cli_shows_active_params():
    config = json.dumps(next(r for r in ROWS if r["name"] == "qwen3-30b-a3b")["config"])
    result = runner.invoke(app, ["summary", "-", "--format", "json"], input=config)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["total_params"], doc["active_params"]) == (30_532_122_624, 3_353_032_704)
    table = runner.invoke(app, ["summary", "-"], input=config)
    assert " Active params per token: 3,353,032,704" in table.output
    dense = runner.invoke(app, ["summary", "-"], input=json.dumps({"model_type": "llama", "num_hidden_layers": 1}))
    assert "Active params" not in dense.output


def test_sweep_rows_carry_active_params():
    space = {
        "family": "hf",
        "fixed": {"model_type": "qwen3_moe", "vocab_size": 1000, "hidden_size": 128, "intermediate_size": 256,
                  "moe_intermediate_size": 64, "num_hidden_layers": 3, "num_attention_heads": 4,
                  "num_key_value_heads": 2},
        "axes": {"num_experts": [4, 8], "num_experts_per_tok": [1, 2]},
        "run": {"batch": 1, "seq": 32},
    }
    frame = archbudget.sweep(space)
    assert frame.height == 4
    for row in frame.to_dicts():
        config = dict(space["fixed"], model_type="qwen3_moe", num_experts=row["num_experts"],
                      num_experts_per_tok=row["num_experts_per_tok"])
        s = archbudget.summary(config)
        assert (row["params"], row["active_params"]) == (s.total_params, s.active_params)
        assert row["peak_bytes"] == archbudget.memory(config, batch=1, seq=32).peak_bytes


@pytest.mark.parametrize("model_type", NEW_TYPES)
@pytest.mark.parametrize("mode", ["train", "infer", "generate"])
def test_memory_gives_a_figure_for_every_mode(model_type, mode):
    row = next(r for r in ROWS if r["model_type"] == model_type and "tiny" in r["name"])
    m = archbudget.memory(row["config"], mode=mode, batch=2, seq=16, new_tokens=4)
    assert m.peak_bytes > 0
    # the estimate holds the model transformers builds
    assert m.params == row["causal_lm_params"]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"model_type": "gpt_oss", "num_hidden_layers": 2, "layer_types": ["full_attention"]},
         "key 'layer_types' has 1 entries but the model has 2 layers"),
        ({"model_type": "gpt_oss", "num_hidden_layers": 1, "layer_types": ["linear_attention"]},
         "key 'layer_types' holds 'linear_attention', which gpt_oss does not have"),
        ({"model_type": "llama4_text", "num_hidden_layers": 3, "no_rope_layers": [1, 0]},
         "key 'no_rope_layers' has 2 entries but the model has 3 layers"),
        ({"model_type": "glm4_moe", "partial_rotary_factor": 2}, "key 'partial_rotary_factor' must be a number between 0 and 1"),
        ({"model_type": "deepseek_v3", "kv_lora_rank": 0}, "key 'kv_lora_rank' must be a positive integer"),
    ],
)
def test_bad_configs_fail_cleanly(change, message):
    with pytest.raises(archbudget.ArchBudgetError, match=message):
        archbudget.summary(change)
    result = runner.invoke(app, ["summary", "-"], input=json.dumps(change))
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_unset_top_k_is_a_clean_memory_error():
    config = {"model_type": "deepseek_v2", "num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4,
              "kv_lora_rank": 16, "q_lora_rank": None, "qk_rope_head_dim": 8, "qk_nope_head_dim": 8,
              "v_head_dim": 8, "moe_intermediate_size": 16, "n_routed_experts": 4}
    assert archbudget.summary(config).active_params < archbudget.summary(config).total_params
    with pytest.raises(archbudget.ArchBudgetError, match="num_experts_per_tok"):
        archbudget.memory(config, batch=1, seq=8)


def test_llama4_wrapper_is_counted_and_lowered_by_memory():
    # a text-only prompt: the vision tower's weights are held, unused (tests/test_hf_vlm.py)
    row = next(r for r in ROWS if r["name"] == "llama4-tiny")
    assert archbudget.summary(row["config"], head="base").name == "Llama4ForConditionalGeneration"
    assert archbudget.memory(row["config"], batch=1, seq=8).params == row["causal_lm_params"]
    result = runner.invoke(app, ["memory", "-", "--mode", "train", "--batch", "1", "--seq", "8"],
                           input=json.dumps(row["config"]))
    assert result.exit_code == 0 and "Traceback" not in result.output
