"""KerasHub ViT, CLIP and SigLIP (tests/data/make_keras_hub_multimodal.py, real keras-hub 0.32)
against Keras's own model.summary(), and the transformers dual encoders clip and siglip
(tests/data/make_hf_clip.py, transformers 5.24 on the meta device) against their counts."""
import gzip
import json
import subprocess
import sys

import pytest

import archbudget
from conftest import DATA
from test_summary import oracle_shape

with gzip.open(DATA / "keras_hub_multimodal.json.gz", "rt") as f:
    MODELS = json.load(f)["models"]
HF = json.loads((DATA / "hf_clip.json").read_text())


def model(name):
    return next(m for m in MODELS if m["name"] == name)


@pytest.mark.parametrize("m", MODELS, ids=[m["name"] for m in MODELS])
def test_totals_and_rows_equal_keras(m):
    s = archbudget.summary(m["model_json"])
    assert (s.total_params, s.trainable_params, s.non_trainable_params) == (
        m["total_params"], m["trainable_params"], m["non_trainable_params"])
    want = [{**row, "output_shape": oracle_shape(row["output_shape"])} for row in m["layers"]]
    assert s.to_dict()["layers"] == want


def test_every_class_is_covered():
    assert {m["class_name"] for m in MODELS} == {
        "ViTBackbone", "ViTImageClassifier", "CLIPBackbone", "CLIPVisionEncoder", "CLIPTextEncoder",
        "SigLIPBackbone", "SigLIPVisionEncoder", "SigLIPTextEncoder"}


@pytest.mark.parametrize("row", HF["rows"], ids=[r["name"] for r in HF["rows"]])
def test_hf_dual_encoders_equal_transformers(row):
    s = archbudget.summary(row["config"])
    assert (s.total_params, s.name) == (row["base_params"], row["base_class"])


@pytest.mark.parametrize("twin", HF["vit_no_pooler"], ids=[t["name"] for t in HF["vit_no_pooler"]])
@pytest.mark.parametrize("mode", ["train", "infer"])
def test_vit_memory_is_transformers_vit_without_its_pooler(twin, mode):
    m = archbudget.memory(model(twin["name"])["model_json"], mode=mode, batch=2)
    assert m.params == twin["params"]
    assert m.peak_bytes > m.breakdown["weights"] >= 4 * twin["params"] and m.flops_fwd > 0


def test_the_classifier_runs_as_its_backbone():
    # the classifier's few-unit head is left out, as for keras-hub's text classifiers
    backbone = archbudget.memory(model("vit_base_patch16_224")["model_json"], mode="train", batch=4)
    task = archbudget.memory(model("vit_base_image_classifier")["model_json"], mode="train", batch=4)
    assert task.peak_bytes == backbone.peak_bytes


def cli(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "archbudget", *args], capture_output=True, text=True, input=stdin)


# keras-hub's preset-sized CLIP and SigLIP are transformers' default CLIPConfig and SiglipConfig
@pytest.mark.parametrize("name, config", [("clip_vit_base_patch32", {"model_type": "clip"}),
                                          ("siglip_base_patch16_224", {"model_type": "siglip"})])
@pytest.mark.parametrize("mode", ["train", "infer"])
def test_dual_encoder_memory_equals_its_transformers_twin(name, config, mode):
    keras_hub = archbudget.memory(model(name)["model_json"], mode=mode, batch=4, seq=16)
    twin = archbudget.memory(config, mode=mode, batch=4, seq=16)
    assert keras_hub.peak_bytes == twin.peak_bytes and keras_hub.flops_fwd_bwd == twin.flops_fwd_bwd
    assert keras_hub.breakdown == twin.breakdown
    assert twin.params == model(name)["trainable_params"]


def test_dual_encoder_memory_needs_the_text_length():
    run = cli("memory", "-", "--mode", "infer", "--batch", "2", stdin=json.dumps(model("clip_small")["model_json"]))
    assert run.returncode == 2 and "--seq" in run.stderr and len(run.stderr.strip().splitlines()) == 1
    with pytest.raises(archbudget.ArchBudgetError, match="max_position_embeddings"):
        archbudget.memory(model("clip_small")["model_json"], mode="infer", batch=2, seq=17)


def test_bad_arguments_exit_2_with_one_line(tmp_path):
    bad = json.loads(json.dumps(model("vit_small")["model_json"]))
    bad["config"]["patch_size"] = [5, 5]
    path = tmp_path / "vit.json"
    path.write_text(json.dumps(bad))
    run = cli("summary", str(path))
    assert run.returncode == 2 and run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in run.stderr
    assert "ViTBackbone" in lines[0] and "5x5 patches" in lines[0] and str(path) in lines[0]


def test_a_backbone_needs_its_encoders():
    bad = json.loads(json.dumps(model("clip_small")["model_json"]))
    del bad["config"]["text_encoder"]
    with pytest.raises(archbudget.ArchBudgetError, match="'text_encoder' must be a serialized keras-hub CLIPTextEncoder"):
        archbudget.summary(bad)
