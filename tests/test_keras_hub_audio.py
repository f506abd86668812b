"""KerasHub speech models and their transformers twins (one source of truth): a
WhisperBackbone (tests/data/keras_hub.json.gz, keras-hub 0.32) runs as transformers'
`WhisperModel` of the same sizes, so `memory` gives both the same peak, breakdown and
FLOPs, and both count the parameters, frozen ones included, as the frameworks do
(keras-hub's `whisper_tiny_en` sizes against transformers' openai/whisper-tiny.en,
tests/data/hf_whisper.json). keras-hub 0.32 has no Whisper task model.
"""
import gzip
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import archbudget
from archbudget.cli import app

DATA = Path(__file__).parent / "data"
KERAS_HUB = {m["name"]: m for m in json.loads(gzip.open(DATA / "keras_hub.json.gz", "rt").read())["models"]}
HF_WHISPER = {r["name"]: r for r in json.loads((DATA / "hf_whisper.json").read_text())["rows"]}
runner = CliRunner()

SMALL = {"model_type": "whisper", "vocab_size": 64, "d_model": 16, "encoder_attention_heads": 2,
         "decoder_attention_heads": 2, "encoder_ffn_dim": 24, "decoder_ffn_dim": 24}
# keras-hub model -> the transformers config of the same architecture
WHISPER_TWINS = {
    "Whisper": dict(SMALL, encoder_layers=2, decoder_layers=2, num_mel_bins=8, max_source_positions=16,
                    max_target_positions=12),
    # keras-hub's defaults: 80 mel bins, 3000 frames, 448 decoder positions
    "Whisper_3_layers": dict(SMALL, encoder_layers=3, decoder_layers=3),
    "Whisper_tiny_en": HF_WHISPER["whisper-tiny.en"]["config"],
}


@pytest.mark.parametrize("name", list(WHISPER_TWINS))
def test_whisper_memory_equals_the_transformers_twin(name):
    model, twin = KERAS_HUB[name]["model_json"], WHISPER_TWINS[name]
    for mode in ("train", "infer"):
        for precision in ("fp32", "amp_bf16"):
            run = dict(mode=mode, batch=2, seq=8, precision=precision)
            ours = archbudget.memory(model, **run)
            theirs = archbudget.memory(twin, head="base", **run)
            assert (ours.peak_bytes, ours.breakdown, ours.flops_fwd_bwd) == (
                theirs.peak_bytes, theirs.breakdown, theirs.flops_fwd_bwd), (mode, precision)
            assert ours.peak_bytes > ours.breakdown["weights"] > 0


@pytest.mark.parametrize("name", list(WHISPER_TWINS))
def test_whisper_twin_counts_what_keras_counts(name):
    keras = KERAS_HUB[name]
    twin = archbudget.summary(WHISPER_TWINS[name], head="base")
    assert (twin.total_params, twin.trainable_params, twin.non_trainable_params) == (
        keras["total_params"], keras["trainable_params"], keras["non_trainable_params"])


def test_whisper_tiny_en_equals_transformers_whisper_tiny_en():
    # two frameworks, one model: keras-hub's preset sizes and openai/whisper-tiny.en
    hf = HF_WHISPER["whisper-tiny.en"]
    keras = KERAS_HUB["Whisper_tiny_en"]
    assert (keras["total_params"], keras["trainable_params"]) == (hf["base_params"], hf["base_trainable"])
    # training: the frozen encoder positions get no gradient, in either reader
    m = archbudget.memory(keras["model_json"], mode="train", batch=1, seq=4)
    assert m.trainable_params == hf["base_trainable"]


def test_whisper_memory_through_the_cli(tmp_path):
    path = tmp_path / "whisper.json"
    path.write_text(json.dumps(KERAS_HUB["Whisper"]["model_json"]))
    out = runner.invoke(app, ["memory", str(path), "--mode", "train", "--batch", "2", "--seq", "12",
                              "--format", "json"])
    assert out.exit_code == 0, out.output
    got = json.loads(out.stdout)
    twin = archbudget.memory(WHISPER_TWINS["Whisper"], head="base", mode="train", batch=2, seq=12)
    assert (got["peak_bytes"], got["flops_fwd_bwd"]) == (twin.peak_bytes, twin.flops_fwd_bwd)
