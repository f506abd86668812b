"""transformers' gemma4_text against tests/data/hf_gemma4.json (transformers 5.24, made by
tests/data/make_hf_gemma4.py) through the Python API, and keras-hub's Gemma4Backbone /
Gemma4CausalLM (tests/data/keras_hub_gemma4.json.gz, real keras-hub 0.32), whose memory is
its twin's."""
import gzip
import json

import pytest

import archbudget
from conftest import DATA

HF = json.loads((DATA / "hf_gemma4.json").read_text())
with gzip.open(DATA / "keras_hub_gemma4.json.gz", "rt") as f:
    KERAS_HUB = {m["name"]: m for m in json.load(f)["models"]}


@pytest.mark.parametrize("row", HF["rows"], ids=[r["name"] for r in HF["rows"]])
@pytest.mark.parametrize("head", ["base", "causal_lm"])
def test_counts_and_modules_equal_transformers(row, head):
    s = archbudget.summary(row["config"], head=head)
    assert (s.total_params, s.name) == (row[f"{head}_params"], row[f"{head}_class"])
    if "modules" in row:
        modules = row["modules"]["base" if head == "base" else "lm"]
        for name, cls in zip(s.layers["name"].to_list(), s.layers["class_name"].to_list()):
            assert modules[name][0] == cls, name


@pytest.mark.parametrize("case", HF["flops"], ids=[c["name"] for c in HF["flops"]])
def test_flops_equal_the_flop_counter(case):
    m = archbudget.memory(case["config"], mode="train", batch=case["batch"], seq=case["seq"],
                          attn=case["attn"], head=case["head"])
    assert (m.params, m.buffers) == (case["params"], case["buffers"])
    assert (m.flops_fwd, m.flops_fwd_bwd) == (case["flops_fwd"], case["flops_fwd_bwd"])


@pytest.mark.parametrize(("keras", "head"), [("Gemma4_per_layer", "base"), ("Gemma4_per_layerCausalLM", "causal_lm")])
@pytest.mark.parametrize("mode", ["train", "infer", "generate"])
def test_keras_hub_gemma4_memory_equals_its_twin(keras, head, mode):
    twin = next(t for t in HF["keras_hub_twins"] if t["name"] == "Gemma4_per_layer")
    ours = archbudget.memory(KERAS_HUB[keras]["model_json"], mode=mode, batch=2, seq=12)
    want = archbudget.memory(twin["config"], mode=mode, batch=2, seq=12, head=head)
    # keras-hub's layer_scalar weights are PyTorch buffers
    assert ours.params == twin["params"] == KERAS_HUB[keras]["total_params"] - twin["config"]["num_hidden_layers"]
    assert (ours.peak_bytes, ours.breakdown) == (want.peak_bytes, want.breakdown)
    assert (ours.flops_fwd, ours.flops_fwd_bwd) == (want.flops_fwd, want.flops_fwd_bwd)


def test_vision_encoder_is_refused_naming_what_memory_covers():
    with pytest.raises(archbudget.ArchBudgetError, match="memory covers"):
        archbudget.memory(KERAS_HUB["Gemma4_vision"]["model_json"], mode="train", batch=2, seq=12)
