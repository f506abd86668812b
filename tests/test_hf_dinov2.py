"""transformers' dinov2 and dinov2_with_registers against tests/data/hf_dinov2.json
(transformers 5.24, made by tests/data/make_hf_dinov2.py), and keras-hub's DINOV2Backbone
(tests/data/keras_hub_vision_more.json.gz, real keras-hub 0.32), whose memory is its twin's."""
import json

import pytest

import archbudget
from conftest import (
    DATA,
    assert_counts_and_modules_equal_transformers,
    assert_flops_equal_the_flop_counter,
    load_keras_hub,
)

HF = json.loads((DATA / "hf_dinov2.json").read_text())
KERAS_HUB = {m["name"]: m for m in load_keras_hub("keras_hub_vision_more.json.gz")["models"]}


@pytest.mark.parametrize("row", HF["rows"], ids=[r["name"] for r in HF["rows"]])
def test_counts_and_modules_equal_transformers(row):
    assert_counts_and_modules_equal_transformers(row)


@pytest.mark.parametrize("case", HF["flops"], ids=[c["name"] for c in HF["flops"]])
def test_flops_equal_the_flop_counter(case):
    assert_flops_equal_the_flop_counter(case)


@pytest.mark.parametrize("twin", HF["keras_hub_twins"], ids=[t["name"] for t in HF["keras_hub_twins"]])
@pytest.mark.parametrize("mode", ["train", "infer"])
def test_keras_hub_dinov2_memory_equals_its_twin(twin, mode):
    m = KERAS_HUB[twin["name"]]
    ours = archbudget.memory(m["model_json"], mode=mode, batch=2)
    want = archbudget.memory(twin["config"], mode=mode, batch=2)
    assert (ours.peak_bytes, ours.flops_fwd_bwd, ours.breakdown) == (want.peak_bytes, want.flops_fwd_bwd,
                                                                      want.breakdown)
    # the frozen table of the pretrained geometry is Keras's only non-trainable weight
    assert ours.params == twin["params"] == m["trainable_params"]


def test_registers_with_a_swiglu_width_transformers_cannot_size():
    # intermediate_dim 50 on a width of 32 is no integer mlp_ratio: the twin takes keras-hub's width
    m = KERAS_HUB["dinov2_registers_swiglu"]
    for mode in ("train", "infer"):
        assert archbudget.memory(m["model_json"], mode=mode, batch=2).params == m["trainable_params"]


def test_the_mask_token_gets_no_gradient():
    config = next(r for r in HF["rows"] if r["name"] == "dinov2-small")["config"]
    with_mask = archbudget.memory(config, mode="train", batch=2)
    without = archbudget.memory({**config, "use_mask_token": False}, mode="train", batch=2)
    assert with_mask.params > without.params
    assert (with_mask.breakdown["gradients"], with_mask.breakdown["optimizer"]) == (
        without.breakdown["gradients"], without.breakdown["optimizer"])
