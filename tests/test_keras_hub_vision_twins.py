"""KerasHub vision models whose transformers twin differs from keras-hub in one module, against
that twin with the module as keras-hub builds it (tests/data/hf_keras_hub_vision_twins.json,
real transformers 5.24, made by tests/data/make_hf_keras_hub_vision_twins.py): the MetaCLIP2
encoders alone (CLIP's towers; the vision encoder has no `post_layernorm`) and a Swin Transformer
without `patch_norm` (no `embeddings.norm`); and the SegFormer models, the MiT's twin with
transformers' decode head (`SegformerForSemanticSegmentation`, without the classifier for the
backbone). Parameters and the flop counter's FLOPs of a loss on what keras-hub's model returns (the
segmenter: transformers' own loss)."""
import gzip
import json

import pytest

import archbudget
from conftest import DATA

FIXTURE = json.loads((DATA / "hf_keras_hub_vision_twins.json").read_text())
TWINS, DECODERS = FIXTURE["twins"], FIXTURE["decoders"]


def keras_hub_model(fixture, name):
    with gzip.open(DATA / f"{fixture}.json.gz", "rt") as f:
        return next(m for m in json.load(f)["models"] if m["name"] == name)


@pytest.mark.parametrize("twin", TWINS, ids=[t["name"] for t in TWINS])
def test_memory_is_the_twin_as_keras_hub_builds_it(twin):
    m = keras_hub_model(twin["fixture"], twin["name"])
    ours = archbudget.memory(m["model_json"], mode="train", batch=twin["batch"], seq=twin["seq"], attn=twin["attn"])
    assert ours.params == twin["params"] == m["trainable_params"]
    assert (ours.flops_fwd, ours.flops_fwd_bwd) == (twin["flops_fwd"], twin["flops_fwd_bwd"])


@pytest.mark.parametrize("twin", TWINS, ids=[t["name"] for t in TWINS])
def test_the_module_keras_hub_leaves_out_is_all_that_differs(twin):
    # the unedited transformers model holds the module's parameters more, and otherwise runs the same
    m = keras_hub_model(twin["fixture"], twin["name"])
    ours = archbudget.memory(m["model_json"], mode="infer", batch=2, seq=16)
    full = archbudget.memory(twin["config"], mode="infer", batch=2, seq=16)
    hidden = twin["config"].get("hidden_size") or twin["config"]["embed_dim"]
    assert full.params - ours.params == (2 * hidden if twin["edit"] else 0)


def test_the_metaclip_2_vision_encoder_output_is_its_last_block():
    # no final norm on the loss's path: the same gradients as transformers' tower, whose
    # `post_layernorm` on the class token is off it
    twin = next(t for t in TWINS if t["name"] == "MetaCLIP2VisionEncoder")
    m = keras_hub_model(twin["fixture"], twin["name"])
    ours = archbudget.memory(m["model_json"], mode="train", batch=2)
    tower = archbudget.memory(twin["config"], mode="train", batch=2)
    assert ours.breakdown["gradients"] == tower.breakdown["gradients"]
    assert ours.breakdown["weights"] < tower.breakdown["weights"]


@pytest.mark.parametrize("twin", DECODERS, ids=[t["name"] for t in DECODERS])
def test_segformer_memory_is_the_encoder_with_transformers_decode_head(twin):
    m = keras_hub_model(twin["fixture"], twin["name"])
    ours = archbudget.memory(m["model_json"], mode="train", batch=twin["batch"], attn=twin["attn"])
    # BatchNorm's moving statistics are PyTorch buffers: Keras's only non-trainable weights
    assert ours.params == twin["params"] == m["trainable_params"]
    assert ours.buffers > archbudget.memory(twin["config"], mode="train", batch=2).buffers
    assert (ours.flops_fwd, ours.flops_fwd_bwd) == (twin["flops_fwd"], twin["flops_fwd_bwd"])


def test_the_segmenter_runs_its_backbone_then_the_classifier_and_its_loss():
    backbone = keras_hub_model("keras_hub_vision_more", "segformer_small")["model_json"]
    segmenter = keras_hub_model("keras_hub_vision_more", "segformer_image_segmenter")["model_json"]
    for mode in ("train", "infer"):
        b = archbudget.memory(backbone, mode=mode, batch=2)
        s = archbudget.memory(segmenter, mode=mode, batch=2)
        assert s.params > b.params and s.flops_fwd > b.flops_fwd and s.peak_bytes > b.peak_bytes, mode
