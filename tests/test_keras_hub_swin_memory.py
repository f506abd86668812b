"""KerasHub's Swin Transformer (tests/data/keras_hub_vision_more.json.gz, real keras-hub
0.32) runs `memory` as its transformers twin, `swin` (tests/data/hf_swin.json, transformers
5.24 on the meta device): the same weights, the same report."""
import gzip
import json
import subprocess
import sys

import pytest

import archbudget
from conftest import DATA

with gzip.open(DATA / "keras_hub_vision_more.json.gz", "rt") as f:
    MODELS = {m["name"]: m for m in json.load(f)["models"]}
HF = json.loads((DATA / "hf_swin.json").read_text())
TWINS = HF["keras_hub_twins"]


@pytest.mark.parametrize("twin", TWINS, ids=[t["name"] for t in TWINS])
@pytest.mark.parametrize("mode", ["train", "infer"])
def test_memory_is_the_transformers_twins(twin, mode):
    keras_hub = MODELS[twin["name"]]
    m = archbudget.memory(keras_hub["model_json"], mode=mode, batch=2)
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


@pytest.mark.parametrize("row", HF["rows"], ids=[r["name"] for r in HF["rows"]])
def test_hf_swin_equals_transformers(row):
    s = archbudget.summary(row["config"])
    assert (s.total_params, s.name) == (row["base_params"], row["base_class"])


def test_swin_without_patch_norm_is_refused_in_one_line():
    run = subprocess.run([sys.executable, "-m", "archbudget", "memory", "-", "--mode", "train", "--batch", "2"],
                         capture_output=True, text=True, input=json.dumps(MODELS["swin_options"]["model_json"]))
    assert run.returncode == 2 and run.stdout == "" and "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "not modelled" in lines[0] and "SwinTransformer (with patch_norm)" in lines[0]
