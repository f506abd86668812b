"""qwen3_next (Gated DeltaNet linear attention beside gated full attention) through the
Python API, the CLI and the sweep, against tests/data/hf_next.json (transformers 5.24,
made by tests/data/make_hf_next.py)."""
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import archbudget
from archbudget.cli import app

DATA = json.loads((Path(__file__).parent / "data" / "hf_next.json").read_text())


@pytest.mark.parametrize("row", DATA["rows"], ids=[r["name"] for r in DATA["rows"]])
def test_counts_equal_the_fixture(row):
    for head, key in (("base", "base"), ("causal_lm", "causal_lm")):
        s = archbudget.summary(row["config"], head=head)
        assert (s.total_params, s.active_params) == (row[f"{key}_params"], row[f"{key}_active"])
    assert archbudget.summary(row["config"]).total_params == row["causal_lm_params"]


def test_linear_layers_keep_a_fixed_cache():
    # decoding far past the prompt grows only the full-attention layers' k and v: with
    # every layer linear the cache stays the same size
    config = {"model_type": "qwen3_next", "vocab_size": 1000, "hidden_size": 256, "intermediate_size": 512,
              "num_hidden_layers": 8, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 64,
              "num_experts": 0, "linear_num_key_heads": 2, "linear_num_value_heads": 4}
    run = dict(mode="generate", batch=4, seq=64, precision="bf16")
    grow = lambda cfg: (archbudget.memory(cfg, new_tokens=4096, **run).peak_bytes
                        - archbudget.memory(cfg, new_tokens=2048, **run).peak_bytes)
    hybrid = grow(config)
    all_full = grow(dict(config, layer_types=["full_attention"] * 8))
    all_linear = grow(dict(config, layer_types=["linear_attention"] * 8))
    assert 0 < hybrid < all_full / 3
    assert all_linear < hybrid


def test_cli_memory_modes_and_bad_heads(tmp_path):
    runner = CliRunner()
    path = tmp_path / "config.json"
    path.write_text(json.dumps(DATA["rows"][2]["config"]))
    for mode in ("train", "infer", "generate"):
        result = runner.invoke(app, ["memory", str(path), "--mode", mode, "--batch", "2", "--seq", "100",
                                     "--format", "json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["peak_bytes"] > 0
    path.write_text(json.dumps({"model_type": "qwen3_next", "linear_num_key_heads": 3,
                                "linear_num_value_heads": 4}))
    result = runner.invoke(app, ["summary", str(path)])
    assert result.exit_code == 2
    assert "linear_num_value_heads" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_sweep_rows_equal_summary_and_memory():
    fixed = {"model_type": "qwen3_next", "vocab_size": 1000, "hidden_size": 256, "intermediate_size": 512,
             "moe_intermediate_size": 64, "shared_expert_intermediate_size": 128, "num_attention_heads": 4,
             "num_key_value_heads": 2, "head_dim": 64, "num_experts": 8, "num_experts_per_tok": 2,
             "linear_num_key_heads": 2, "linear_num_value_heads": 4, "linear_key_head_dim": 32,
             "linear_value_head_dim": 32}
    space = {"family": "hf", "fixed": fixed,
             "axes": {"num_hidden_layers": [4, 8], "full_attention_interval": [2, 4]},
             "run": {"batch": 1, "seq": 128}}
    rows = archbudget.sweep(space).to_dicts()
    assert len(rows) == 4
    for row in rows:
        config = dict(fixed, num_hidden_layers=row["num_hidden_layers"],
                      full_attention_interval=row["full_attention_interval"])
        assert row["params"] == archbudget.summary(config).total_params
        assert row["peak_bytes"] == archbudget.memory(config, batch=1, seq=128).peak_bytes
