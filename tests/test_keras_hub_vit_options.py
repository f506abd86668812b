"""keras-hub's ViT and DeiT options that transformers' vit and deit lack (no class token,
unbiased patch / attention / MLP weights, a head count that does not divide the width, DeiT
without attention biases, DeiT's gap classifier): `memory` lowers them through the twin's block
with the option (tests/data/keras_hub_{multimodal,vision_more}.json.gz, real keras-hub 0.32)."""
import copy
import gzip
import json

import pytest

import archbudget
from conftest import DATA


def models(fixture):
    with gzip.open(DATA / f"{fixture}.json.gz", "rt") as f:
        return {m["name"]: m for m in json.load(f)["models"]}


VIT = models("keras_hub_multimodal")
DEIT = models("keras_hub_vision_more")
OPTIONS = [VIT["vit_no_class_token"], VIT["vit_no_biases"], VIT["vit_uneven_heads_dropout"],
           DEIT["deit_no_mha_bias_rect"]]


def with_config(m, **changes):
    changed = copy.deepcopy(m["model_json"])
    changed["config"].update(changes)
    return changed


@pytest.mark.parametrize("m", OPTIONS, ids=[m["name"] for m in OPTIONS])
@pytest.mark.parametrize("mode", ["train", "infer"])
def test_memory_counts_the_parameters_keras_hub_builds(m, mode):
    # every weight of these backbones is trainable and has a PyTorch counterpart
    report = archbudget.memory(m["model_json"], mode=mode, batch=2)
    assert report.params == m["trainable_params"] == m["total_params"]
    assert report.peak_bytes > report.breakdown["weights"] >= 4 * report.params


@pytest.mark.parametrize("m, biased", [
    (VIT["vit_no_biases"], dict(use_mha_bias=True, use_mlp_bias=True, use_patch_bias=True)),
    (DEIT["deit_no_mha_bias_rect"], dict(use_mha_bias=True)),
])
def test_without_biases_the_matmuls_are_the_twins(m, biased):
    # torch's flop counter counts no bias adds: the same FLOPs, fewer weights
    ours = archbudget.memory(m["model_json"], mode="train", batch=2)
    twin = archbudget.memory(with_config(m, **biased), mode="train", batch=2)
    assert ours.flops_fwd_bwd == twin.flops_fwd_bwd
    assert ours.params < twin.params and ours.breakdown["weights"] < twin.breakdown["weights"]


def test_without_a_class_token_the_sequence_is_the_patches():
    m = VIT["vit_no_class_token"]
    ours = archbudget.memory(m["model_json"], mode="train", batch=2)
    with_token = archbudget.memory(with_config(m, use_class_token=True), mode="train", batch=2)
    assert ours.params < with_token.params
    assert ours.flops_fwd < with_token.flops_fwd and ours.peak_bytes < with_token.peak_bytes


def test_the_gap_classifier_runs_as_its_backbone():
    m = DEIT["deit_image_classifier_gap"]
    task = archbudget.memory(m["model_json"], mode="train", batch=4)
    backbone = archbudget.memory(m["model_json"]["config"]["backbone"], mode="train", batch=4)
    assert (task.peak_bytes, task.params) == (backbone.peak_bytes, backbone.params)
    rows = archbudget.summary(m["model_json"]).layers
    assert task.params == rows.filter(rows["class_name"] == "DeiTBackbone")["params"].item()
