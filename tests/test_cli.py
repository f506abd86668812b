"""The `archbudget` command through typer's CliRunner: tables, JSON, exit codes."""
import json

from typer.testing import CliRunner

import archbudget

from archbudget.cli import app
from conftest import EXAMPLES

runner = CliRunner()
RESNET = str(EXAMPLES / "resnet50.json")


def test_summary_table_matches_golden(golden):
    result = runner.invoke(app, ["summary", RESNET])
    assert result.exit_code == 0, result.output
    assert " Total params: 25,636,712 (97.80 MB)" in result.output
    assert " Trainable params: 25,583,592 (97.59 MB)" in result.output
    assert " Non-trainable params: 53,120 (207.50 KB)" in result.output
    golden("resnet50_summary.txt", result.output)


def test_summary_json_follows_spec():
    result = runner.invoke(app, ["summary", RESNET, "--format", "json"])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert set(doc) == {"name", "format", "total_params", "trainable_params", "non_trainable_params", "active_params", "layers"}
    assert (doc["name"], doc["format"], doc["total_params"]) == ("resnet50", "keras", 25_636_712)
    assert doc["layers"][0] == {
        "name": "input_layer",
        "class_name": "InputLayer",
        "output_shape": [None, 224, 224, 3],
        "params": 0,
        "trainable": 0,
        "non_trainable": 0,
    }


def test_explain_shows_formulas():
    result = runner.invoke(app, ["summary", RESNET, "--explain", "--format", "json"])
    rows = {r["name"]: r["explain"] for r in json.loads(result.stdout)["layers"]}
    assert rows["conv1_conv"] == "Conv2D: 7 kh × 7 kw × 3 in_channels × 64 filters + 64 biases = 9472"
    assert rows["conv1_bn"] == (
        "BatchNormalization: 64 channels + 64 channels + 64 channels (non-trainable)"
        " + 64 channels (non-trainable) = 256"
    )


def test_explain_counts_one_in_the_singular():
    model = {"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "InputLayer", "config": {"name": "in", "batch_shape": [None, 8]}},
        {"class_name": "Dense", "config": {"name": "out", "units": 1}}]}}
    result = runner.invoke(app, ["summary", "-", "--explain", "--format", "json"], input=json.dumps(model))
    rows = {r["name"]: r["explain"] for r in json.loads(result.stdout)["layers"]}
    assert rows["out"] == "Dense: 8 inputs × 1 unit + 1 bias = 9"


def test_stdin():
    result = runner.invoke(app, ["summary", "-", "--format", "json"], input=(EXAMPLES / "resnet50.json").read_text())
    assert result.exit_code == 0
    assert json.loads(result.stdout)["total_params"] == 25_636_712


def run_bad(text: str) -> tuple[int, str]:
    result = runner.invoke(app, ["summary", "-"], input=text)
    return result.exit_code, result.stderr


def test_malformed_json_exits_2_with_one_line():
    code, err = run_bad('{"class_name": "Sequential", ')
    assert code == 2
    assert err.count("\n") == 1 and "<stdin>: malformed JSON" in err
    assert "Traceback" not in err


def test_unknown_layer_names_layer_and_class():
    model = {
        "class_name": "Sequential",
        "config": {
            "name": "s",
            "layers": [
                {"class_name": "InputLayer", "config": {"name": "in", "batch_shape": [None, 4]}},
                {"class_name": "FancyDense", "config": {"name": "mystery", "units": 3}},
            ],
        },
    }
    code, err = run_bad(json.dumps(model))
    assert code == 2
    assert "layer 'mystery'" in err and "unknown layer class 'FancyDense'" in err and "Dense" in err
    assert err.count("\n") == 1


def test_missing_units_names_key():
    model = {
        "class_name": "Sequential",
        "config": {
            "name": "s",
            "layers": [
                {"class_name": "InputLayer", "config": {"name": "in", "batch_shape": [None, 4]}},
                {"class_name": "Dense", "config": {"name": "head", "units": -3}},
            ],
        },
    }
    code, err = run_bad(json.dumps(model))
    assert code == 2
    assert "layer 'head'" in err and "'units' must be a positive integer, got -3" in err


def test_missing_file():
    result = runner.invoke(app, ["summary", "no/such/model.json"])
    assert result.exit_code == 2
    assert "no/such/model.json: cannot read" in result.stderr


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"archbudget {archbudget.__version__}"


# ------------------------------------------------------------------ papercuts

def test_sweep_reads_a_space_from_stdin():
    text = (EXAMPLES / "llama_space.toml").read_text()
    result = runner.invoke(app, ["sweep", "-", "--count", "--format", "json"], input=text)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["satisfying_constraints"] == archbudget.api.search_space(EXAMPLES / "llama_space.toml").count()["satisfying_constraints"]


def test_count_speaks_of_shards_only_with_a_shard():
    space = str(EXAMPLES / "llama_space.toml")
    plain = runner.invoke(app, ["sweep", space, "--count"]).stdout
    assert "shard" not in plain and "960 candidates; 720 satisfy the constraints" in plain, plain
    sharded = runner.invoke(app, ["sweep", space, "--count", "--shard", "0/2"]).stdout
    assert "480 in this shard" in sharded


def test_top_k_shows_all_k_rows():
    result = runner.invoke(app, ["sweep", str(EXAMPLES / "mlp_space.toml"), "--max-params", "1M", "--sort", "params", "--top", "100"])
    assert result.exit_code == 0
    rows = [line for line in result.stdout.splitlines() if line.strip() and line.split()[0].isdigit()]
    assert len(rows) == 100 and "more rows" not in result.stdout


def test_a_plain_sweep_shows_its_first_rows_and_counts_the_rest():
    result = runner.invoke(app, ["sweep", str(EXAMPLES / "mlp_space.toml")])
    assert result.exit_code == 0
    rows = [line for line in result.stdout.splitlines() if line.strip() and line.split()[0].isdigit()]
    assert len(rows) == 50
    assert "... 25,599,950 more rows (use --top, --output or --format json)" in result.stdout


def test_help_shows_no_type_on_flags():
    for command in ("sweep", "summary", "memory"):
        result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0 and "<bool>" not in result.stdout, result.stdout
    assert "--install-completion" in runner.invoke(app, ["--help"], env={"COLUMNS": "200"}).stdout


def test_a_closed_pipe_ends_quietly():
    """`... --format json | head -1`: the reader stops early; the exit status is 141, as
    for a process killed by SIGPIPE, and nothing is printed."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "archbudget", "sweep", str(EXAMPLES / "mlp_space.toml"), "--format", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 141, err
    assert err == b""
