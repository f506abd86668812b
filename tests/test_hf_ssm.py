"""The state-space and hybrid types (mamba, mamba2, jamba, falcon_h1) through the Python API, the CLI
and the sweep, against tests/data/hf_ssm.json (transformers 5.24, made by
tests/data/make_hf_ssm.py); where transformers is installed, also against the live library.
"""
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import archbudget
from archbudget.cli import app
from conftest import assert_counts_equal_live, live_transformers_cases

DATA = json.loads((Path(__file__).parent / "data" / "hf_ssm.json").read_text())
ROWS = DATA["rows"]


@pytest.mark.parametrize("row", ROWS, ids=[r["name"] for r in ROWS])
def test_counts_equal_the_fixture(row):
    config = row["config"]
    base = archbudget.summary(config, head="base")
    lm = archbudget.summary(config, head="causal_lm")
    assert (base.total_params, lm.total_params) == (row["base_params"], row["causal_lm_params"])
    assert archbudget.summary(config).total_params == lm.total_params
    if "modules" in row:
        for name in lm.layers["name"].to_list():
            assert name in row["modules"]["lm"], name


def test_every_type_has_five_configs():
    per_type = {}
    for row in ROWS:
        per_type[row["model_type"]] = per_type.get(row["model_type"], 0) + 1
    assert set(per_type) == {"mamba", "mamba2", "jamba", "falcon_h1"} and min(per_type.values()) >= 5, per_type


@pytest.mark.parametrize("case", DATA["cache"], ids=[c["name"] for c in DATA["cache"]])
def test_generate_runs_past_the_prompt(case):
    run = dict(batch=case["batch"], seq=case["prompt"])
    infer = archbudget.memory(case["config"], mode="infer", **run)
    gen = archbudget.memory(case["config"], mode="generate", new_tokens=case["new_tokens"], **run)
    assert gen.peak_bytes >= infer.peak_bytes > 0
    assert gen.flops_fwd > infer.flops_fwd


def test_cli_summary_memory_and_bad_config(tmp_path):
    runner = CliRunner()
    path = tmp_path / "config.json"
    path.write_text(json.dumps(ROWS[1]["config"]))  # mamba-130m
    result = runner.invoke(app, ["summary", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["total_params"] == ROWS[1]["causal_lm_params"]
    for mode in ("train", "infer", "generate"):
        result = runner.invoke(app, ["memory", str(path), "--mode", mode, "--batch", "2", "--seq", "64",
                                     "--format", "json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["peak_bytes"] > 0
    path.write_text(json.dumps({"model_type": "mamba2", "hidden_size": 64, "num_heads": 3, "head_dim": 16}))
    result = runner.invoke(app, ["summary", str(path)])
    assert result.exit_code == 2
    assert "num_heads × head_dim" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_hf_sweep_rows_equal_summary_and_memory():
    space = {
        "family": "hf",
        "fixed": {"model_type": "mamba2", "vocab_size": 50288, "head_dim": 64, "n_groups": 1},
        "axes": {"hidden_size": [768, 1024], "num_hidden_layers": [12, 24], "num_heads": [24, 32]},
        "constraints": ["2 * hidden_size == num_heads * head_dim"],
        "run": {"batch": 1, "seq": 512},
    }
    rows = archbudget.sweep(space).to_dicts()
    assert len(rows) == 4
    for row in rows:
        config = {"model_type": "mamba2", "vocab_size": 50288, "head_dim": 64, "n_groups": 1,
                  "hidden_size": row["hidden_size"], "num_hidden_layers": row["num_hidden_layers"],
                  "num_heads": row["num_heads"]}
        assert row["params"] == archbudget.summary(config).total_params
        assert row["peak_bytes"] == archbudget.memory(config, batch=1, seq=512).peak_bytes


def test_jamba_active_params_count_two_of_sixteen_experts():
    row = next(r for r in ROWS if r["name"] == "jamba-v0.1")
    s = archbudget.summary(row["config"])
    # 16 experts, 2 per token, on every other of 32 layers: 14 idle experts × 16 layers
    idle_per_expert = 3 * 4096 * 14336
    assert s.total_params - s.active_params == 14 * 16 * idle_per_expert


@pytest.mark.parametrize("name, model_type, kwargs", live_transformers_cases("make_hf_ssm"))
def test_counts_equal_live_transformers(name, model_type, kwargs):
    assert_counts_equal_live(model_type, kwargs)
