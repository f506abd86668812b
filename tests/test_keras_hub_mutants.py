"""KerasHub models unlike the fixtures, as a held-out set holds them
(tests/data/keras_hub_mutants.json.gz, built by keras-hub 0.32 / Keras 3.15.1 with
tests/data/make_keras_hub_mutants.py): every backbone and encoder of the other KerasHub
fixtures with one constructor argument changed (a flag flipped, one more layer, another
vocabulary size, dropout on). Totals and every row of `model.summary()`; `memory` gives a
figure for every one but the options it refuses, and refuses those in one line."""
import json
import subprocess
import sys

import pytest

import archbudget
from conftest import assert_summary_equals_keras, load_keras_hub

DATA = load_keras_hub("keras_hub_mutants.json.gz")
MODELS = DATA["models"]
# ESM's twin is transformers' esm, which builds every projection biased
REFUSED = {"ESM[use_bias=False]", "ESM_absolute_prenorm[use_bias=False]"}


def test_fixture_is_keras_hub_0_32():
    assert (DATA["keras"], DATA["keras_hub"]) == ("3.15.1", "0.32.0")
    assert len(MODELS) == 287


@pytest.mark.parametrize("m", MODELS, ids=[m["name"] for m in MODELS])
def test_summary_equals_keras(m):
    assert_summary_equals_keras(m)


LOWERED = [m for m in MODELS if m["name"] not in REFUSED]


@pytest.mark.parametrize("m", LOWERED, ids=[m["name"] for m in LOWERED])
def test_memory_gives_a_figure(m):
    # seq 8: the tiny Whisper fixtures hold 12 decoder positions
    r = archbudget.memory(m["model_json"], mode="train", batch=2, seq=8)
    assert r.peak_bytes > 0 and r.flops_fwd > 0 and r.breakdown["weights"] > 0


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_in_one_line(name):
    model = next(m for m in MODELS if m["name"] == name)["model_json"]
    run = subprocess.run([sys.executable, "-m", "archbudget", "memory", "-", "--mode", "train", "--batch", "2"],
                         capture_output=True, text=True, input=json.dumps(model))
    assert run.returncode == 2 and run.stdout == "" and "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "ESMBackbone" in lines[0] and "not modelled" in lines[0]
