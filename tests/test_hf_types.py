"""The declarative decoder types (qwen3, gemma3_text, olmo2/3, smollm3, starcoder2, stablelm,
phi, gptj, gpt_bigcode, cohere, cohere2) through the Python API, the CLI and the sweep,
against tests/data/hf_types.json (transformers 5.24, made by tests/data/make_hf_types.py);
where transformers is installed, also against the live library.
"""
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import archbudget
from archbudget.cli import app
from conftest import assert_counts_equal_live, live_transformers_cases

DATA = json.loads((Path(__file__).parent / "data" / "hf_types.json").read_text())
ROWS = DATA["rows"]


@pytest.mark.parametrize("row", ROWS, ids=[r["name"] for r in ROWS])
def test_counts_equal_the_fixture(row):
    config = row["config"]
    base = archbudget.summary(config, head="base")
    lm = archbudget.summary(config, head="causal_lm")
    assert (base.total_params, lm.total_params) == (row["base_params"], row["causal_lm_params"])
    assert archbudget.summary(config).total_params == lm.total_params
    if "modules" in row:
        modules = row["modules"]["lm"]
        for name in lm.layers["name"].to_list():
            assert name in modules, name


def test_every_declarative_type_has_five_configs():
    per_type = {}
    for row in ROWS:
        per_type[row["model_type"]] = per_type.get(row["model_type"], 0) + 1
    assert len(per_type) == 12 and min(per_type.values()) >= 5, per_type


def test_generate_keeps_a_sliding_window():
    # gemma3_text with a 4-token window on 5 of 6 layers: decoding far past the window
    # grows only the full layers' cache
    config = {"model_type": "gemma3_text", "vocab_size": 1000, "hidden_size": 256, "intermediate_size": 512,
              "num_hidden_layers": 6, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 64,
              "sliding_window": 4}
    full = dict(config, layer_types=["full_attention"] * 6)
    run = dict(mode="generate", batch=4, seq=64, precision="bf16")
    grow = lambda cfg: (archbudget.memory(cfg, new_tokens=4096, **run).peak_bytes
                        - archbudget.memory(cfg, new_tokens=2048, **run).peak_bytes)
    assert 0 < grow(config) < grow(full) / 4


def test_t5_generates():
    config = {"model_type": "t5", "vocab_size": 300, "d_model": 64, "d_kv": 16, "d_ff": 96, "num_layers": 2,
              "num_heads": 4}
    short, long = (archbudget.memory(config, mode="generate", batch=2, seq=32, head="causal_lm", new_tokens=n)
                   for n in (64, 4096))
    assert long.peak_bytes > short.peak_bytes > 0
    assert long.flops_fwd > short.flops_fwd


def test_cli_memory_generate_and_bad_layer_types(tmp_path):
    runner = CliRunner()
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model_type": "cohere2", "num_hidden_layers": 4, "hidden_size": 256,
                                "intermediate_size": 512, "num_attention_heads": 4, "vocab_size": 1000}))
    result = runner.invoke(app, ["memory", str(path), "--mode", "generate", "--batch", "1", "--seq", "128",
                                 "--new-tokens", "32", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["peak_bytes"] > 0
    path.write_text(json.dumps({"model_type": "gemma3_text", "num_hidden_layers": 2,
                                "layer_types": ["full_attention", "chunked_attention"]}))
    result = runner.invoke(app, ["summary", str(path)])
    assert result.exit_code == 2
    assert "layer_types" in result.output and "chunked_attention" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_hf_sweep_rows_equal_summary():
    space = {
        "family": "hf",
        "fixed": {"model_type": "qwen3", "vocab_size": 151936, "num_key_value_heads": 8, "head_dim": 128},
        "axes": {"hidden_size": [1024, 2048], "num_hidden_layers": [4, 8], "num_attention_heads": [16]},
        "run": {"batch": 1, "seq": 256},
    }
    for row in archbudget.sweep(space).to_dicts():
        config = {"model_type": "qwen3", "vocab_size": 151936, "num_key_value_heads": 8, "head_dim": 128,
                  "hidden_size": row["hidden_size"], "num_hidden_layers": row["num_hidden_layers"],
                  "num_attention_heads": 16}
        assert row["params"] == archbudget.summary(config).total_params
        assert row["peak_bytes"] == archbudget.memory(config, batch=1, seq=256).peak_bytes


@pytest.mark.parametrize("name, model_type, kwargs", live_transformers_cases("make_hf_types"))
def test_counts_equal_live_transformers(name, model_type, kwargs):
    assert_counts_equal_live(model_type, kwargs)
