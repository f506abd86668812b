"""`memory` of KerasHub Flux through the API and the CLI: FluxBackbone and FluxTextToImage
(tests/data/keras_hub_sd3.json.gz) and the configs of tests/data/keras_hub_flux.json.gz
(keras-hub 0.32, tests/data/make_keras_hub_flux.py): the step's parameters keras-hub's,
FLOPs jax's matmul FLOPs; bad arguments exit 2 with one line.
"""
import json
import subprocess
import sys

import pytest

import archbudget
from conftest import assert_summary_equals_keras, load_keras_hub

FIXTURES = [m for m in load_keras_hub("keras_hub_sd3.json.gz")["models"] if m["name"].startswith("Flux")]
CONFIGS = load_keras_hub("keras_hub_flux.json.gz")["models"]
BY_NAME = {m["name"]: m for m in FIXTURES + CONFIGS}


def cli(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "archbudget", *args], capture_output=True, text=True,
                          input=stdin)


@pytest.mark.parametrize("m", FIXTURES, ids=[m["name"] for m in FIXTURES])
@pytest.mark.parametrize("mode", ["train", "infer"])
def test_memory_runs_the_whole_backbone(m, mode):
    r = archbudget.memory(m["model_json"], mode=mode, batch=2, seq=16)
    assert r.params == m["total_params"] and r.peak_bytes > 0 and r.breakdown["weights"] > 0


def test_text_to_image_is_its_backbones_step():
    for name in ["Flux", "Flux_no_guidance"]:
        run = dict(mode="train", batch=3, seq=9)
        backbone = archbudget.memory(BY_NAME[name]["model_json"], **run)
        task = archbudget.memory(BY_NAME[name + "TextToImage"]["model_json"], **run)
        assert (task.peak_bytes, task.flops_fwd_bwd) == (backbone.peak_bytes, backbone.flops_fwd_bwd)


@pytest.mark.parametrize("m", CONFIGS, ids=[m["name"] for m in CONFIGS])
def test_config_reads_exact_and_flops_are_jaxs(m):
    assert_summary_equals_keras(m)
    jax = m["jax_flops"]
    # jax's gradient of the attention is eager attention's 4 products
    r = archbudget.memory(m["model_json"], mode="train", batch=jax["batch"], attn="eager")
    assert (r.flops_fwd, r.flops_fwd_bwd) == (jax["matmul_flops_fwd"], jax["matmul_flops_fwd_bwd"])


def edited(name, **config):
    model = json.loads(json.dumps(BY_NAME[name]["model_json"]))
    model["config"].update(config)
    return model


def one_line_error(run):
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 2 and run.stdout == "" and len(lines) == 1 and "Traceback" not in run.stderr
    return lines[0]


def test_unknown_text_tokens_need_seq():
    model = json.dumps(edited("Flux", text_shape=[None, 12], text_ids_shape=[None, 3]))
    line = one_line_error(cli("memory", "-", "--mode", "train", "--batch", "2", stdin=model))
    assert "--seq" in line
    given = cli("memory", "-", "--mode", "train", "--batch", "2", "--seq", "6", "--format", "json", stdin=model)
    assert given.returncode == 0
    known = archbudget.memory(BY_NAME["Flux"]["model_json"], mode="train", batch=2)
    assert json.loads(given.stdout)["peak_bytes"] == known.peak_bytes


@pytest.mark.parametrize("config, args, message", [
    (dict(image_shape=[None, 8], image_ids_shape=[None, 3]), [], "image_shape"),
    (dict(y_shape=[2, 10]), [], "y_shape = (width,)"),
    ({}, ["--lora-rank", "4"], "full precision"),
    ({}, ["--mode", "generate", "--new-tokens", "4"], "train or infer"),
])
def test_memory_refusals_are_one_line(config, args, message):
    run = ["memory", "-", "--batch", "2", *args]
    if "--mode" not in args:
        run += ["--mode", "train"]
    line = one_line_error(cli(*run, stdin=json.dumps(edited("Flux", **config))))
    assert message in line


@pytest.mark.parametrize("config, message", [
    # keras-hub's ApplyRoPE fails to broadcast the table over q and k in both
    (dict(axes_dim=[4, 6, 8]), "must be half a head (16"),
    (dict(image_ids_shape=[12, 3]), "give 18 tokens where text_shape and image_shape give 22"),
])
def test_configs_keras_hub_cannot_build_exit_2(tmp_path, config, message):
    path = tmp_path / "flux.json"
    path.write_text(json.dumps(edited("Flux", **config)))
    line = one_line_error(cli("summary", str(path)))
    assert message in line and str(path) in line
