"""The vision towers alone, clip_vision_model and siglip_vision_model, against
tests/data/hf_vision_model.json (transformers 5.24, made by tests/data/make_hf_vision_model.py),
and KerasHub's CLIPVisionEncoder / SigLIPVisionEncoder: their twin tower returning what keras-hub's
encoder returns."""
import json
import subprocess
import sys

import pytest

import archbudget
from conftest import (DATA, assert_counts_and_modules_equal_transformers, assert_flops_equal_the_flop_counter,
                      keras_hub_model)

HF = json.loads((DATA / "hf_vision_model.json").read_text())


@pytest.mark.parametrize("row", HF["rows"], ids=[r["name"] for r in HF["rows"]])
def test_counts_and_modules_equal_transformers(row):
    assert_counts_and_modules_equal_transformers(row)


@pytest.mark.parametrize("case", HF["flops"], ids=[c["name"] for c in HF["flops"]])
def test_flops_equal_the_flop_counter(case):
    assert_flops_equal_the_flop_counter(case)


def test_the_pooled_output_is_off_the_loss_path():
    # SigLIP's head runs in the forward but gets no gradient: no optimizer state for it
    with_head = next(r for r in HF["rows"] if r["name"] == "siglip-vision-small")["config"]
    without = {**with_head, "vision_use_head": False}
    a = archbudget.memory(with_head, mode="train", batch=2)
    b = archbudget.memory(without, mode="train", batch=2)
    head = a.params - b.params
    assert head > 0 and a.breakdown["weights"] > b.breakdown["weights"]
    assert (a.breakdown["gradients"], a.breakdown["optimizer"]) == (b.breakdown["gradients"], b.breakdown["optimizer"])


@pytest.mark.parametrize("twin", HF["keras_hub_twins"], ids=[t["name"] for t in HF["keras_hub_twins"]])
def test_keras_hub_vision_encoder_memory_is_its_twin_returning_what_keras_hub_returns(twin):
    m = keras_hub_model(twin["fixture"], twin["name"])
    ours = archbudget.memory(m["model_json"], mode="train", batch=twin["batch"])
    tower = archbudget.memory(twin["config"], mode="train", batch=twin["batch"])
    # the twin's parameters are the encoder's trainable weights (`position_ids` is a buffer)
    assert ours.params == tower.params == twin["params"] == m["trainable_params"]
    # the flop counter on transformers' modules, the loss on keras-hub's output
    assert (ours.flops_fwd, ours.flops_fwd_bwd) == (twin["flops_fwd"], twin["flops_fwd_bwd"])
    # keras-hub's output reads the final norm (CLIP) or the pooling head (SigLIP), which then
    # get gradients and AdamW state where transformers' `last_hidden_state` leaves them out
    assert ours.breakdown["gradients"] > tower.breakdown["gradients"]
    assert ours.breakdown["optimizer"] > tower.breakdown["optimizer"]


def test_cli_memory_of_a_tower_needs_no_seq():
    config = next(r for r in HF["rows"] if r["name"] == "clip-vision-small")["config"]
    run = subprocess.run([sys.executable, "-m", "archbudget", "memory", "-", "--mode", "train", "--batch", "2",
                          "--format", "json"], input=json.dumps(config), capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["params"] == 23936


@pytest.mark.parametrize("run, words", [({"mode": "generate", "batch": 1, "seq": 4}, "does not generate"),
                                        ({"mode": "train", "batch": 1, "lora_rank": 4}, "LoRA")])
def test_runs_a_tower_cannot_make_fail_cleanly(run, words):
    config = {"model_type": "siglip_vision_model", "hidden_size": 32, "num_attention_heads": 4}
    with pytest.raises(archbudget.ArchBudgetError, match=words):
        archbudget.memory(config, **run)
