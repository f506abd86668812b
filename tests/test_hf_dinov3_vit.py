"""transformers' dinov3_vit against tests/data/hf_dinov3_vit.json (transformers 5.24, made by
tests/data/make_hf_dinov3_vit.py), and keras-hub's DINOV3Backbone (tests/data/keras_hub_new.json.gz,
real keras-hub 0.32), whose memory is its twin's."""
import json

import pytest

import archbudget
from conftest import (
    DATA,
    assert_counts_and_modules_equal_transformers,
    assert_flops_equal_the_flop_counter,
    load_keras_hub,
)

HF = json.loads((DATA / "hf_dinov3_vit.json").read_text())
KERAS_HUB = {m["name"]: m for m in load_keras_hub("keras_hub_new.json.gz")["models"]}


@pytest.mark.parametrize("row", HF["rows"], ids=[r["name"] for r in HF["rows"]])
def test_counts_and_modules_equal_transformers(row):
    assert_counts_and_modules_equal_transformers(row)


@pytest.mark.parametrize("case", HF["flops"], ids=[c["name"] for c in HF["flops"]])
def test_flops_equal_the_flop_counter(case):
    assert_flops_equal_the_flop_counter(case)


@pytest.mark.parametrize("twin", HF["keras_hub_twins"], ids=[t["name"] for t in HF["keras_hub_twins"]])
@pytest.mark.parametrize("mode", ["train", "infer"])
def test_keras_hub_dinov3_memory_equals_its_twin(twin, mode):
    m = KERAS_HUB[twin["name"]]
    ours = archbudget.memory(m["model_json"], mode=mode, batch=2)
    want = archbudget.memory(twin["config"], mode=mode, batch=2)
    assert ours.params == twin["params"] == m["trainable_params"]
    assert (ours.flops_fwd, ours.flops_fwd_bwd) == (want.flops_fwd, want.flops_fwd_bwd)
    if twin["mask_token"]:
        assert (ours.peak_bytes, ours.breakdown) == (want.peak_bytes, want.breakdown)
    else:
        # transformers always builds the mask token, which gets no gradient without
        # `bool_masked_pos`: keras-hub's model without it holds fewer weights, nothing else
        assert want.params - ours.params == twin["config"]["hidden_size"]
        assert ours.breakdown["weights"] < want.breakdown["weights"]
        for key in ("gradients", "optimizer", "activations"):
            assert ours.breakdown[key] == want.breakdown[key], key


@pytest.mark.parametrize("run, words", [({"mode": "generate", "batch": 1, "seq": 4}, "does not generate"),
                                        ({"mode": "train", "batch": 1, "lora_rank": 4}, "LoRA")])
def test_runs_dinov3_cannot_make_fail_cleanly(run, words):
    with pytest.raises(archbudget.ArchBudgetError, match=words):
        archbudget.memory({"model_type": "dinov3_vit", "hidden_size": 32, "num_attention_heads": 4}, **run)
