"""More KerasHub text families (tests/data/keras_hub_more.json.gz, built by keras-hub 0.32 /
Keras 3.15.1 with tests/data/make_keras_hub_more.py): QwenMoe, Qwen3Moe, SmolLM3, GptOss,
Falcon, XLMRoberta and the Xception CNN. Totals and every row of `model.summary()` through the Python API;
`memory` for every model, the text models' equal to the memory of their transformers
twin (the released model's config.json where one is stored here); the errors.
"""
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import archbudget
from archbudget.cli import app
from conftest import assert_summary_equals_keras, load_keras_hub

DATA_DIR = Path(__file__).parent / "data"
DATA = load_keras_hub("keras_hub_more.json.gz")
MODELS = DATA["models"]
BY_NAME = {m["name"]: m for m in MODELS}
runner = CliRunner()


@pytest.mark.parametrize("m", MODELS, ids=[m["name"] for m in MODELS])
def test_summary_equals_keras(m):
    assert_summary_equals_keras(m)


def test_fixture_covers_the_families_and_presets():
    assert DATA["keras_hub"] == "0.32.0" and DATA["keras"] == "3.15.1"
    classes = {m["model_json"]["class_name"] for m in MODELS}
    for family in ("QwenMoe", "Qwen3Moe", "SmolLM3", "GptOss", "Falcon"):
        assert {f"{family}Backbone", f"{family}CausalLM"} <= classes, family
    assert {"XLMRobertaBackbone", "XLMRobertaTextClassifier", "XLMRobertaMaskedLM"} <= classes
    assert {"XceptionBackbone", "XceptionImageClassifier"} <= classes
    # the preset-sized builds equal keras-hub's preset metadata (checked by the generator)
    assert {m["preset"]: m["backbone_params"] for m in MODELS if m["kind"] == "preset"} == {
        "qwen1.5_moe_2.7b_en": 14_315_784_192, "qwen3_moe_30b_a3b_en": 30_532_122_624,
        "gpt_oss_20b_en": 20_914_757_184, "smollm3_3b_en": 3_075_100_928,
        "falcon_refinedweb_1b_en": 1_311_625_216, "xlm_roberta_base_multi": 277_450_752,
        "xception_41_imagenet": 20_861_480}


@pytest.mark.parametrize("m", MODELS, ids=[m["name"] for m in MODELS])
def test_memory_gives_a_figure(m):
    causal = m["model_json"]["class_name"].endswith("CausalLM")
    for mode in ["train", "infer"] + (["generate"] if causal else []):
        r = archbudget.memory(m["model_json"], mode=mode, batch=2, seq=16,
                              new_tokens=4 if mode == "generate" else 0)
        assert r.peak_bytes > 0 and r.breakdown["weights"] > 0, mode


def released(name, **changes):
    config = json.loads((DATA_DIR / "hf_real" / name).read_text())
    return {**config, **changes}


EXAMPLES = Path(__file__).parent.parent / "examples"
# The transformers config of the same architecture as a keras-hub model (its twin): the
# memory model must give both the same figures, and where keras-hub builds exactly the
# transformers parameters, the same count.
TWINS = {
    "QwenMoe_a2_7b": (released("Qwen__Qwen1.5-MoE-A2.7B-Chat.json"), "causal_lm", True),
    "Qwen3Moe_30b_a3b": (json.loads((EXAMPLES / "qwen3-30b-a3b.json").read_text()),
                         "causal_lm", True),
    # keras-hub slides the window over the odd layers, transformers over the even ones
    "GptOss_20b": (released("openai__gpt-oss-20b.json", layer_types=[
        "full_attention" if i % 2 == 0 else "sliding_attention" for i in range(24)]),
        "causal_lm", True),
    # tiiuae/falcon-rw-1b's config.json
    "Falcon_rw_1b": ({"model_type": "falcon", "vocab_size": 50304, "hidden_size": 2048,
                      "num_hidden_layers": 24, "num_attention_heads": 32, "alibi": True,
                      "bias": True, "multi_query": False, "new_decoder_architecture": False,
                      "parallel_attn": False}, "causal_lm", True),
    "QwenMoeCausalLM": ({"model_type": "qwen2_moe", "vocab_size": 64, "hidden_size": 16,
                         "intermediate_size": 32, "num_hidden_layers": 2,
                         "num_attention_heads": 4, "num_key_value_heads": 2, "num_experts": 4,
                         "num_experts_per_tok": 2, "moe_intermediate_size": 8,
                         "shared_expert_intermediate_size": 24}, "causal_lm", True),
    "Qwen3MoeCausalLM": ({"model_type": "qwen3_moe", "vocab_size": 64, "hidden_size": 16,
                          "intermediate_size": 32, "num_hidden_layers": 3,
                          "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8,
                          "num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 8,
                          "mlp_only_layers": [1], "use_sliding_window": True,
                          "sliding_window": 32768}, "causal_lm", True),
    # keras-hub's SmolLM3 holds each layer's rotary `inv_freq` as a weight: counts differ
    "SmolLM3CausalLM": ({"model_type": "smollm3", "vocab_size": 64, "hidden_size": 16,
                         "intermediate_size": 24, "num_hidden_layers": 4,
                         "num_attention_heads": 4, "num_key_value_heads": 2,
                         "max_position_embeddings": 64, "no_rope_layers": [1, 1, 1, 0]},
                        "causal_lm", False),
    "GptOssCausalLM": ({"model_type": "gpt_oss", "vocab_size": 64, "hidden_size": 16,
                        "intermediate_size": 24, "num_hidden_layers": 3,
                        "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8,
                        "num_local_experts": 4, "num_experts_per_tok": 2, "sliding_window": 8,
                        "layer_types": ["full_attention", "sliding_attention", "full_attention"]},
                       "causal_lm", True),
    # keras-hub's roberta position table has max_sequence_length rows, no token types
    "XLMRobertaMaskedLM": ({"model_type": "roberta", "vocab_size": 64, "hidden_size": 16,
                            "num_hidden_layers": 2, "num_attention_heads": 2,
                            "intermediate_size": 24, "max_position_embeddings": 32,
                            "type_vocab_size": 1}, "causal_lm", False),
}


@pytest.mark.parametrize("name", list(TWINS))
def test_memory_equals_the_transformers_twin(name):
    config, head, same_count = TWINS[name]
    model = BY_NAME[name]["model_json"]
    for mode, extra in (("train", {}), ("infer", {}), ("generate", {"new_tokens": 3})):
        if mode == "generate" and not model["class_name"].endswith("CausalLM"):
            continue
        for precision in ("fp32", "amp_bf16"):
            run = dict(mode=mode, batch=3, seq=12, precision=precision, **extra)
            ours = archbudget.memory(model, **run)
            twin = archbudget.memory(config, head=head, **run)
            assert (ours.peak_bytes, ours.breakdown, ours.flops_fwd_bwd) == (
                twin.peak_bytes, twin.breakdown, twin.flops_fwd_bwd), (mode, precision)
    if same_count:
        assert archbudget.summary(config, head=head).total_params == BY_NAME[name]["total_params"]


def test_moe_models_count_active_params():
    for name in ("QwenMoe_a2_7b", "Qwen3Moe_30b_a3b", "GptOss_20b"):
        s = archbudget.summary(BY_NAME[name]["model_json"])
        twin = archbudget.summary(TWINS[name][0])
        assert s.active_params == twin.active_params < s.total_params, name


def bad(tmp_path, model, *args):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(model))
    out = runner.invoke(app, [*args[:1], str(path), *args[1:]])
    assert out.exit_code == 2, out.output
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.output, out.stderr
    return lines[0]


def test_errors(tmp_path):
    smollm3 = json.loads(json.dumps(BY_NAME["SmolLM3"]["model_json"]))
    smollm3["config"]["rope_layer_enabled_list"] = "all"
    msg = bad(tmp_path, smollm3, "summary")
    assert "SmolLM3Backbone" in msg and "'rope_layer_enabled_list'" in msg and "m.json" in msg
    falcon = json.loads(json.dumps(BY_NAME["Falcon"]["model_json"]))
    falcon["config"]["num_attention_heads"] = 3
    msg = bad(tmp_path, falcon, "memory", "--mode", "train", "--batch", "1", "--seq", "8")
    assert "FalconBackbone" in msg and "num_attention_heads" in msg
    gpt_oss = json.loads(json.dumps(BY_NAME["GptOss"]["model_json"]))
    del gpt_oss["config"]["num_experts"]
    with pytest.raises(archbudget.ArchBudgetError, match="'num_experts'"):
        archbudget.summary(gpt_oss)
