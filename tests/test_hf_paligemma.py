"""transformers' paligemma wrapper against tests/data/hf_paligemma.json (transformers 5.24, made
by tests/data/make_hf_paligemma.py), and keras-hub's PaliGemma models, whose memory is their
twin wrapper's."""
import gzip
import json

import pytest

import archbudget
from conftest import DATA

HF = json.loads((DATA / "hf_paligemma.json").read_text())
with gzip.open(DATA / "keras_hub_text.json.gz", "rt") as f:
    KERAS_HUB = {m["name"]: m for m in json.load(f)["models"]}


def check_rows(summary, modules):
    """Each leaf row is a module transformers builds, holding that module's parameters (a tied
    head holds none: its weight is counted at the embedding)."""
    names = summary.layers["name"].to_list()
    for name, params in zip(names, summary.layers["params"].to_list()):
        assert name in modules, name
        leaf = not any(other.startswith(name + ".") for other in names)
        if leaf and not (name == "lm_head" and params == 0):
            assert params == modules[name][1], name


@pytest.mark.parametrize("row", HF["rows"], ids=[r["name"] for r in HF["rows"]])
def test_counts_equal_transformers(row):
    base = archbudget.summary(row["config"], head="base")
    lm = archbudget.summary(row["config"], head="causal_lm")
    assert (base.total_params, base.name) == (row["base_params"], row["base_class"])
    assert (lm.total_params, lm.name) == (row["causal_lm_params"], row["causal_lm_class"])
    if "modules" in row:
        check_rows(base, row["modules"]["base"])
        check_rows(lm, row["modules"]["lm"])


@pytest.mark.parametrize("case", HF["flops"], ids=[c["name"] for c in HF["flops"]])
def test_text_prompt_flops_equal_the_flop_counter(case):
    m = archbudget.memory(case["config"], mode="train", batch=case["batch"], seq=case["seq"], attn=case["attn"],
                          head=case["head"])
    assert m.params == case["params"]
    assert (m.flops_fwd, m.flops_fwd_bwd) == (case["flops_fwd"], case["flops_fwd_bwd"])


@pytest.mark.parametrize("twin", HF["keras_hub_twins"], ids=[t["name"] for t in HF["keras_hub_twins"]])
@pytest.mark.parametrize("mode", ["train", "infer"])
def test_keras_hub_pali_gemma_memory_equals_its_twin(twin, mode):
    m = KERAS_HUB[twin["name"]]
    ours = archbudget.memory(m["model_json"], mode=mode, batch=2, seq=16)
    want = archbudget.memory(twin["config"], mode=mode, batch=2, seq=16, head=twin["head"])
    assert (ours.peak_bytes, ours.flops_fwd_bwd, ours.breakdown) == (want.peak_bytes, want.flops_fwd_bwd,
                                                                      want.breakdown)
    assert ours.params == twin["params"] == m["total_params"]
