"""transformers' depth_anything against tests/data/hf_depth_anything.json (transformers 5.24, made by
tests/data/make_hf_depth_anything.py), and keras-hub's DepthAnythingBackbone / DepthAnythingDepthEstimator
(tests/data/keras_hub_vit.json.gz, real keras-hub 0.32) lowered as their twin."""
import json

import pytest
from typer.testing import CliRunner

import archbudget
from archbudget.cli import app
from conftest import (
    DATA,
    assert_counts_and_modules_equal_transformers,
    assert_flops_equal_the_flop_counter,
    load_keras_hub,
)

HF = json.loads((DATA / "hf_depth_anything.json").read_text())
KERAS_HUB = {m["name"]: m for m in load_keras_hub("keras_hub_vit.json.gz")["models"]}
TINY = HF["rows"][1]["config"]
runner = CliRunner()


@pytest.mark.parametrize("row", HF["rows"], ids=[r["name"] for r in HF["rows"]])
def test_counts_and_modules_equal_transformers(row):
    assert_counts_and_modules_equal_transformers(row)


@pytest.mark.parametrize("case", HF["flops"], ids=[c["name"] for c in HF["flops"]])
def test_flops_equal_the_flop_counter(case):
    assert_flops_equal_the_flop_counter(case)


@pytest.mark.parametrize("twin", HF["keras_hub_twins"], ids=[t["name"] for t in HF["keras_hub_twins"]])
def test_keras_hub_memory_is_its_twins(tmp_path, twin):
    m = KERAS_HUB[twin["name"]]
    ours = archbudget.memory(m["model_json"], mode="train", batch=twin.get("batch", 1))
    assert ours.params == twin["params"]
    if "flops_fwd" in twin:
        assert (ours.flops_fwd, ours.flops_fwd_bwd) == (twin["flops_fwd"], twin["flops_fwd_bwd"])
    path = tmp_path / "model.json"
    path.write_text(json.dumps(m["model_json"]))
    out = runner.invoke(app, ["memory", str(path), "--mode", "infer", "--batch", "1"])
    assert out.exit_code == 0, out.output


@pytest.mark.parametrize("edit, words", [
    ({"reshape_hidden_states": True}, "reshape_hidden_states to false"),
    ({"model_type": "dinov2_with_registers"}, "register tokens"),
    ({"out_indices": [1, 2]}, "neck_hidden_sizes has 4 entries"),
])
def test_configs_transformers_cannot_run_are_refused_in_one_line(tmp_path, edit, words):
    config = json.loads(json.dumps(TINY))
    config["backbone_config"].update(edit)
    archbudget.summary(config)
    with pytest.raises(archbudget.ArchBudgetError, match=words):
        archbudget.memory(config, mode="train", batch=1)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    out = runner.invoke(app, ["memory", str(path), "--mode", "train", "--batch", "1"])
    assert out.exit_code == 2 and "Traceback" not in out.output
    assert len(out.stderr.strip().splitlines()) == 1 and words in out.stderr


@pytest.mark.parametrize("edit, words", [
    ({"depth_estimation_type": "absolute"}, "depth_estimation_type"),
    ({"reassemble_factors": [4, 2.5, 1, 0.5]}, "reassemble_factors"),
    ({"neck_hidden_sizes": [8, 12]}, "neck_hidden_sizes"),
    ({"backbone_config": {"model_type": "swin"}}, "dinov2"),
    ({"backbone_config": dict(TINY["backbone_config"], out_indices=None, out_features=["stage9"])}, "out_features"),
])
def test_bad_configs_name_the_key(edit, words):
    with pytest.raises(archbudget.ArchBudgetError, match=words):
        archbudget.summary(dict(TINY, **edit))


def test_depth_anything_does_not_generate_or_take_lora():
    for run, words in [({"mode": "generate", "batch": 1, "seq": 4}, "does not generate"),
                       ({"mode": "train", "batch": 1, "lora_rank": 4}, "LoRA")]:
        with pytest.raises(archbudget.ArchBudgetError, match=words):
            archbudget.memory(TINY, **run)
