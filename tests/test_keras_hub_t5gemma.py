"""KerasHub T5Gemma and T5Gemma2 (text model) unlike the fixtures
(tests/data/keras_hub_mutants_t5gemma.json.gz, built by keras-hub 0.32 / Keras 3.15.1 with
tests/data/make_keras_hub_mutants_t5gemma.py: every constructor option changed one at a
time, each backbone with its Seq2SeqLM). Totals and every row of `model.summary()` through
the Python API; `memory` gives a figure for each but the T5Gemma2s whose decoder is narrower
than the encoder (keras-hub builds them but cannot call them), refused in one line; the
T5GemmaSeq2SeqLM fixture as its transformers twin through the CLI."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

import archbudget
from conftest import assert_summary_equals_keras, load_keras_hub

DATA = load_keras_hub("keras_hub_mutants_t5gemma.json.gz")
MODELS = DATA["models"]
REFUSED = {f"{name}[decoder_hidden_dim=24]{task}" for name in ("T5Gemma2", "T5Gemma2_options")
           for task in ("", "Seq2SeqLM")}


def test_fixture_is_keras_hub_0_32():
    assert (DATA["keras"], DATA["keras_hub"]) == ("3.15.1", "0.32.0")
    assert len(MODELS) == 136 and not DATA["build_failures"]


@pytest.mark.parametrize("m", MODELS, ids=[m["name"] for m in MODELS])
def test_summary_equals_keras(m):
    assert_summary_equals_keras(m)


LOWERED = [m for m in MODELS if m["name"] not in REFUSED]


@pytest.mark.parametrize("m", LOWERED, ids=[m["name"] for m in LOWERED])
def test_memory_gives_a_figure(m):
    r = archbudget.memory(m["model_json"], mode="train", batch=2, seq=16)
    assert r.peak_bytes > r.breakdown["weights"] > 0 and r.flops_fwd > 0
    assert r.params == m["total_params"]


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_in_one_line(name):
    model = next(m for m in MODELS if m["name"] == name)["model_json"]
    run = subprocess.run([sys.executable, "-m", "archbudget", "memory", "-", "--mode", "train", "--batch", "2",
                          "--seq", "8"], capture_output=True, text=True, input=json.dumps(model))
    assert run.returncode == 2 and run.stdout == "" and "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "encoder_hidden_dim (16) must equal decoder_hidden_dim (24)" in lines[0]
    with pytest.raises(archbudget.ArchBudgetError, match="cannot call it"):
        archbudget.memory(model, mode="infer", batch=1, seq=8)


def test_seq2seq_lm_runs_as_its_twin_through_the_cli():
    fixture = {m["name"]: m for m in load_keras_hub("keras_hub_text2.json.gz")["models"]}
    twins = {r["name"]: r for r in json.loads(
        (Path(__file__).parent / "data" / "hf_t5gemma.json").read_text())["keras_hub_twins"]}
    model = fixture["T5GemmaSeq2SeqLM"]["model_json"]
    run = subprocess.run([sys.executable, "-m", "archbudget", "memory", "-", "--mode", "train", "--batch", "2",
                          "--seq", "12", "--format", "json"], capture_output=True, text=True, input=json.dumps(model))
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout)
    twin = archbudget.memory(twins["T5Gemma"]["config"], head="causal_lm", mode="train", batch=2, seq=12)
    assert (got["peak_bytes"], got["flops_fwd_bwd"], got["params"]) == (
        twin.peak_bytes, twin.flops_fwd_bwd, twins["T5Gemma"]["lm_params"])
