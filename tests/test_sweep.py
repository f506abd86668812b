"""archbudget.sweep() and `archbudget sweep`: rows equal summary/memory of the same
model, columns cross without copies, files are whole or absent."""
import json
import random
import resource

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

import archbudget
from archbudget import _core, api
from archbudget.cli import app
from conftest import EXAMPLES

MLP = {
    "family": "mlp",
    "constraints": ["width >= 4 * depth"],
    "fixed": {"classes": 10},
    "axes": {"input_dim": [32, 784], "depth": {"start": 1, "stop": 6}, "width": {"start": 16, "stop": 1024, "factor": 2}},
    "run": {"batch": [64, 512], "precision": ["fp32", "amp_bf16"], "optimizer": "sgd"},
}


def keras_mlp(input_dim: int, depth: int, width: int, classes: int) -> dict:
    """The mlp family as a Keras model: Dense + ReLU blocks, then a Dense head."""
    layers = [{"class_name": "InputLayer", "config": {"name": "input", "batch_shape": [None, input_dim]}}]
    for i in range(depth):
        layers.append({"class_name": "Dense", "config": {"name": f"dense_{i}", "units": width}})
        layers.append({"class_name": "ReLU", "config": {"name": f"relu_{i}"}})
    layers.append({"class_name": "Dense", "config": {"name": "head", "units": classes}})
    return {"class_name": "Sequential", "config": {"name": "mlp", "layers": layers}}


def test_count_is_the_product_minus_constraints():
    s = api.search_space(MLP)
    assert s.size == 2 * 6 * 7 * 2 * 2
    expected = sum(1 for d in range(1, 7) for k in range(7) if (16 << k) >= 4 * d) * 2 * 2 * 2
    c = s.count()
    assert (c["candidates"], c["in_range"], c["satisfying_constraints"], c["invalid"]) == (s.size, s.size, expected, 0)
    assert archbudget.sweep(MLP).height == expected


def test_rows_equal_memory_of_the_same_model():
    frame = archbudget.sweep(MLP)
    for row in random.Random(7).sample(frame.to_dicts(), 25):
        model = keras_mlp(row["input_dim"], row["depth"], row["width"], 10)
        m = archbudget.memory(model, mode="train", batch=row["batch"], precision=row["precision"], optimizer="sgd")
        assert (row["params"], row["peak_bytes"], row["flops_fwd_bwd"]) == (m.params, m.peak_bytes, m.flops_fwd_bwd)


def test_hf_rows_equal_summary():
    space = {
        "family": "hf",
        "fixed": {"model_type": "gpt2", "vocab_size": 50257, "n_positions": 1024},
        "axes": {"n_embd": [256, 512], "n_layer": [2, 4], "n_head": [4, 8]},
        "run": {"batch": 2, "seq": 128},
    }
    for row in archbudget.sweep(space).to_dicts():
        config = {"model_type": "gpt2", "vocab_size": 50257, "n_positions": 1024, "n_embd": row["n_embd"], "n_layer": row["n_layer"], "n_head": row["n_head"]}
        assert row["params"] == archbudget.summary(config).total_params
        assert row["peak_bytes"] == archbudget.memory(config, batch=2, seq=128).peak_bytes


def test_columns_cross_without_copies():
    raw = api.search_space(MLP).sweep()
    frame = archbudget.sweep(MLP)
    assert frame.columns[:6] == ["candidate", "input_dim", "depth", "width", "batch", "precision"]
    assert {"params", "trainable_params", "peak_bytes", "flops_fwd_bwd"} <= set(frame.columns)
    assert frame["precision"].dtype == pl.Enum(["fp32", "amp_bf16"])
    series = pl.Series("params", raw["metrics"][0][1])
    assert np.shares_memory(series.to_numpy(), raw["metrics"][0][1])


def test_budgets_top_and_ranking_happen_before_python():
    frame = archbudget.sweep(MLP, max_params="100k", max_memory="64MiB", sort="peak_bytes", descending=True, top=5)
    assert frame.height == 5
    assert frame["params"].max() <= 100_000 and frame["peak_bytes"].max() <= 64 * 2**20
    assert frame["peak_bytes"].to_list() == sorted(frame["peak_bytes"].to_list(), reverse=True)
    everything = archbudget.sweep(MLP, max_params=100_000, max_memory=64 * 2**20).sort(["peak_bytes", "candidate"], descending=[True, False])
    assert frame["candidate"].to_list() == everything["candidate"].head(5).to_list()


def test_shards_merge_to_the_whole():
    whole = archbudget.sweep(MLP)
    parts = pl.concat([archbudget.sweep(MLP, shard=f"{i}/4") for i in range(4)])
    assert parts.equals(whole)


def test_pareto_front_trades_capacity_for_cost():
    front = archbudget.sweep(MLP, pareto=True)
    rows = archbudget.sweep(MLP).select("params", "peak_bytes", "flops_fwd_bwd").rows()
    for p, m, f in front.select("params", "peak_bytes", "flops_fwd_bwd").rows():
        assert not any(q >= p and n <= m and g <= f and (q, n, g) != (p, m, f) for q, n, g in rows)


def test_a_nas_loop_does_not_leak():
    def rss_mb():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    for _ in range(20):
        archbudget.sweep(MLP)
    before = rss_mb()
    for _ in range(300):
        archbudget.sweep(MLP, sort="params", top=10)
        archbudget.sweep(MLP)
    assert rss_mb() - before < 20


def test_bad_spaces_raise_with_the_place():
    with pytest.raises(archbudget.ArchBudgetError, match="constraint 'width >'"):
        archbudget.sweep({**MLP, "constraints": ["width >"]})
    with pytest.raises(archbudget.ArchBudgetError, match="'widht' is not a parameter"):
        archbudget.sweep({**MLP, "axes": {**MLP["axes"], "widht": [1]}})
    with pytest.raises(archbudget.ArchBudgetError, match="cannot sort by 'peak'"):
        archbudget.sweep(MLP, sort="peak")
    with pytest.raises(archbudget.ArchBudgetError, match="--shard"):
        archbudget.sweep(MLP, shard="4/4")
    with pytest.raises(archbudget.ArchBudgetError, match="max_memory: cannot read '24 gigs'"):
        archbudget.sweep(MLP, max_memory="24 gigs")


runner = CliRunner()


@pytest.fixture
def space_file(tmp_path):
    path = tmp_path / "space.toml"
    path.write_text(
        'family = "mlp"\n[fixed]\nclasses = 10\ninput_dim = 784\n[axes]\ndepth = [1, 2, 3]\nwidth = [64, 128, 256]\n[run]\nbatch = 128\n'
    )
    return path


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".json", ".ndjson", ".arrow"])
def test_output_files_round_trip(space_file, tmp_path, suffix):
    out = tmp_path / f"rows{suffix}"
    result = runner.invoke(app, ["sweep", str(space_file), "--output", str(out)])
    assert result.exit_code == 0, result.output
    read = {".parquet": pl.read_parquet, ".csv": pl.read_csv, ".json": pl.read_json, ".ndjson": pl.read_ndjson, ".arrow": pl.read_ipc}[suffix]
    frame = read(out)
    expected = archbudget.sweep(space_file)
    assert frame["params"].to_list() == expected["params"].to_list()
    assert frame["peak_bytes"].to_list() == expected["peak_bytes"].to_list()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_no_partial_file_on_error(space_file, tmp_path):
    out = tmp_path / "rows.parquet"
    result = runner.invoke(app, ["sweep", str(space_file), "--sort", "nope", "--output", str(out)])
    assert result.exit_code == 2 and "cannot sort by 'nope'" in result.stderr
    assert list(tmp_path.iterdir()) == [space_file]


def test_cli_count_json_and_top(space_file):
    result = runner.invoke(app, ["sweep", str(space_file), "--count", "--format", "json"])
    assert json.loads(result.stdout) == {"candidates": 9, "in_shard": 9, "satisfying_constraints": 9, "invalid": 0}
    result = runner.invoke(app, ["sweep", str(space_file), "--sort", "params", "--top", "2", "--format", "json"])
    rows = json.loads(result.stdout)
    assert [(r["depth"], r["width"]) for r in rows] == [(1, 64), (2, 64)]
    bad = runner.invoke(app, ["sweep", str(space_file), "--output", "rows.xlsx"])
    assert bad.exit_code == 2 and ".parquet" in bad.stderr


def test_example_spaces_run():
    for name in ("mlp_space.toml", "llama_space.toml", "cnn_space.toml", "keras_space.toml"):
        s = api.search_space(EXAMPLES / name)
        assert s.size > 0
    frame = archbudget.sweep(EXAMPLES / "keras_space.toml", max_params="2M", sort="peak_bytes", top=3)
    assert frame.height == 3


def test_progress_counters_cover_the_sweep():
    s = api.search_space(MLP)
    progress = _core.Progress()
    columns = s.sweep(progress=progress)
    stats = columns["stats"]
    assert progress.done == s.size == stats["candidates"]
    assert progress.survivors == s.size - stats["cut_by_constraints"] - stats["cut_by_budgets"] - stats["invalid"]
