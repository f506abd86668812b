"""KerasHub text models, decoders, encoders and encoder-decoders (tests/data/keras_hub.json.gz, built by keras-hub 0.32 / Keras
3.15.1 with tests/data/make_keras_hub.py): totals and every row of `model.summary()`
through the Python API and the CLI; `memory` for every model with a transformers twin,
equal to the memory of that twin's config (one source of truth); the errors.
"""
import json

import pytest
from typer.testing import CliRunner

import archbudget
from archbudget.cli import app
from conftest import assert_summary_equals_keras, load_keras_hub

DATA = load_keras_hub("keras_hub.json.gz")
MODELS = DATA["models"]
BY_NAME = {m["name"]: m for m in MODELS}
# keras-hub's speech models: their memory is tested in test_keras_hub_audio.py
AUDIO = ("Whisper",)
runner = CliRunner()


@pytest.mark.parametrize("m", MODELS, ids=[m["name"] for m in MODELS])
def test_summary_equals_keras(m):
    assert_summary_equals_keras(m)


def test_fixture_covers_the_families_and_presets():
    assert DATA["keras_hub"] == "0.32.0" and DATA["keras"] == "3.15.1"
    classes = {m["model_json"]["class_name"] for m in MODELS}
    for family in ("GPT2", "OPT", "GPTNeoX", "Llama", "Llama3", "Mistral", "Mixtral", "Qwen",
                   "Qwen3", "Phi3", "Gemma", "Gemma3"):
        assert {f"{family}Backbone", f"{family}CausalLM"} <= classes, family
    for family in ("Bert", "Roberta", "DistilBert", "Albert", "DebertaV3", "FNet"):
        assert {f"{family}Backbone", f"{family}TextClassifier", f"{family}MaskedLM"} <= classes
    for family in ("T5", "Bart"):
        assert {f"{family}Backbone", f"{family}Seq2SeqLM"} <= classes, family
    assert "WhisperBackbone" in classes
    assert BY_NAME["GPT2_base_en"]["total_params"] == 124_439_808
    # keras-hub's preset metadata for bart_base_en; transformers' t5-small
    assert BY_NAME["Bart_base_en"]["total_params"] == 139_417_344
    assert BY_NAME["T5_small_multi"]["total_params"] == 60_506_624


MEMORY_MODELS = [m for m in MODELS if not m["name"].startswith(AUDIO)]


@pytest.mark.parametrize("m", MEMORY_MODELS, ids=[m["name"] for m in MEMORY_MODELS])
def test_memory_gives_a_figure(m):
    lm = m["name"].endswith(("CausalLM", "Seq2SeqLM"))
    modes = ["train", "infer"] + (["generate"] if lm else [])
    for mode in modes:
        r = archbudget.memory(m["model_json"], mode=mode, batch=2, seq=16,
                              new_tokens=4 if mode == "generate" else 0)
        assert r.peak_bytes > 0 and r.breakdown["weights"] > 0, mode


# The transformers config of the same architecture as a keras-hub model (its twin): the
# memory model must give both the same figures, and where keras-hub builds exactly the
# transformers module set, the same parameter count.
TWINS = {
    "LlamaCausalLM": ({"model_type": "llama", "vocab_size": 64, "hidden_size": 16,
                       "intermediate_size": 24, "num_hidden_layers": 2,
                       "num_attention_heads": 4, "num_key_value_heads": 2,
                       "tie_word_embeddings": False}, "causal_lm", True),
    "Llama": ({"model_type": "llama", "vocab_size": 64, "hidden_size": 16,
               "intermediate_size": 24, "num_hidden_layers": 2, "num_attention_heads": 4,
               "num_key_value_heads": 2, "tie_word_embeddings": False}, "base", False),
    "GPT2_base_en": ({"model_type": "gpt2"}, "causal_lm", True),
    "GPT2CausalLM": ({"model_type": "gpt2", "vocab_size": 50, "n_positions": 12, "n_embd": 8,
                      "n_layer": 2, "n_head": 2, "n_inner": 16}, "causal_lm", True),
    "MixtralCausalLM": ({"model_type": "mixtral", "vocab_size": 64, "hidden_size": 16,
                         "intermediate_size": 24, "num_hidden_layers": 2,
                         "num_attention_heads": 4, "num_key_value_heads": 2,
                         "num_local_experts": 4, "num_experts_per_tok": 2}, "causal_lm", True),
    "Qwen3CausalLM": ({"model_type": "qwen3", "vocab_size": 64, "hidden_size": 16,
                       "intermediate_size": 24, "num_hidden_layers": 2,
                       "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8,
                       "tie_word_embeddings": True}, "causal_lm", True),
    "Gemma3CausalLM": ({"model_type": "gemma3_text", "vocab_size": 64, "hidden_size": 16,
                        "intermediate_size": 48, "num_hidden_layers": 3,
                        "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8,
                        "sliding_window": 8}, "causal_lm", True),
    "T5Seq2SeqLM": ({"model_type": "t5", "vocab_size": 64, "d_model": 16, "d_kv": 8, "d_ff": 24,
                     "num_layers": 2, "num_heads": 2, "feed_forward_proj": "gated-relu"},
                    "causal_lm", True),
    "T5_relu": ({"model_type": "t5", "vocab_size": 64, "d_model": 16, "d_kv": 8, "d_ff": 24,
                 "num_layers": 2, "num_heads": 2, "feed_forward_proj": "relu"}, "base", True),
    "T5_small_multi": ({"model_type": "t5"}, "causal_lm", True),
    # transformers' position tables hold 2 more rows (its offset): the same structure,
    # 4 × hidden more parameters
    "BartSeq2SeqLM": ({"model_type": "bart", "vocab_size": 64, "d_model": 16, "encoder_layers": 2,
                       "decoder_layers": 2, "encoder_attention_heads": 2,
                       "decoder_attention_heads": 2, "encoder_ffn_dim": 24, "decoder_ffn_dim": 24,
                       "max_position_embeddings": 32, "attention_dropout": 0.1},
                      "causal_lm", False),
    "Bart_base_en": ({"model_type": "bart", "vocab_size": 50265, "d_model": 768,
                      "encoder_layers": 6, "decoder_layers": 6, "encoder_attention_heads": 12,
                      "decoder_attention_heads": 12, "encoder_ffn_dim": 3072,
                      "decoder_ffn_dim": 3072, "attention_dropout": 0.1}, "causal_lm", False),
    "BertMaskedLM": ({"model_type": "bert", "vocab_size": 64, "hidden_size": 16,
                      "num_hidden_layers": 2, "num_attention_heads": 2,
                      "intermediate_size": 24, "max_position_embeddings": 32},
                     "causal_lm", False),
}
# the encoders whose twins are albert, electra, deberta-v2 and fnet (keras-hub's
# tanh-approximate GELU is transformers' `gelu_new`); a MaskedLM's backbone keeps a
# pooler its transformers class lacks (albert), electra's backbone has one ElectraModel
# lacks: there the counts differ, the memory of the rest is the same
ALBERT = {"model_type": "albert", "vocab_size": 64, "embedding_size": 8, "hidden_size": 16,
          "num_hidden_layers": 4, "num_hidden_groups": 2, "num_attention_heads": 2,
          "intermediate_size": 24, "max_position_embeddings": 32, "hidden_act": "gelu_new"}
ELECTRA = {"model_type": "electra", "vocab_size": 64, "embedding_size": 8, "hidden_size": 16,
           "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 24,
           "max_position_embeddings": 32, "hidden_act": "gelu_new"}
DEBERTA_V3 = {"model_type": "deberta-v2", "vocab_size": 64, "hidden_size": 16,
              "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 24,
              "max_position_embeddings": 32, "relative_attention": True, "position_buckets": 8,
              "norm_rel_ebd": "layer_norm", "share_att_key": True, "pos_att_type": "p2c|c2p",
              "position_biased_input": False, "type_vocab_size": 0}
FNET = {"model_type": "fnet", "vocab_size": 64, "hidden_size": 16, "num_hidden_layers": 2,
        "intermediate_size": 24, "max_position_embeddings": 32}
TWINS.update({
    "Albert": (ALBERT, "base", True),
    "AlbertTextClassifier": (ALBERT, "base", False),
    "AlbertMaskedLM": (ALBERT, "causal_lm", False),
    "Electra": (ELECTRA, "base", False),
    "DebertaV3": (DEBERTA_V3, "base", True),
    "DebertaV3TextClassifier": (DEBERTA_V3, "base", False),
    "DebertaV3MaskedLM": (DEBERTA_V3, "causal_lm", True),
    "FNet": (FNET, "base", True),
    "FNetTextClassifier": (FNET, "base", False),
    "FNetMaskedLM": (FNET, "causal_lm", True),
})


@pytest.mark.parametrize("name", list(TWINS))
def test_memory_equals_the_transformers_twin(name):
    config, head, same_count = TWINS[name]
    model = BY_NAME[name]["model_json"]
    for mode, extra in (("train", {}), ("infer", {}), ("generate", {"new_tokens": 3})):
        # a masked LM (or electra's encoder) does not generate
        if mode == "generate" and (head != "causal_lm" or config in (ALBERT, ELECTRA, DEBERTA_V3, FNET)):
            continue
        for precision in ("fp32", "amp_bf16"):
            run = dict(mode=mode, batch=3, seq=12, precision=precision, **extra)
            ours = archbudget.memory(model, **run)
            twin = archbudget.memory(config, head=head, **run)
            assert (ours.peak_bytes, ours.breakdown, ours.flops_fwd_bwd) == (
                twin.peak_bytes, twin.breakdown, twin.flops_fwd_bwd), (mode, precision)
    if same_count:
        assert archbudget.summary(config, head=head).total_params == BY_NAME[name]["total_params"]


def test_bart_twin_counts_the_position_offset():
    for name in ("BartSeq2SeqLM", "Bart_base_en"):
        config, head, _ = TWINS[name]
        hidden = config["d_model"]
        twin = archbudget.summary(config, head=head).total_params
        assert twin == BY_NAME[name]["total_params"] + 4 * hidden, name


def test_untied_t5_memory_holds_its_own_head():
    # transformers' t5 always ties its head; keras-hub's `tie_embedding_weights=False`
    # adds a reverse embedding, which memory's parameters hold
    for name in ("T5_gelu_untiedSeq2SeqLM", "T5Seq2SeqLM"):
        m = archbudget.memory(BY_NAME[name]["model_json"], mode="train", batch=2, seq=8)
        assert m.params == BY_NAME[name]["total_params"], name


def test_mixtral_counts_active_params():
    s = archbudget.summary(BY_NAME["MixtralCausalLM"]["model_json"])
    twin = archbudget.summary(TWINS["MixtralCausalLM"][0])
    assert s.active_params == twin.active_params < s.total_params


def test_cli_summary_and_memory(tmp_path):
    path = tmp_path / "gpt2.json"
    path.write_text(json.dumps(BY_NAME["GPT2CausalLM"]["model_json"]))
    out = runner.invoke(app, ["summary", str(path), "--format", "json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["total_params"] == BY_NAME["GPT2CausalLM"]["total_params"]
    out = runner.invoke(app, ["memory", str(path), "--mode", "generate", "--batch", "1",
                              "--seq", "8", "--new-tokens", "2", "--format", "json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["peak_bytes"] > 0


def bad(tmp_path, model, *args):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(model))
    out = runner.invoke(app, [*args[:1], str(path), *args[1:]])
    assert out.exit_code == 2, out.output
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.output, out.stderr
    return lines[0]


def test_errors(tmp_path):
    llama = json.loads(json.dumps(BY_NAME["Llama"]["model_json"]))
    del llama["config"]["num_layers"]
    msg = bad(tmp_path, llama, "summary")
    assert "LlamaBackbone" in msg and "'num_layers'" in msg and "m.json" in msg
    llama["config"]["num_layers"] = -2
    assert "'num_layers'" in bad(tmp_path, llama, "summary")
    unknown = {"class_name": "EdRecBackbone", "registered_name": "keras_hub>EdRecBackbone",
               "config": {"name": "x"}}
    msg = bad(tmp_path, unknown, "summary")
    assert "'EdRecBackbone' is not supported" in msg and "Llama" in msg
    msg = bad(tmp_path, BY_NAME["FNet"]["model_json"], "memory", "--mode", "generate",
              "--batch", "1", "--seq", "8")
    assert "fnet" in msg and "does not generate" in msg
    with pytest.raises(archbudget.ArchBudgetError, match="is not supported"):
        archbudget.summary(unknown)
