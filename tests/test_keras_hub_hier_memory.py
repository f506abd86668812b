"""KerasHub's hierarchical vision backbones (tests/data/keras_hub_vision_more.json.gz, real
keras-hub 0.32) run `memory` as their transformers twins (transformers 5.24 on the meta
device): Swin Transformer as `swin` (tests/data/hf_swin.json), MiT as `segformer`'s
`SegformerModel` (tests/data/hf_segformer.json): the same weights, the same report."""
import gzip
import json

import pytest

import archbudget
from conftest import DATA

with gzip.open(DATA / "keras_hub_vision_more.json.gz", "rt") as f:
    MODELS = {m["name"]: m for m in json.load(f)["models"]}
HF = {t: json.loads((DATA / f"hf_{t}.json").read_text()) for t in ("swin", "segformer")}
TWINS = [twin for data in HF.values() for twin in data["keras_hub_twins"]]
ROWS = [row for data in HF.values() for row in data["rows"]]


@pytest.mark.parametrize("twin", TWINS, ids=[t["name"] for t in TWINS])
@pytest.mark.parametrize("mode", ["train", "infer"])
def test_memory_is_the_transformers_twins(twin, mode):
    m = archbudget.memory(MODELS[twin["name"]]["model_json"], mode=mode, batch=2)
    t = archbudget.memory(twin["config"], mode=mode, batch=2)
    assert m.params == twin["params"]
    assert (m.peak_bytes, m.breakdown, m.flops_fwd, m.flops_fwd_bwd) == (
        t.peak_bytes, t.breakdown, t.flops_fwd, t.flops_fwd_bwd)


@pytest.mark.parametrize("twin", TWINS, ids=[t["name"] for t in TWINS])
def test_the_twin_counts_the_backbones_weights(twin):
    keras_hub = MODELS[twin["name"]]
    backbone_total = keras_hub["total_params"]
    if keras_hub["class_name"] == "SwinTransformerImageClassifier":
        backbone_total = next(r["params"] for r in keras_hub["layers"] if r["class_name"] == "SwinTransformerBackbone")
    assert archbudget.summary(twin["config"]).total_params == backbone_total == twin["params"]


@pytest.mark.parametrize("row", ROWS, ids=[r["name"] for r in ROWS])
def test_hf_type_equals_transformers(row):
    s = archbudget.summary(row["config"])
    assert (s.total_params, s.name) == (row["base_params"], row["base_class"])
