"""keras-hub's Gemma3VisionEncoder alone (tests/data/keras_hub_tasks.json.gz, real keras-hub 0.32)
against gemma3's vision tower and projector in transformers 5.24 (tests/data/hf_gemma3_vision.json,
made by tests/data/make_hf_gemma3_vision.py): the parameters and the flop counter's FLOPs."""
import copy
import gzip
import json

import pytest

import archbudget
from conftest import DATA

ENCODERS = json.loads((DATA / "hf_gemma3_vision.json").read_text())["encoders"]
with gzip.open(DATA / "keras_hub_tasks.json.gz", "rt") as f:
    FIXTURE = next(m for m in json.load(f)["models"] if m["name"] == "Gemma3VisionEncoder")


def encoder_json(row):
    """The fixture's encoder with `row`'s constructor arguments."""
    model = copy.deepcopy(FIXTURE["model_json"])
    model["config"].update(image_size=row["image_size"], patch_size=row["patch_size"], pool_size=row["pool_size"],
                           hidden_dim=row["hidden"], num_heads=row["heads"], num_layers=row["layers"],
                           intermediate_dim=row["intermediate"], output_dim=row["output_dim"])
    return model


def test_the_fixture_is_the_first_geometry():
    assert encoder_json(ENCODERS[0]) == FIXTURE["model_json"]
    assert ENCODERS[0]["params"] == FIXTURE["total_params"]


@pytest.mark.parametrize("row", ENCODERS, ids=[r["name"] for r in ENCODERS])
def test_memory_equals_the_tower_and_projector(row):
    m = archbudget.memory(encoder_json(row), mode="train", batch=row["batch"])
    assert m.params == row["params"] == archbudget.summary(encoder_json(row)).total_params
    assert (m.flops_fwd, m.flops_fwd_bwd) == (row["flops_fwd"], row["flops_fwd_bwd"])
    infer = archbudget.memory(encoder_json(row), mode="infer", batch=row["batch"])
    assert infer.peak_bytes < m.peak_bytes
