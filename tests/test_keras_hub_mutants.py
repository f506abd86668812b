"""KerasHub models unlike the fixtures, as a held-out set holds them
(tests/data/keras_hub_mutants.json.gz, built by keras-hub 0.32 / Keras 3.15.1 with
tests/data/make_keras_hub_mutants.py): every backbone and encoder of the other KerasHub
fixtures with one constructor argument changed (a flag flipped, one more layer, another
vocabulary size, dropout on). Totals and every row of `model.summary()`; `memory` gives a
figure for every one."""

import pytest

import archbudget
from conftest import assert_summary_equals_keras, load_keras_hub

DATA = load_keras_hub("keras_hub_mutants.json.gz")
MODELS = DATA["models"]


def test_fixture_is_keras_hub_0_32():
    assert (DATA["keras"], DATA["keras_hub"]) == ("3.15.1", "0.32.0")
    assert len(MODELS) == 287


@pytest.mark.parametrize("m", MODELS, ids=[m["name"] for m in MODELS])
def test_summary_equals_keras(m):
    assert_summary_equals_keras(m)


@pytest.mark.parametrize("m", MODELS, ids=[m["name"] for m in MODELS])
def test_memory_gives_a_figure(m):
    # seq 8: the tiny Whisper fixtures hold 12 decoder positions
    r = archbudget.memory(m["model_json"], mode="train", batch=2, seq=8)
    assert r.peak_bytes > 0 and r.flops_fwd > 0 and r.breakdown["weights"] > 0
