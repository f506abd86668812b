"""`memory` of Keras models whose output is a custom layer nothing consumes (keras-io's
DepthToSpace, CTCLayer and Sampling, tests/data/make_keras_written.py): without a
declaration, the layer's largest input of known shape stands in for its output, and the
report says so. Keras's own output shapes (the fixture's rows) hold as many elements."""
import gzip
import json
import math
import subprocess
import sys

import pytest

from conftest import DATA

WRITTEN = DATA / "keras_written"
DECLARED = WRITTEN / "custom_layers.toml"
with gzip.open(DATA / "keras_models_written.json.gz", "rt") as f:
    MODELS = {m["name"]: m for m in json.load(f)["models"]}
# model -> (its custom output layer, the input whose shape stands in for its output)
STAND_INS = {
    "depth_to_space": ("depth_to_space", "conv2d_1"),
    "ctc_layer": ("ctc_loss", "dense"),
    "sampling_vae_subclass": ("sampling", "z_mean"),
}
SEQ = 16


def memory(name, *extra):
    run = subprocess.run([sys.executable, "-m", "archbudget", "memory", str(WRITTEN / f"{name}.keras"),
                          "--mode", "train", "--batch", "8", "--seq", str(SEQ), "--format", "json", *extra],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def dims(shape_text):
    return json.loads(shape_text.replace("None", "null"))[1:]


def keras_output_elements(name, layer):
    """Non-batch elements of Keras's output of `layer` at --seq: DepthToSpace's
    unknown spatial sizes are its input's times `block_size`."""
    rows = {r["name"]: r for r in MODELS[name]["layers"]}
    out = dims(rows[layer]["output_shape"])
    if None not in out:
        return math.prod(out)
    config = next(entry for entry in MODELS[name]["model_json"]["config"]["layers"] if entry["name"] == layer)
    block = config["config"]["block_size"]
    return SEQ * block * SEQ * block * out[-1]


@pytest.mark.parametrize("name", STAND_INS)
def test_stand_in_holds_as_many_elements_as_keras_output(name):
    layer, source = STAND_INS[name]
    rows = {r["name"]: r for r in MODELS[name]["layers"]}
    source_elements = math.prod(SEQ if d is None else d for d in dims(rows[source]["output_shape"]))
    assert keras_output_elements(name, layer) == source_elements
    report = memory(name)
    assert report["peak_bytes"] > 0
    [note] = report["notes"]
    assert f"custom layer '{layer}'" in note and f"its input '{source}'" in note and "--custom-layers" in note


@pytest.mark.parametrize("name", ["ctc_layer", "sampling_vae_subclass"])
def test_stand_in_equals_declared_output(name):
    """Where Keras's output has the stand-in's very shape, the figure is the declared one's."""
    layer, source = STAND_INS[name]
    rows = {r["name"]: r for r in MODELS[name]["layers"]}
    assert rows[layer]["output_shape"] == rows[source]["output_shape"]
    declared = memory(name, "--custom-layers", str(DECLARED))
    assumed = memory(name)
    assert "notes" not in declared
    assert {k: v for k, v in assumed.items() if k != "notes"} == declared


def test_unknown_input_dims_still_name_seq():
    run = subprocess.run([sys.executable, "-m", "archbudget", "memory", str(WRITTEN / "depth_to_space.keras"),
                          "--mode", "train", "--batch", "8"], capture_output=True, text=True)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "--seq" in run.stderr and len(run.stderr.strip().splitlines()) == 1
