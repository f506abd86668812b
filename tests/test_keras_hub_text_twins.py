"""`memory` of the KerasHub text models lowered through a transformers twin added for
them (tests/data/keras_hub_text.json.gz, keras_hub.json.gz, keras_hub_tasks.json.gz):
ESM's backbone and tasks through transformers' esm, DistilBertMaskedLM through
`DistilBertForMaskedLM`. Each report equals its twin's (one source of truth); where
keras-hub builds other parameters than transformers, the difference is what the twin's
class adds; a KerasHub model with no twin is refused in one line.
"""
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import archbudget
from archbudget.cli import app
from conftest import load_keras_hub

TEXT = {m["name"]: m for m in load_keras_hub("keras_hub_text.json.gz")["models"]}
HUB = {m["name"]: m for m in load_keras_hub("keras_hub.json.gz")["models"]}
TASKS = {m["name"]: m for m in load_keras_hub("keras_hub_tasks.json.gz")["models"]}
runner = CliRunner()


def backbone_config(model_json):
    config = model_json["config"]
    return config["backbone"]["config"] if "backbone" in config else config


def esm_twin(model_json):
    """transformers' esm with KerasHub ESM's sizes: untied head and no token dropout,
    which keras-hub does not have."""
    c = backbone_config(model_json)
    return {"model_type": "esm", "vocab_size": c["vocabulary_size"], "hidden_size": c["hidden_dim"],
            "num_hidden_layers": c["num_layers"], "num_attention_heads": c["num_heads"],
            "intermediate_size": c["intermediate_dim"],
            "max_position_embeddings": c["max_sequence_length"],
            "position_embedding_type": c["position_embedding_type"],
            "emb_layer_norm_before": c["use_pre_layer_norm"], "token_dropout": False,
            "tie_word_embeddings": False, "pad_token_id": c["pad_token_id"],
            "hidden_dropout_prob": c["dropout"], "attention_probs_dropout_prob": c["dropout"]}


ESM = ["ESM", "ESM_absolute_prenorm", "ESMMaskedPLM", "ESM_absolute_prenormMaskedPLM",
       "ESMProteinClassifier", "ESM2_t6_8M"]


def assert_same_memory(model, twin, head, modes=("train", "infer")):
    for mode in modes:
        for precision in ("fp32", "amp_bf16"):
            run = dict(mode=mode, batch=3, seq=12, precision=precision,
                       new_tokens=3 if mode == "generate" else 0)
            ours = archbudget.memory(model, **run)
            theirs = archbudget.memory(twin, head=head, **run)
            assert (ours.peak_bytes, ours.params, ours.breakdown, ours.flops_fwd_bwd) == (
                theirs.peak_bytes, theirs.params, theirs.breakdown, theirs.flops_fwd_bwd), (mode, precision)


@pytest.mark.parametrize("name", ESM)
def test_esm_memory_equals_the_transformers_twin(name):
    model = TEXT[name]["model_json"]
    head = "causal_lm" if name.endswith("MaskedPLM") or name == "ESM2_t6_8M" else "base"
    assert_same_memory(model, esm_twin(model), head)


@pytest.mark.parametrize("name", ["ESM", "ESMMaskedPLM", "ESM_absolute_prenormMaskedPLM"])
def test_esm_twin_counts_keras_hub_plus_what_transformers_adds(name):
    # EsmModel's contact head (`layers × heads → 1`, biased) and, in the bare model, its
    # pooler: the parameters keras-hub does not build
    model = TEXT[name]["model_json"]
    c = backbone_config(model)
    h = c["hidden_dim"]
    masked = name.endswith("MaskedPLM")
    extra = c["num_layers"] * c["num_heads"] + 1 + (0 if masked else h * h + h)
    twin = archbudget.summary(esm_twin(model), head="causal_lm" if masked else "base")
    assert twin.total_params == TEXT[name]["total_params"] + extra


def test_esm_preset_twin_is_transformers_esm2_t6_8m():
    # facebook/esm2_t6_8M_UR50D as transformers 5.24 builds it (tests/data/hf_esm.json)
    fixture = json.loads((Path(__file__).parent / "data" / "hf_esm.json").read_text())
    row = next(r for r in fixture["rows"] if r["name"] == "esm2-t6-8m")
    twin = esm_twin(TEXT["ESM2_t6_8M"]["model_json"])
    assert archbudget.summary(twin, head="base").total_params == row["base_params"]


DISTILBERT_TWIN = {"model_type": "distilbert", "vocab_size": 64, "dim": 16, "n_layers": 2,
                   "n_heads": 2, "hidden_dim": 24, "max_position_embeddings": 32,
                   "dropout": 0.1, "attention_dropout": 0.1}


@pytest.mark.parametrize("fixture", [HUB, TASKS], ids=["keras_hub", "keras_hub_tasks"])
def test_distilbert_masked_lm_memory_equals_the_transformers_twin(fixture):
    model = fixture["DistilBertMaskedLM"]
    assert backbone_config(model["model_json"])["hidden_dim"] == DISTILBERT_TWIN["dim"]
    assert_same_memory(model["model_json"], DISTILBERT_TWIN, "causal_lm")
    # keras-hub's MaskedLMHead (dense, LayerNorm, tied projection, bias) is transformers'
    assert archbudget.summary(DISTILBERT_TWIN, head="causal_lm").total_params == model["total_params"]


def test_a_masked_lm_does_not_generate(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(TEXT["ESMMaskedPLM"]["model_json"]))
    out = runner.invoke(app, ["memory", str(path), "--mode", "generate", "--batch", "1",
                              "--seq", "8", "--new-tokens", "2"])
    assert out.exit_code == 2 and "Traceback" not in out.output
    assert len(out.stderr.strip().splitlines()) == 1 and "does not generate" in out.stderr


def test_esm_without_biases_drops_them_from_its_twin():
    # transformers' esm is always biased; keras-hub's use_bias=False drops the encoder's
    # biases, which the twin loses as well: memory's parameters fall by what Keras's fall
    biased = TEXT["ESMMaskedPLM"]["model_json"]
    unbiased = json.loads(json.dumps(biased))
    unbiased["config"]["backbone"]["config"]["use_bias"] = False
    run = dict(mode="train", batch=1, seq=8)
    dropped = archbudget.summary(biased).total_params - archbudget.summary(unbiased).total_params
    assert dropped > 0
    assert archbudget.memory(biased, **run).params - archbudget.memory(unbiased, **run).params == dropped


@pytest.mark.parametrize("name", ["Bloom_narrow_mlp", "Bloom_narrow_mlpCausalLM"])
def test_bloom_of_its_own_mlp_width_counts_what_keras_counts(name):
    # transformers' bloom is 4 × hidden wide; keras-hub's other widths run the same block
    model = TEXT[name]["model_json"]
    c = backbone_config(model)
    assert c["intermediate_dim"] != 4 * c["hidden_dim"]
    for mode in ("train", "infer", "generate"):
        r = archbudget.memory(model, mode=mode, batch=2, seq=8, new_tokens=2 if mode == "generate" else 0)
        assert r.params == TEXT[name]["total_params"], mode


def test_bloom_of_its_own_mlp_width_at_4x_is_the_twin():
    # the same model with the MLP set back to 4 × hidden is transformers' bloom again
    narrow = json.loads(json.dumps(TEXT["Bloom_narrow_mlpCausalLM"]["model_json"]))
    c = narrow["config"]["backbone"]["config"]
    c["intermediate_dim"] = 4 * c["hidden_dim"]
    twin = {"model_type": "bloom", "vocab_size": c["vocabulary_size"], "hidden_size": c["hidden_dim"],
            "n_layer": c["num_layers"], "n_head": c["num_heads"]}
    assert_same_memory(narrow, twin, "causal_lm", modes=("train", "infer", "generate"))


MULTIMODAL = {m["name"]: m for m in load_keras_hub("keras_hub_multimodal.json.gz")["models"]}


def text_model_twin(model_json):
    """transformers' CLIPTextModel / SiglipTextModel with the KerasHub encoder's sizes."""
    c = model_json["config"]
    twin = {"model_type": "clip_text_model" if model_json["class_name"].startswith("CLIP")
            else "siglip_text_model",
            "vocab_size": c["vocabulary_size"], "hidden_size": c["hidden_dim"],
            "intermediate_size": c["intermediate_dim"], "num_hidden_layers": c["num_layers"],
            "num_attention_heads": c["num_heads"],
            "max_position_embeddings": c["max_sequence_length"],
            "hidden_act": {"quick_gelu": "quick_gelu",
                           "gelu_approximate": "gelu_pytorch_tanh"}[c["intermediate_activation"]]}
    if "projection_dim" in c:
        twin["projection_size"] = c["projection_dim"]
    return twin


@pytest.mark.parametrize("fixture, name", [(MULTIMODAL, "clip_text_encoder"), (MULTIMODAL, "siglip_text_encoder"),
                                           (TASKS, "CLIPTextEncoder"), (TASKS, "SigLIPTextEncoder")])
def test_text_encoder_memory_equals_the_transformers_text_model(fixture, name):
    model = fixture[name]["model_json"]
    twin = text_model_twin(model)
    assert_same_memory(model, twin, "base")
    # keras-hub builds the transformers text model's parameters; SigLIP's embedding also
    # keeps its position ids as a non-trainable weight (a buffer in transformers)
    keras = fixture[name]
    assert archbudget.summary(twin).total_params == keras["trainable_params"]
    ids = model["config"]["max_sequence_length"] if twin["model_type"] == "siglip_text_model" else 0
    assert keras["non_trainable_params"] == ids
