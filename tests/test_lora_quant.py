"""LoRA (`--lora-rank`, `--lora-targets`, `--lora-dropout`) and quantized weights
(`--quantize`, `quantization_config`) through the API and the CLI, against what peft and
bitsandbytes build (tests/data/peft_lora.json, made by tests/data/make_peft.py)."""
import json

import pytest
from typer.testing import CliRunner

import archbudget
from archbudget.cli import app
from conftest import DATA, EXAMPLES

FIXTURE = json.loads((DATA / "peft_lora.json").read_text())
LORA = FIXTURE["lora"]
runner = CliRunner()
LLAMA = str(EXAMPLES / "llama-3-8b.json")


def lora_run(case: dict) -> dict:
    return dict(mode="train", batch=2, seq=16, precision="bf16", head=case["head"], lora_rank=case["rank"],
                lora_targets=case["targets"], lora_dropout=case["dropout"])


@pytest.mark.parametrize("case", LORA, ids=[c["name"] for c in LORA])
def test_trainable_params_equal_peft(case):
    m = archbudget.memory(case["config"], **lora_run(case))
    assert (m.trainable_params, m.params) == (case["trainable_params"], case["all_params"])


def test_memory_json_has_trainable_params():
    args = ["memory", LLAMA, "--mode", "train", "--batch", "1", "--seq", "512", "--precision", "bf16",
            "--lora-rank", "8", "--format", "json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    case = LORA[0]  # llama-3-8b, q_proj and v_proj, rank 8
    assert doc["trainable_params"] == case["trainable_params"]
    assert doc["params"] == case["all_params"]
    table = runner.invoke(app, args[:-2])
    assert table.exit_code == 0, table.output
    assert f"Trainable: {case['trainable_params']:,}" in table.stdout
    assert "LoRA r=8" in table.stdout


def test_qlora_stores_the_base_in_nf4():
    run = dict(mode="train", batch=1, seq=512, precision="bf16", grad_ckpt=True, lora_rank=16, lora_targets="all-linear")
    full = archbudget.memory(LLAMA, **run)
    qlora = archbudget.memory(LLAMA, **run, quantize="nf4")
    assert qlora.trainable_params == full.trainable_params == LORA[1]["trainable_params"]
    # 4.1 bits a weight for the linears (nf4 + double-quantized absmax), bf16 embeddings and head
    assert 5.0e9 < qlora.breakdown["weights"] < 6.0e9 < full.breakdown["weights"]


@pytest.mark.parametrize("method", ["nf4", "fp4", "int8"])
def test_quantization_config_is_read(method):
    case = next(q for q in FIXTURE["quantized"] if q["method"] == method and q["name"] == "llama-tiny")
    config = dict(case["config"], quantization_config=case["quantization_config"])
    from_config = archbudget.memory(config, mode="infer", batch=1, seq=16, precision="bf16")
    asked = archbudget.memory(case["config"], mode="infer", batch=1, seq=16, precision="bf16", quantize=method)
    plain = archbudget.memory(case["config"], mode="infer", batch=1, seq=16, precision="bf16")
    # the fixture's nf4 double-quantizes (QLoRA's recipe, what --quantize nf4 means), its
    # fp4 does not (bitsandbytes' default, what --quantize fp4 means)
    assert from_config == asked
    assert from_config.breakdown["weights"] < plain.breakdown["weights"]
    assert from_config.params == plain.params


def test_sweep_rows_carry_lora_trainable_params():
    space = {"family": "hf", "fixed": {"model_type": "llama", "vocab_size": 1000, "num_hidden_layers": 2,
                                       "num_attention_heads": 8, "intermediate_size": 688},
             "axes": {"hidden_size": [256, 512]}, "run": {"batch": 1, "seq": 16, "precision": "bf16"}}
    rows = archbudget.sweep(space, lora_rank=8, lora_targets="all-linear")
    for row in rows.iter_rows(named=True):
        config = dict(space["fixed"], hidden_size=row["hidden_size"])
        m = archbudget.memory(config, mode="train", batch=1, seq=16, precision="bf16", lora_rank=8,
                              lora_targets="all-linear")
        assert (row["trainable_params"], row["params"], row["peak_bytes"]) == (m.trainable_params, m.params, m.peak_bytes)
        assert row["trainable_params"] < row["params"] // 10


@pytest.mark.parametrize(
    "extra, says",
    [
        (["--lora-rank", "8", "--lora-targets", "q_projj"], "'q_projj' is not a linear module"),
        (["--lora-targets", "q_proj"], "need --lora-rank"),
        (["--lora-rank", "8", "--lora-targets", "c_attn"], "none of the target modules"),
        (["--quantize", "nf4"], "training needs LoRA adapters"),
        (["--quantize", "mxfp4", "--lora-rank", "8"], "mxfp4 converts gpt-oss's experts alone"),
    ],
)
def test_bad_settings_are_one_clear_line(extra, says):
    result = runner.invoke(app, ["memory", LLAMA, "--mode", "train", "--batch", "1", "--seq", "16", *extra])
    assert result.exit_code == 2, result.output
    assert says in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_keras_models_refuse_lora():
    result = runner.invoke(app, ["memory", str(EXAMPLES / "mlp_keras.json"), "--mode", "train", "--batch", "4",
                                 "--lora-rank", "4"])
    assert result.exit_code == 2, result.output
    assert "transformers configs only" in result.stderr


def test_unknown_quant_method_is_named():
    config = dict(LORA[4]["config"], quantization_config={"quant_method": "hqq"})
    with pytest.raises(archbudget.ArchBudgetError, match="quant_method 'hqq'"):
        archbudget.memory(config, mode="infer", batch=1, seq=8)


def test_default_targets_are_peft_s_for_the_type():
    # peft's TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING: c_attn for gpt2
    case = next(c for c in LORA if c["name"] == "gpt2-c_attn-r4")
    run = dict(lora_run(case), lora_targets=None)
    assert archbudget.memory(case["config"], **run).trainable_params == case["trainable_params"]
    phi3 = {"model_type": "phi3"}
    with pytest.raises(archbudget.ArchBudgetError, match="no default target modules for phi3"):
        archbudget.memory(phi3, mode="train", batch=1, seq=8, lora_rank=8)


def test_sweep_of_other_families_refuses_lora():
    space = {"family": "mlp", "fixed": {"input_dim": 8, "depth": 1, "width": 8, "classes": 2}, "run": {"batch": 1}}
    with pytest.raises(archbudget.ArchBudgetError, match="hf family only"):
        archbudget.sweep(space, lora_rank=4)
    hf = {"family": "hf", "fixed": {"model_type": "llama"}, "run": {"seq": 8, "lora_targets": "q_proj"}}
    with pytest.raises(archbudget.ArchBudgetError, match="need lora_rank"):
        archbudget.sweep(hf)


GPT_OSS = {r["name"]: r["config"] for r in json.loads((DATA / "hf_moe.json").read_text())["rows"]
           if r["model_type"] == "gpt_oss"}
GPT_OSS_20B = GPT_OSS["gpt-oss-20b"]
MXFP4_CONFIG = {"quant_method": "mxfp4", "modules_to_not_convert": ["model.layers.*.self_attn", "lm_head"]}


def test_mxfp4_from_the_config_stores_only_the_experts_packed():
    """gpt-oss ships MXFP4 experts: each expert weight is half a byte plus a scale byte per
    32 (tests/data/mxfp4.json, from transformers' Mxfp4GptOssExperts), the rest bf16."""
    # the tiny config's tensors are whole allocator blocks (512 bytes), so bytes add up
    config = GPT_OSS["gpt_oss-tiny"]
    run = dict(mode="infer", batch=1, seq=16, precision="bf16")
    shipped = archbudget.memory(dict(config, quantization_config=MXFP4_CONFIG), **run)
    bf16 = archbudget.memory(config, **run)
    asked = archbudget.memory(config, quantize="mxfp4", **run)
    assert shipped.peak_bytes == asked.peak_bytes
    layers, experts = config["num_hidden_layers"], config["num_local_experts"]
    hidden, inter = config["hidden_size"], config["intermediate_size"]
    expert_weights = layers * experts * 3 * hidden * inter
    bias = layers * experts * (2 * inter + hidden)
    # bf16 (2 bytes a weight) → 1/2 + 1/32; biases bf16 → fp32
    saved = expert_weights * 2 - expert_weights // 2 - expert_weights // 32 - bias * 2
    assert bf16.breakdown["weights"] - shipped.breakdown["weights"] == saved
    assert shipped.params == bf16.params


def test_mxfp4_checkpoints_train_dequantized_and_dequantize_flag_is_read():
    run = dict(mode="train", batch=1, seq=64, precision="bf16")
    shipped = archbudget.memory(dict(GPT_OSS_20B, quantization_config=MXFP4_CONFIG), **run)
    assert shipped.peak_bytes == archbudget.memory(GPT_OSS_20B, **run).peak_bytes
    infer = dict(mode="infer", batch=1, seq=64, precision="bf16")
    dequantized = dict(MXFP4_CONFIG, dequantize=True)
    assert (archbudget.memory(dict(GPT_OSS_20B, quantization_config=dequantized), **infer).peak_bytes
            == archbudget.memory(GPT_OSS_20B, **infer).peak_bytes)
    with pytest.raises(archbudget.ArchBudgetError, match="MXFP4 weights cannot be trained"):
        archbudget.memory(GPT_OSS_20B, quantize="mxfp4", **run)
