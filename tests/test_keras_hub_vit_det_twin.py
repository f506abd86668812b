"""KerasHub's ViTDetBackbone through the public API: each ViTDet of
tests/data/keras_hub_vit.json.gz (real keras-hub 0.32) gets the memory report of its
transformers twin `sam_vision_model`, whose parameters and flop-counter FLOPs
tests/data/hf_sam.json records (real transformers 5.24, tests/data/make_hf_sam.py)."""
import gzip
import json

import pytest
from typer.testing import CliRunner

import archbudget
from archbudget.cli import app
from conftest import DATA

TWINS = json.loads((DATA / "hf_sam.json").read_text())["keras_hub_twins"]


def keras_hub_model(name):
    with gzip.open(DATA / "keras_hub_vit.json.gz", "rt") as f:
        return next(m for m in json.load(f)["models"] if m["name"] == name)


@pytest.mark.parametrize("twin", TWINS, ids=[t["name"] for t in TWINS])
def test_memory_is_the_twins(twin):
    m = keras_hub_model(twin["name"])
    for mode in ("train", "infer"):
        ours = archbudget.memory(m["model_json"], mode=mode, batch=2, attn="eager")
        theirs = archbudget.memory(twin["config"], mode=mode, batch=2, attn="eager")
        assert (ours.peak_bytes, ours.breakdown) == (theirs.peak_bytes, theirs.breakdown)
        assert ours.params == twin["params"] == m["trainable_params"]
        if mode == "train":
            assert (ours.flops_fwd, ours.flops_fwd_bwd) == (twin["flops_fwd"], twin["flops_fwd_bwd"])


def test_the_cli_gives_a_vit_det_memory_without_seq(tmp_path):
    path = tmp_path / "model.json"
    path.write_text(json.dumps(keras_hub_model("ViTDet_sam_layout")["model_json"]))
    out = CliRunner().invoke(app, ["memory", str(path), "--mode", "train", "--batch", "2"])
    assert out.exit_code == 0, out.output
    assert "Traceback" not in out.output
