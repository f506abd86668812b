"""KerasHub Stable Diffusion 3 and Flux (tests/data/keras_hub_sd3.json.gz, built by keras-hub 0.32 /
Keras 3.15.1 with tests/data/make_keras_hub_sd3.py): totals and every row of
`model.summary()` through the Python API; `memory` of the denoiser (its parameters the
`diffuser` row's, forward FLOPs jax's matmul and convolution FLOPs); the errors.
"""
import json
import subprocess
import sys

import pytest

import archbudget
from conftest import assert_summary_equals_keras, load_keras_hub

DATA = load_keras_hub("keras_hub_sd3.json.gz")
MODELS = DATA["models"]
BY_NAME = {m["name"]: m for m in MODELS}


def cli(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "archbudget", *args], capture_output=True, text=True,
                          input=stdin)


def diffuser_params(m):
    return next(r["params"] for r in m["layers"] if r["name"] == "diffuser")


@pytest.mark.parametrize("m", MODELS, ids=[m["name"] for m in MODELS])
def test_summary_equals_keras(m):
    assert_summary_equals_keras(m)


def test_presets_are_keras_hubs_sizes():
    assert DATA["keras_hub"] == "0.32.0" and DATA["keras"] == "3.15.1"
    # keras-hub's preset metadata `params`
    assert {m["preset"]: m["total_params"] for m in MODELS if m["kind"] == "preset"} == {
        "stable_diffusion_3_medium": 2_987_080_931,
        "stable_diffusion_3.5_medium": 3_371_793_763,
        "stable_diffusion_3.5_large": 9_048_410_595,
    }


@pytest.mark.parametrize("name", ["SD3", "SD3_t5_dual_rmsInpaint", "SD3_wide_latentTextToImage"])
@pytest.mark.parametrize("mode", ["train", "infer"])
def test_memory_lowers_the_denoiser(name, mode):
    m = BY_NAME[name]
    r = archbudget.memory(m["model_json"], mode=mode, batch=2, seq=12)
    assert r.params == diffuser_params(m) and r.peak_bytes > 0 and r.breakdown["weights"] > 0


@pytest.mark.parametrize("m", [m for m in MODELS if "jax_flops" in m], ids=lambda m: m["name"])
def test_forward_flops_are_jaxs_matmul_flops(m):
    jax = m["jax_flops"]
    r = archbudget.memory(m["model_json"], mode="infer", batch=jax["batch"], seq=jax["tokens"])
    assert r.flops_fwd == jax["matmul_flops"] < jax["xla_flops"]


def test_memory_with_t5_needs_the_context_length():
    run = cli("memory", "-", "--mode", "train", "--batch", "1",
              stdin=json.dumps(BY_NAME["SD3_t5_dual_rms"]["model_json"]))
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 2 and run.stdout == "" and len(lines) == 1 and "Traceback" not in run.stderr
    assert "--seq" in lines[0]


def test_generate_is_refused_in_one_line():
    run = cli("memory", "-", "--mode", "generate", "--batch", "1", "--new-tokens", "4",
              stdin=json.dumps(BY_NAME["SD3"]["model_json"]))
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 2 and len(lines) == 1 and "train or infer" in lines[0]


@pytest.mark.parametrize("key, value, message", [
    ("image_shape", [60, 64, 3], "divisible by 8"),
    ("mmdit_qk_norm", "layer_norm", "'mmdit_qk_norm' must be null or \"rms_norm\""),
    ("mmdit_position_size", 2, "mmdit_position_size (2) must cover"),
    ("mmdit_num_heads", 5, "mmdit_hidden_dim (32) must be a multiple of mmdit_num_heads (5)"),
])
def test_bad_arguments_exit_2_with_one_line(tmp_path, key, value, message):
    bad = json.loads(json.dumps(BY_NAME["SD3TextToImage"]["model_json"]))
    bad["config"]["backbone"]["config"][key] = value
    path = tmp_path / "sd3.json"
    path.write_text(json.dumps(bad))
    run = cli("summary", str(path))
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 2 and run.stdout == "" and len(lines) == 1 and "Traceback" not in run.stderr
    assert message in lines[0] and str(path) in lines[0]


def test_a_backbone_needs_its_vae():
    bad = json.loads(json.dumps(BY_NAME["SD3"]["model_json"]))
    del bad["config"]["vae"]
    with pytest.raises(archbudget.ArchBudgetError, match="'vae' must be a serialized keras-hub VAEBackbone"):
        archbudget.summary(bad)
