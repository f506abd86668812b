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
        (["--quantize", "mxfp4", "--lora-rank", "8"], "mxfp4"),
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
