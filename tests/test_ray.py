"""The Ray backend on a local Ray (2 CPUs): the same rows as the single-process sweep,
row for row, through retries; a dataset whole or absent. Skipped without Ray (the
`ray` extra; CI installs it)."""
import json
import pickle

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

import archbudget
from archbudget import api
from archbudget.cli import app
from archbudget.ray_backend import FAIL_ENV
from conftest import EXAMPLES

ray = pytest.importorskip("ray")
runner = CliRunner()

MLP = {
    "family": "mlp",
    "constraints": ["width >= 4 * depth"],
    "fixed": {"classes": 10},
    "axes": {"input_dim": [32, 784], "depth": {"start": 1, "stop": 6}, "width": {"start": 16, "stop": 1024, "factor": 2}},
    "run": {"batch": [64, 512], "precision": ["fp32", "amp_bf16"], "optimizer": ["sgd", "adamw"]},
}
HF = {
    "family": "hf",
    "constraints": ["n_embd % n_head == 0"],
    "fixed": {"model_type": "gpt2", "vocab_size": 50257, "n_positions": 1024},
    "axes": {"n_embd": [128, 256, 384, 512], "n_layer": [1, 2, 4, 6], "n_head": [4, 8, 12]},
    "run": {"batch": [1, 4], "seq": [128, 256], "precision": ["fp32", "bf16"]},
}
KERAS = EXAMPLES / "keras_space.toml"
# Decoding: its time estimates read what the memory model records of the decode, which a
# merged shard's row does not carry.
HF_GENERATE = {**HF, "run": {"mode": "generate", "batch": [1, 4], "seq": [128, 256], "new_tokens": 64, "precision": "bf16"}}


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(address="local", num_cpus=2, logging_level="ERROR", log_to_driver=False)
    yield
    ray.shutdown()


@pytest.mark.parametrize(
    "space, ranking",
    [
        (MLP, {"max_params": "2M", "max_memory": "64MiB", "sort": "peak_bytes", "top": 10}),
        (MLP, {"min_params": 50_000, "sort": "params", "descending": True, "top": 25}),
        (HF, {"pareto": True}),
        (HF, {"pareto": True, "top": 5, "sort": "flops_fwd_bwd", "max_memory": "2GiB"}),
        (KERAS, {}),
        (KERAS, {"sort": "dense.units", "descending": True}),
        (HF, {"gpu": "l4", "sort": "params", "descending": True, "top": 7}),
        (HF, {"gpu": "t4", "headroom": "1GiB"}),
        (HF_GENERATE, {"gpu": "l4", "sort": "tokens_per_s", "descending": True, "top": 7}),
    ],
    ids=[
        "mlp-budgets-top", "mlp-prerank-top", "hf-pareto", "hf-pareto-top", "keras-all", "keras-sorted",
        "hf-gpu-top", "hf-gpu-all", "hf-generate-by-time",
    ],
)
@pytest.mark.parametrize("shards", [1, 3, 8])
def test_ray_rows_equal_the_single_process_sweep(space, ranking, shards):
    local = archbudget.sweep(space, **ranking)
    on_ray = archbudget.sweep(space, **ranking, backend="ray", shards=shards)
    assert local.height > (1 if ranking.get("top") or ranking.get("pareto") else 10)
    assert_frame_equal(on_ray, local)


def test_a_task_that_fails_once_is_retried_to_the_same_rows(tmp_path, monkeypatch):
    monkeypatch.setenv(FAIL_ENV, f"1:1:{tmp_path}")
    ranking = {"max_params": "2M", "sort": "peak_bytes", "top": 10}
    on_ray = archbudget.sweep(MLP, **ranking, backend="ray", shards=4)
    assert sorted(p.name for p in (tmp_path / "shard-1").iterdir()) == ["0", "1"]  # failed, then ran again
    assert_frame_equal(on_ray, archbudget.sweep(MLP, **ranking))


def test_a_shard_that_fails_for_good_leaves_no_dataset(tmp_path, monkeypatch):
    attempts = tmp_path / "attempts"
    monkeypatch.setenv(FAIL_ENV, f"2:99:{attempts}")
    out = tmp_path / "out" / "rows.parquet"
    result = runner.invoke(app, ["sweep", str(KERAS), "--backend", "ray", "--shards", "4", "--output", str(out)])
    assert result.exit_code == 1
    message = result.stderr.strip().splitlines()
    assert len(message) == 1 and "a Ray task failed after 3 retries" in message[0] and "injected failure of shard 2" in message[0], result.stderr
    assert len(list((attempts / "shard-2").iterdir())) == 4  # the first run and 3 retries
    assert list(out.parent.iterdir()) == []  # neither the dataset nor its staging directory


def test_the_cli_writes_a_whole_dataset_with_its_settings(tmp_path):
    out = tmp_path / "rows"
    result = runner.invoke(app, ["sweep", str(KERAS), "--backend", "ray", "--shards", "3", "--max-params", "1M", "--output", str(out)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "_manifest.json").read_text())
    assert [p["file"] for p in manifest["parts"]] == [f"part-{i:05d}.parquet" for i in range(3)]
    assert sorted(p.name for p in out.iterdir()) == ["_manifest.json", "part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    local = archbudget.sweep(KERAS, max_params="1M")
    assert manifest["rows"] == local.height and manifest["stats"]["cut_by_budgets"] == 80 - local.height
    assert manifest["settings"]["max_params"] == 1_000_000 and manifest["settings"]["axes"] == api.search_space(KERAS).axis_names
    frame = pl.concat([pl.read_parquet(out / p["file"]) for p in manifest["parts"]])
    assert_frame_equal(frame, local)
    assert json.loads(pl.read_parquet_metadata(out / "part-00001.parquet")["archbudget.sweep"])["backend"] == "ray"
    # a ranked sweep: one part, the merged rows; rewriting replaces the dataset whole
    result = runner.invoke(app, ["sweep", str(KERAS), "--backend", "ray", "--pareto", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert_frame_equal(pl.read_parquet(out / "part-00000.parquet"), archbudget.sweep(KERAS, pareto=True))
    assert sorted(p.name for p in out.iterdir()) == ["_manifest.json", "part-00000.parquet"]
    assert [p.name for p in tmp_path.iterdir()] == ["rows"]


def test_cli_json_equals_the_local_cli():
    args = ["sweep", str(EXAMPLES / "llama_space.toml"), "--max-memory", "24GiB", "--sort", "params", "--descending", "--top", "10", "--format", "json"]
    local = runner.invoke(app, args)
    on_ray = runner.invoke(app, [*args, "--backend", "ray", "--shards", "5"])
    assert local.exit_code == on_ray.exit_code == 0, on_ray.output
    assert json.loads(on_ray.stdout) == json.loads(local.stdout) and len(json.loads(local.stdout)) == 10


def test_a_keras_space_pickles_without_its_template_file(tmp_path, monkeypatch):
    space = api.search_space(KERAS)
    monkeypatch.chdir(tmp_path)  # the template path no longer resolves
    copy = pickle.loads(pickle.dumps(space))
    assert (copy.size, copy.axis_names) == (space.size, space.axis_names)
    assert copy.sweep(top=5, sort="params")["index"].tolist() == space.sweep(top=5, sort="params")["index"].tolist()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--shard", "0/2"], "--shard: the ray backend splits the space itself"),
        (["--count"], "--count: counting needs no Ray"),
        (["--output", "rows.csv"], "with --backend ray the rows are a Parquet dataset"),
        (["--shards", "0"], "--shards"),
    ],
)
def test_bad_ray_options_are_one_line(args, message):
    result = runner.invoke(app, ["sweep", str(KERAS), "--backend", "ray", *args])
    assert result.exit_code == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_shards_need_the_ray_backend():
    with pytest.raises(archbudget.ArchBudgetError, match="address and shards are for backend='ray'"):
        archbudget.sweep(MLP, shards=4)
    result = runner.invoke(app, ["sweep", str(KERAS), "--shards", "4"])
    assert result.exit_code == 2 and "--address and --shards are for --backend ray" in result.stderr


def test_sweep_report_from_the_ray_dataset(tmp_path):
    out, html = tmp_path / "rows", tmp_path / "report.html"
    result = runner.invoke(app, ["sweep", str(KERAS), "--backend", "ray", "--shards", "2", "--output", str(out), "--report", str(html)])
    assert result.exit_code == 0, result.output
    local = archbudget.sweep(KERAS, pareto=True)
    assert html.read_text().count('<circle class="front"') == local.height
    assert "<th>backend</th><td>ray</td>" in html.read_text()


def test_an_unknown_backend_is_bad_input():
    with pytest.raises(archbudget.ArchBudgetError, match="backend: expected 'local' or 'ray', got 'spark'"):
        archbudget.sweep(MLP, backend="spark")


def test_ray_is_imported_only_for_the_ray_backend():
    import subprocess
    import sys

    code = "import sys, archbudget, archbudget.cli; archbudget.sweep(%r); print('ray' in sys.modules)" % str(KERAS)
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_the_progress_bar_counts_every_candidate_across_tasks(capsys):
    from archbudget.ray_backend import sweep_on_ray

    space = api.search_space(HF)
    opts = api.sweep_options(sort="params", top=10)
    frame, stats = sweep_on_ray(space, opts, shards=4, progress=True)
    assert_frame_equal(frame, archbudget.sweep(HF, sort="params", top=10))
    assert stats["candidates"] == space.size
