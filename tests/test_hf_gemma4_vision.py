"""Gemma 4's vision tower alone, gemma4_vision, against tests/data/hf_gemma4_vision.json
(transformers 5.24, made by tests/data/make_hf_gemma4_vision.py), and KerasHub's
Gemma4VisionEncoder: that tower with gemma4's embedder after it."""
import json
import subprocess
import sys

import pytest

import archbudget
from conftest import (DATA, assert_counts_and_modules_equal_transformers, assert_flops_equal_the_flop_counter,
                      keras_hub_model)

HF = json.loads((DATA / "hf_gemma4_vision.json").read_text())


@pytest.mark.parametrize("row", HF["rows"], ids=[r["name"] for r in HF["rows"]])
def test_counts_and_modules_equal_transformers(row):
    assert_counts_and_modules_equal_transformers(row)


@pytest.mark.parametrize("case", HF["flops"], ids=[c["name"] for c in HF["flops"]])
def test_flops_equal_the_flop_counter(case):
    assert_flops_equal_the_flop_counter(case)


@pytest.mark.parametrize("twin", HF["keras_hub_twins"], ids=[t["name"] for t in HF["keras_hub_twins"]])
def test_keras_hub_vision_encoder_is_the_tower_and_embedder(twin):
    m = keras_hub_model(twin["fixture"], twin["name"])
    ours = archbudget.memory(m["model_json"], mode="train", batch=twin["batch"], attn=twin["attn"])
    assert (ours.params, ours.buffers) == (twin["params"], twin["buffers"])
    assert ours.params == m["trainable_params"]
    assert (ours.flops_fwd, ours.flops_fwd_bwd) == (twin["flops_fwd"], twin["flops_fwd_bwd"])
    infer = archbudget.memory(m["model_json"], mode="infer", batch=twin["batch"])
    assert infer.peak_bytes < ours.peak_bytes


def test_cli_memory_of_the_tower_needs_no_seq():
    config = next(r for r in HF["rows"] if r["name"] == "gemma4-vision-small")["config"]
    run = subprocess.run([sys.executable, "-m", "archbudget", "memory", "-", "--mode", "train", "--batch", "2",
                          "--format", "json"], input=json.dumps(config), capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["params"] == 20256


@pytest.mark.parametrize("edit, words", [({"head_dim": 2}, "head_dim"),
                                         ({"num_key_value_heads": 3}, "num_key_value_heads"),
                                         ({"max_soft_tokens": 0}, "max_soft_tokens")])
def test_bad_configs_fail_in_one_line(edit, words):
    config = {"model_type": "gemma4_vision", "hidden_size": 32, "num_attention_heads": 4, "num_key_value_heads": 4,
              "head_dim": 8, **edit}
    run = subprocess.run([sys.executable, "-m", "archbudget", "memory", "-", "--mode", "train", "--batch", "1"],
                         input=json.dumps(config), capture_output=True, text=True)
    assert run.returncode == 2
    assert words in run.stderr and len(run.stderr.strip().splitlines()) == 1, run.stderr
