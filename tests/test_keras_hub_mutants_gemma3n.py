"""KerasHub Gemma3nBackbone models unlike the fixtures (tests/data/keras_hub_mutants_gemma3n.json.gz,
built by keras-hub 0.32 / Keras 3.15.1 with tests/data/make_keras_hub_mutants_gemma3n.py): the
Gemma3n fixtures changed as make_keras_hub_mutants.py changes every backbone, and one change of
each other constructor option. Totals and every row of `model.summary()`; `memory` gives a figure
for every model keras-hub runs, and refuses in one line, naming the layer, each model keras-hub
builds but cannot run (a KV-shared layer with no earlier layer of its kind)."""
import json
import subprocess
import sys

import pytest

import archbudget
from conftest import assert_summary_equals_keras, load_keras_hub

DATA = load_keras_hub("keras_hub_mutants_gemma3n.json.gz")
MODELS = DATA["models"]
RUNS = [m for m in MODELS if m["keras_runs"]]
FAILS = [m for m in MODELS if not m["keras_runs"]]


def test_fixture_is_keras_hub_0_32():
    assert (DATA["keras"], DATA["keras_hub"]) == ("3.15.1", "0.32.0")
    assert (len(RUNS), len(FAILS)) == (17, 3)


@pytest.mark.parametrize("m", MODELS, ids=[m["name"] for m in MODELS])
def test_summary_equals_keras(m):
    assert_summary_equals_keras(m)


@pytest.mark.parametrize("m", RUNS, ids=[m["name"] for m in RUNS])
def test_memory_gives_a_figure(m):
    for mode in ("train", "infer", "generate"):
        r = archbudget.memory(m["model_json"], mode=mode, batch=2, seq=16)
        assert r.peak_bytes > r.breakdown["weights"] > 0 and r.flops_fwd > 0


@pytest.mark.parametrize("m", FAILS, ids=[m["name"] for m in FAILS])
def test_refused_in_one_line(m):
    run = subprocess.run([sys.executable, "-m", "archbudget", "memory", "-", "--mode", "train", "--batch", "2",
                          "--seq", "8"], capture_output=True, text=True, input=json.dumps(m["model_json"]))
    assert run.returncode == 2 and run.stdout == "" and "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "layer 1 (full_attention)" in lines[0] and "num_kv_shared_layers" in lines[0]
