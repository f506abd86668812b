"""Bad encoder-decoder input, KerasHub T5/Bart/Whisper and transformers bart: exit status
2 and one line naming the file, the class and the key; the API raises ArchBudgetError."""
import gzip
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import archbudget
from archbudget.cli import app

MODELS = {m["name"]: m for m in
          json.loads(gzip.open(Path(__file__).parent / "data" / "keras_hub.json.gz", "rt").read())["models"]}
runner = CliRunner()


def one_line_error(tmp_path, model, *args, names_file=True):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(model))
    out = runner.invoke(app, [args[0], str(path), *args[1:]])
    assert out.exit_code == 2, out.output
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.output, out.stderr
    assert not names_file or "m.json" in lines[0], lines[0]
    return lines[0]


def edited(name, **changes):
    model = json.loads(json.dumps(MODELS[name]["model_json"]))
    config = model["config"]["backbone"]["config"] if "backbone" in model["config"] else model["config"]
    for key, value in changes.items():
        if value is None:
            del config[key]
        else:
            config[key] = value
    return model


def test_t5_missing_or_bad_keys_name_the_key(tmp_path):
    msg = one_line_error(tmp_path, edited("T5Seq2SeqLM", hidden_dim=None), "summary")
    assert "T5Backbone" in msg and "'hidden_dim'" in msg
    msg = one_line_error(tmp_path, edited("T5", activation="tanh"), "summary")
    assert "'activation'" in msg and "tanh" in msg
    msg = one_line_error(tmp_path, edited("T5", num_heads=3), "summary")
    assert "hidden_dim (16) must be a multiple of num_heads (3)" in msg


def test_bart_bad_keys_name_the_key(tmp_path):
    msg = one_line_error(tmp_path, edited("BartSeq2SeqLM", num_layers=0), "memory", "--mode",
                         "train", "--batch", "1", "--seq", "8")
    assert "BartBackbone" in msg and "'num_layers'" in msg
    bart = {"model_type": "bart", "d_model": 64, "encoder_attention_heads": 4,
            "decoder_attention_heads": 8}
    msg = one_line_error(tmp_path, bart, "summary")
    assert "'decoder_attention_heads'" in msg
    with pytest.raises(archbudget.ArchBudgetError, match="decoder_attention_heads"):
        archbudget.summary(bart)


def test_lora_on_an_encoder_decoder_is_refused_in_one_line(tmp_path):
    msg = one_line_error(tmp_path, MODELS["BartSeq2SeqLM"]["model_json"], "memory", "--mode",
                         "train", "--batch", "1", "--seq", "8", "--lora-rank", "4",
                         names_file=False)
    # the lowering's refusals name the model type, as for a t5 config
    assert msg.endswith("bart: LoRA and quantized weights are not lowered for encoder-decoder "
                        "models (t5, bart, whisper) yet")


def test_whisper_decoder_longer_than_its_positions_is_refused_in_one_line(tmp_path):
    # the fixture's backbone has max_decoder_sequence_length=12
    msg = one_line_error(tmp_path, MODELS["Whisper"]["model_json"], "memory", "--mode", "infer",
                         "--batch", "1", "--seq", "13", names_file=False)
    assert "--seq 13" in msg and "holds 12 positions" in msg and "max_decoder_sequence_length" in msg
