"""Planning on a GPU: the catalog, the budget, `fit`, and what `memory` and `sweep` add
with --gpu. Every peak `fit` reports is checked against `memory` of the same settings."""
import json

import polars as pl
import pytest
from typer.testing import CliRunner

import archbudget
from archbudget.cli import app
from archbudget.errors import DoesNotFitError, InvalidValueError
from conftest import EXAMPLES

runner = CliRunner()
LLAMA = str(EXAMPLES / "llama-3-8b.json")
MLP = str(EXAMPLES / "mlp_keras.json")
SPEC_GPU_KEYS = ["name", "memory_bytes", "bf16_tflops", "fp16_tflops", "fp8_tflops", "fp32_tflops", "bandwidth_bytes_per_s", "source"]
SPEC_FIT_KEYS = {"vary", "value", "peak_bytes", "budget_bytes", "next_peak_bytes"}
ISSUE_CARDS = ["H100 SXM", "H100 PCIe", "H100 NVL", "H200", "B200", "A100 80GB", "A100 40GB", "L4", "L40S", "A10G", "A10",
               "T4", "V100 16GB", "V100 32GB", "RTX 3090", "RTX 4090", "RTX 5090", "RTX A6000", "RTX 6000 Ada", "MI300X",
               "MI325X"]


def cli_json(*args: str) -> dict:
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def peak(*args: str) -> int:
    return cli_json("memory", *args)["peak_bytes"]


def test_gpus_json_follows_spec_and_every_entry_has_a_source():
    rows = cli_json("gpus")
    assert [r["name"] for r in rows] == ISSUE_CARDS
    for r in rows:
        assert list(r) == SPEC_GPU_KEYS
        assert isinstance(r["memory_bytes"], int) and r["memory_bytes"] > 10**10
        assert r["bandwidth_bytes_per_s"] > 10**11
        assert isinstance(r["source"], str) and "memory:" in r["source"] and len(r["source"]) > 80
        for key in ("bf16_tflops", "fp16_tflops", "fp8_tflops", "fp32_tflops"):
            assert r[key] is None or r[key] > 0
    by_name = {r["name"]: r for r in rows}
    # figures the cards lack are null: no fp8 before Ada/Hopper, no bf16 on Turing/Volta
    assert by_name["A100 80GB"]["fp8_tflops"] is None
    assert by_name["T4"]["bf16_tflops"] is None and by_name["V100 32GB"]["bf16_tflops"] is None
    # CUDA's total, not the marketing GB: an "80GB" H100 reports less than 80 GiB
    assert 80 * 10**9 < by_name["H100 SXM"]["memory_bytes"] < 80 * 2**30


def test_gpus_frame_equals_the_json():
    frame = archbudget.gpus()
    assert frame.columns == SPEC_GPU_KEYS
    assert frame.to_dicts() == cli_json("gpus")
    assert frame.schema["memory_bytes"] == pl.UInt64


def test_gpus_table_matches_golden(golden):
    result = runner.invoke(app, ["gpus"])
    assert result.exit_code == 0, result.output
    golden("gpus.txt", result.output)


@pytest.mark.parametrize("name", ["h100-sxm", "H100 SXM", "h100_sxm", "H100", "h100sxm"])
def test_gpu_names_match_loosely(name):
    assert archbudget.gpu_budget_bytes(name) == archbudget.gpu_budget_bytes("H100 SXM")


@pytest.mark.parametrize(("name", "expected"), [("h1000", "H100 SXM"), ("a100-8gb", "A100 80GB"), ("rtx", "ambiguous")])
def test_unknown_or_ambiguous_gpu_is_one_line_with_close_matches(name, expected):
    for command in (["memory", LLAMA, "--mode", "train", "--batch", "1", "--seq", "8"], ["fit", LLAMA, "--mode", "train", "--seq", "8"]):
        result = runner.invoke(app, [*command, "--gpu", name])
        assert result.exit_code == 2
        assert result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "--gpu" in lines[0] and expected in lines[0], lines


def test_headroom_is_a_share_or_a_size():
    full = archbudget.gpu_budget_bytes("h100", 0)
    assert full - archbudget.gpu_budget_bytes("h100", "2GiB") == 2 * 2**30
    assert archbudget.gpu_budget_bytes("h100", "5%") == archbudget.gpu_budget_bytes("h100", 0.05)
    assert archbudget.gpu_budget_bytes("h100") == archbudget.gpu_budget_bytes("h100", 0.05)
    memory_bytes = {r["name"]: r["memory_bytes"] for r in archbudget.gpus().to_dicts()}["H100 SXM"]
    assert full - archbudget.gpu_budget_bytes("h100", 0.05) == memory_bytes - int(memory_bytes * 0.95)
    for bad in ("150%", "1.5", "lots"):
        with pytest.raises(InvalidValueError, match="headroom"):
            archbudget.gpu_budget_bytes("h100", bad)


def test_fit_batch_crosses_the_budget_and_equals_memory():
    run = ["--seq", "4096", "--precision", "bf16", "--grad-ckpt"]
    doc = cli_json("fit", LLAMA, "--gpu", "h200", "--mode", "train", *run)
    assert set(doc) == SPEC_FIT_KEYS and doc["vary"] == "batch"
    assert doc["budget_bytes"] == archbudget.gpu_budget_bytes("h200")
    b = doc["value"]
    assert doc["peak_bytes"] == peak(LLAMA, "--mode", "train", "--batch", str(b), *run)
    assert doc["next_peak_bytes"] == peak(LLAMA, "--mode", "train", "--batch", str(b + 1), *run)
    assert doc["peak_bytes"] <= doc["budget_bytes"] < doc["next_peak_bytes"]


def test_fit_table_prints_the_peak_and_the_overflow():
    result = runner.invoke(app, ["fit", LLAMA, "--gpu", "h200", "--mode", "train", "--seq", "4096", "--precision", "bf16", "--grad-ckpt"])
    assert result.exit_code == 0, result.output
    doc = cli_json("fit", LLAMA, "--gpu", "h200", "--mode", "train", "--seq", "4096", "--precision", "bf16", "--grad-ckpt")
    b = doc["value"]
    assert f"Largest batch that fits H200: {b}" in result.output
    assert f"peak at {b}:" in result.output and f"peak at {b + 1}:" in result.output and "over by" in result.output


def test_fit_seq_new_tokens_and_gpus_cross_the_budget():
    seq = cli_json("fit", LLAMA, "--max-memory", "20GiB", "--mode", "infer", "--batch", "8", "--vary", "seq", "--precision", "bf16")
    s = seq["value"]
    assert seq["budget_bytes"] == 20 * 2**30
    assert seq["peak_bytes"] == peak(LLAMA, "--mode", "infer", "--batch", "8", "--seq", str(s), "--precision", "bf16")
    assert seq["next_peak_bytes"] == peak(LLAMA, "--mode", "infer", "--batch", "8", "--seq", str(s + 1), "--precision", "bf16")
    assert seq["peak_bytes"] <= seq["budget_bytes"] < seq["next_peak_bytes"]

    gen = ["--mode", "generate", "--batch", "32", "--seq", "512", "--precision", "bf16"]
    new = cli_json("fit", LLAMA, "--gpu", "l40s", *gen, "--vary", "new-tokens")
    n = new["value"]
    assert new["peak_bytes"] == peak(LLAMA, *gen, "--new-tokens", str(n))
    assert new["next_peak_bytes"] == peak(LLAMA, *gen, "--new-tokens", str(n + 1))
    assert new["peak_bytes"] <= new["budget_bytes"] < new["next_peak_bytes"]

    train = ["--mode", "train", "--batch", "4", "--seq", "2048", "--precision", "bf16", "--grad-ckpt", "--zero-stage", "3"]
    fewest = cli_json("fit", LLAMA, "--gpu", "a100-40gb", *train, "--vary", "gpus")
    g = fewest["value"]
    assert g > 1
    assert fewest["peak_bytes"] == peak(LLAMA, *train, "--gpus", str(g))
    assert fewest["next_peak_bytes"] == peak(LLAMA, *train, "--gpus", str(g - 1))
    assert fewest["peak_bytes"] <= fewest["budget_bytes"] < fewest["next_peak_bytes"]


def test_fit_at_the_axis_limit_has_no_next_peak():
    doc = cli_json("fit", LLAMA, "--gpu", "mi325x", "--mode", "infer", "--vary", "seq", "--precision", "bf16")
    assert (doc["value"], doc["next_peak_bytes"]) == (8192, None)  # max_position_embeddings


def test_fit_when_nothing_fits_exits_3_with_one_line():
    result = runner.invoke(app, ["fit", LLAMA, "--gpu", "rtx4090", "--mode", "train", "--seq", "4096"])
    assert result.exit_code == 3
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "does not fit even at batch 1" in lines[0] and "budget" in lines[0], lines
    with pytest.raises(DoesNotFitError, match="does not fit even at batch 1"):
        archbudget.fit(LLAMA, gpu="rtx4090", mode="train", seq=4096)


@pytest.mark.parametrize(
    "args",
    [
        ["--mode", "train", "--seq", "8"],  # no budget
        ["--mode", "train", "--seq", "8", "--gpu", "h100", "--mfu", "0"],
        ["--mode", "train", "--seq", "8", "--gpu", "h100", "--headroom", "lots"],
        ["--mode", "train", "--seq", "8", "--max-memory", "1GiB", "--vary", "new-tokens"],  # needs generate
        ["--mode", "generate", "--seq", "9000", "--max-memory", "1TiB", "--vary", "new-tokens"],
    ],
)
def test_fit_bad_input_is_one_line_exit_2(args):
    result = runner.invoke(app, ["fit", LLAMA, *args])
    assert result.exit_code == 2, result.output
    assert result.stdout == "" and len(result.stderr.strip().splitlines()) == 1


def test_fit_api_returns_the_same_as_the_cli():
    f = archbudget.fit(LLAMA, gpu="h200", mode="train", seq=4096, precision="bf16", grad_ckpt=True)
    assert isinstance(f, archbudget.Fit)
    assert f.to_dict() == cli_json("fit", LLAMA, "--gpu", "h200", "--mode", "train", "--seq", "4096", "--precision", "bf16", "--grad-ckpt")
    assert f.memory.peak_bytes == f.peak_bytes and f.memory.gpu["fits"]
    both = archbudget.fit(LLAMA, gpu="h200", max_memory="100GiB", mode="train", seq=4096, precision="bf16", grad_ckpt=True)
    assert both.budget_bytes == 100 * 2**30  # the smaller budget applies
    keras = archbudget.fit(MLP, max_memory="2GiB", mode="train")
    assert keras.peak_bytes == archbudget.memory(MLP, mode="train", batch=keras.value).peak_bytes


def test_memory_with_a_gpu_adds_keys_and_keeps_the_others():
    args = ["memory", LLAMA, "--mode", "train", "--batch", "2", "--seq", "2048", "--precision", "bf16", "--grad-ckpt"]
    plain = cli_json(*args)
    doc = cli_json(*args, "--gpu", "h100", "--mfu", "0.5")
    assert {k: doc[k] for k in plain} == plain
    g = doc["gpu"]
    assert g["name"] == "H100 SXM" and g["budget_bytes"] == archbudget.gpu_budget_bytes("h100")
    assert g["margin_bytes"] == g["budget_bytes"] - doc["peak_bytes"] and g["fits"] == (g["margin_bytes"] >= 0)
    card = archbudget.gpus().filter(pl.col("name") == "H100 SXM").row(0, named=True)
    t = doc["estimates"]
    step = doc["flops_fwd_bwd"] / (card["bf16_tflops"] * 1e12 * 0.5)
    assert t["mfu"] == 0.5 and t["step_time_s"] == pytest.approx(step, rel=1e-12)
    assert t["samples_per_s"] == pytest.approx(2 / step) and t["tokens_per_s"] == pytest.approx(2 * 2048 / step)
    assert t["time_per_token_s"] is None


def test_generation_time_per_token_is_bounded_by_bandwidth():
    gen = ["memory", LLAMA, "--mode", "generate", "--batch", "1", "--seq", "128", "--new-tokens", "64", "--precision", "bf16"]
    doc = cli_json(*gen, "--gpu", "h100")
    card = archbudget.gpus().filter(pl.col("name") == "H100 SXM").row(0, named=True)
    weights = doc["breakdown"]["weights"]
    # one decoding step reads every weight: at least weights / bandwidth
    assert doc["estimates"]["time_per_token_s"] >= weights / card["bandwidth_bytes_per_s"]
    assert doc["estimates"]["time_per_token_s"] < 1.1 * weights / card["bandwidth_bytes_per_s"]
    assert doc["estimates"]["tokens_per_s"] == pytest.approx(1 / doc["estimates"]["time_per_token_s"])


def test_no_estimate_where_the_card_lacks_the_precision():
    m = archbudget.memory(LLAMA, mode="infer", batch=1, seq=16, precision="bf16", gpu="t4")
    assert m.gpu["name"] == "T4" and m.estimates is None
    result = runner.invoke(app, ["memory", LLAMA, "--mode", "infer", "--batch", "1", "--seq", "16", "--precision", "bf16", "--gpu", "t4"])
    assert "No time estimate" in result.output


def test_sweep_with_a_gpu_cuts_at_its_budget_and_adds_time_columns():
    space = str(EXAMPLES / "llama_space.toml")
    with_gpu = archbudget.sweep(space, gpu="rtx4090")
    by_budget = archbudget.sweep(space, max_memory=archbudget.gpu_budget_bytes("rtx4090"))
    times = ["step_time_s", "samples_per_s", "tokens_per_s", "time_per_token_s"]
    assert with_gpu.drop(times).equals(by_budget)
    assert with_gpu.height > 0 and with_gpu["peak_bytes"].max() <= archbudget.gpu_budget_bytes("rtx4090")
    assert with_gpu["time_per_token_s"].null_count() == with_gpu.height  # training rows
    card = archbudget.gpus().filter(pl.col("name") == "RTX 4090").row(0, named=True)
    expected = with_gpu["flops_fwd_bwd"].cast(pl.Float64) / (card["bf16_tflops"] * 1e12 * 0.4)
    assert (with_gpu["step_time_s"] / expected - 1).abs().max() < 1e-12
    tighter = archbudget.sweep(space, gpu="rtx4090", max_memory="12GiB")
    assert tighter["peak_bytes"].max() <= 12 * 2**30 < with_gpu["peak_bytes"].max()


def test_sweep_cli_takes_gpu():
    result = runner.invoke(app, ["sweep", str(EXAMPLES / "llama_space.toml"), "--gpu", "rtx4090", "--top", "3", "--sort", "params",
                                 "--descending", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 3 and all(r["step_time_s"] > 0 and r["tokens_per_s"] > 0 for r in rows)
    bad = runner.invoke(app, ["sweep", str(EXAMPLES / "llama_space.toml"), "--gpu", "h1000"])
    assert bad.exit_code == 2 and "H100 SXM" in bad.stderr


def keras_lstm(time_axis):
    """A Keras LSTM classifier whose input has `time_axis` steps (None: unknown)."""
    layers = [
        {"class_name": "InputLayer", "config": {"name": "tokens", "batch_shape": [None, time_axis, 16]}},
        {"class_name": "LSTM", "config": {"name": "lstm", "units": 32}},
        {"class_name": "Dense", "config": {"name": "head", "units": 4}},
    ]
    return {"class_name": "Sequential", "config": {"name": "lstm_net", "layers": layers}}


def test_fit_seq_of_a_keras_model_with_an_unknown_time_axis():
    model = keras_lstm(None)
    f = archbudget.fit(model, max_memory="64MiB", mode="train", vary="seq", batch=8)
    at = lambda s: archbudget.memory(model, mode="train", batch=8, seq=s).peak_bytes  # noqa: E731
    assert f.peak_bytes == at(f.value) and f.next_peak_bytes == at(f.value + 1)
    assert f.peak_bytes <= f.budget_bytes < f.next_peak_bytes
    with pytest.raises(InvalidValueError, match="sequence is fixed"):
        archbudget.fit(keras_lstm(12), max_memory="64MiB", mode="train", vary="seq")


def test_fit_gpus_without_sharding_says_so():
    result = runner.invoke(app, ["fit", LLAMA, "--gpu", "h100", "--mode", "train", "--seq", "4096", "--vary", "gpus"])
    assert result.exit_code == 3 and result.stdout == ""
    assert "try --zero-stage 3" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_fit_beyond_any_card_still_crosses_the_budget():
    # a budget far beyond any card: the search climbs near the top of its range (2^40)
    f = archbudget.fit(MLP, max_memory="10000TB", mode="train")
    assert f.peak_bytes == archbudget.memory(MLP, mode="train", batch=f.value).peak_bytes
    assert f.peak_bytes <= f.budget_bytes < f.next_peak_bytes


@pytest.mark.parametrize(("column", "descending"), [("tokens_per_s", True), ("step_time_s", False)])
def test_sweep_ranks_by_a_time_column_in_the_core(column, descending):
    space = str(EXAMPLES / "llama_space.toml")
    top = archbudget.sweep(space, gpu="rtx4090", sort=column, descending=descending, top=5)
    everything = archbudget.sweep(space, gpu="rtx4090")
    expected = everything.sort([column, "candidate"], descending=[descending, False], nulls_last=True).head(5)
    assert top.equals(expected)
    with pytest.raises(archbudget.ArchBudgetError, match="times with a GPU named"):
        archbudget.sweep(space, sort=column)
