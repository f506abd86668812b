"""A held-out set of keras-io-style models (tests/data/make_keras_heldout.py, real Keras 3):
read from their `.keras` archives, compared with Keras's own counts, and lowered by
`memory`; read from their JSON alone, the undeclared custom layers are `?` rows and the
totals lower bounds."""
import gzip
import json
import subprocess
import sys

import pytest

import archbudget
from archbudget.errors import UnknownLayerError
from conftest import DATA
from test_summary import oracle_shape

HELDOUT = DATA / "keras_heldout"
with gzip.open(DATA / "keras_models_heldout.json.gz", "rt") as f:
    MODELS = json.load(f)["models"]
IDS = [m["name"] for m in MODELS]


def keras_rows(model):
    return [{**row, "output_shape": oracle_shape(row["output_shape"])} for row in model["layers"]]


def totals(model):
    return model["total_params"], model["trainable_params"], model["non_trainable_params"]


def test_the_set_spans_the_kinds_of_models():
    assert len(MODELS) >= 25


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_archive_totals_equal_keras(model):
    s = archbudget.summary(HELDOUT / f"{model['name']}.keras")
    assert (s.total_params, s.trainable_params, s.non_trainable_params) == totals(model)


def test_archive_rows_exact_share():
    rows = exact = 0
    for model in MODELS:
        got = archbudget.summary(HELDOUT / f"{model['name']}.keras").to_dict()["layers"]
        want = keras_rows(model)
        rows += len(want)
        exact += sum(g == w for g, w in zip(got, want))
    assert exact >= 0.99 * rows
    assert (exact, rows) == (403, 403)


def test_memory_gives_a_figure_for_the_archives():
    figures = {}
    for model in MODELS:
        try:
            m = archbudget.memory(HELDOUT / f"{model['name']}.keras", mode="train", batch=8, seq=32)
        except archbudget.ArchBudgetError:
            continue
        figures[model["name"]] = m.peak_bytes
    assert len(figures) >= 0.95 * len(MODELS)
    assert len(figures) == len(MODELS) and all(v > 0 for v in figures.values())


@pytest.mark.parametrize("name", ["conv_lstm_next_frame", "pointnet", "collaborative_filtering"])
def test_memory_declares_each_weight_once(name):
    """ConvLSTM2D's convolutions run at every step and Dot has no weights: the PyTorch
    equivalent's parameters are Keras's trainable ones (BatchNorm's moving statistics
    are buffers in PyTorch)."""
    model = next(m for m in MODELS if m["name"] == name)
    m = archbudget.memory(HELDOUT / f"{name}.keras", mode="train", batch=4)
    assert m.params == model["trainable_params"]


def undeclared(model):
    """Rows of custom layers: classes the example registers (its functional Model
    subclasses, whose config holds their layers, are read as models)."""
    return {e["config"]["name"] for e in model["model_json"]["config"]["layers"]
            if str(e.get("registered_name")).startswith("keras_io_heldout>") and "layers" not in e["config"]}


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_json_alone_shows_every_other_row_with_lower_bounds(model):
    unknown = undeclared(model)
    if not unknown:
        s = archbudget.summary(model["model_json"])
        assert (s.total_params, s.trainable_params, s.non_trainable_params) == totals(model)
        assert s.to_dict()["layers"] == keras_rows(model)
        return
    with pytest.raises(UnknownLayerError) as caught:
        archbudget.summary(model["model_json"])
    s = caught.value.summary
    assert set(s.undeclared) == unknown and s.lower_bound
    missing = [r for r in model["layers"] if r["name"] in unknown]
    assert s.total_params == model["total_params"] - sum(r["params"] for r in missing)
    assert s.trainable_params == model["trainable_params"] - sum(r["trainable"] for r in missing)
    rows = s.to_dict()["layers"]
    for got, want in zip(rows, keras_rows(model)):
        if want["name"] in unknown:
            assert (got["params"], got["trainable"], got["non_trainable"]) == (None, None, None)
            assert got["output_shape"] == want["output_shape"]
        else:
            assert got == want


def cli(*args):
    return subprocess.run([sys.executable, "-m", "archbudget", *args], capture_output=True, text=True)


def test_cli_marks_the_undeclared_layer_and_exits_2(tmp_path):
    model = next(m for m in MODELS if m["name"] == "grn_vsn_structured")
    path = tmp_path / "grn.json"
    path.write_text(json.dumps(model["model_json"]))
    run = cli("summary", str(path))
    assert run.returncode == 2 and "Traceback" not in run.stderr
    [line] = run.stderr.strip().splitlines()
    for part in ("layer 'glu'", "'GatedLinearUnit'", "--custom-layers", "archbudget.register_layer", "lower bounds"):
        assert part in line
    row = next(r for r in run.stdout.splitlines() if "glu (GatedLinearUnit)" in r)
    assert row.split("│")[3].strip() == "?"
    lower = model["total_params"] - next(r["params"] for r in model["layers"] if r["name"] == "glu")
    assert f"Total params: ≥ {lower:,}" in run.stdout

    run = cli("summary", str(path), "--format", "json")
    assert run.returncode == 2
    document = json.loads(run.stdout)
    assert document["lower_bound"] is True and document["total_params"] == lower
    glu = next(r for r in document["layers"] if r["name"] == "glu")
    assert glu["params"] is None


def test_declaring_the_layer_makes_the_summary_exact(tmp_path):
    model = next(m for m in MODELS if m["name"] == "grn_vsn_structured")
    path = tmp_path / "grn.json"
    path.write_text(json.dumps(model["model_json"]))
    declared = tmp_path / "glu.toml"
    declared.write_text('[GatedLinearUnit]\nweights = { linear_kernel = ["last", "units"], linear_bias = ["units"], '
                        'sigmoid_kernel = ["last", "units"], sigmoid_bias = ["units"] }\n')
    run = cli("summary", str(path), "--custom-layers", str(declared), "--format", "json")
    assert run.returncode == 0, run.stderr
    document = json.loads(run.stdout)
    assert "lower_bound" not in document
    assert (document["total_params"], document["trainable_params"], document["non_trainable_params"]) == totals(model)
    assert document["layers"] == keras_rows(model)
