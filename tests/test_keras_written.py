"""Keras models as people write them (tests/data/make_keras_written.py, real Keras 3):
keras-io custom layers read from their `.keras` archives, declared custom layers
(`--custom-layers`, `archbudget.register_layer`), Lambda, keras.ops nodes, preprocessing
layers and a functional Model subclass, against Keras's own model.summary()."""
import gzip
import json
import subprocess
import sys

import pytest

import archbudget
from conftest import DATA
from test_summary import oracle_shape

WRITTEN = DATA / "keras_written"
DECLARED = WRITTEN / "custom_layers.toml"
with gzip.open(DATA / "keras_models_written.json.gz", "rt") as f:
    MODELS = json.load(f)["models"]
IDS = [m["name"] for m in MODELS]


def keras_rows(model):
    return [{**row, "output_shape": oracle_shape(row["output_shape"])} for row in model["layers"]]


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_archive_totals_equal_keras(model):
    s = archbudget.summary(WRITTEN / f"{model['name']}.keras")
    assert (s.total_params, s.trainable_params, s.non_trainable_params) == (
        model["total_params"], model["trainable_params"], model["non_trainable_params"])
    rows = s.to_dict()["layers"]
    # A custom layer that is a model output (nothing recorded its shape) shows None.
    unknown = [r for r, want in zip(rows, keras_rows(model)) if r != want]
    assert all(r["output_shape"] is None for r in unknown)
    assert [r for r in rows if r not in unknown] == [w for r, w in zip(rows, keras_rows(model)) if r not in unknown]


def test_archives_rows_exact_share():
    rows = exact = 0
    for model in MODELS:
        got = archbudget.summary(WRITTEN / f"{model['name']}.keras").to_dict()["layers"]
        want = keras_rows(model)
        rows += len(want)
        exact += sum(g == w for g, w in zip(got, want))
    assert (exact, rows) == (120, 123)


def cli(*args):
    return subprocess.run([sys.executable, "-m", "archbudget", *args], capture_output=True, text=True)


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_json_with_declared_custom_layers_equals_keras(model, tmp_path):
    path = tmp_path / f"{model['name']}.json"
    path.write_text(json.dumps(model["model_json"]))
    run = cli("summary", str(path), "--custom-layers", str(DECLARED), "--format", "json")
    assert run.returncode == 0, run.stderr
    s = json.loads(run.stdout)
    assert (s["total_params"], s["trainable_params"], s["non_trainable_params"]) == (
        model["total_params"], model["trainable_params"], model["non_trainable_params"])
    assert s["layers"] == keras_rows(model)


def test_json_alone_names_the_custom_layer_and_how_to_count_it(tmp_path):
    model = next(m for m in MODELS if m["name"] == "vector_quantizer")
    path = tmp_path / "vq.json"
    path.write_text(json.dumps(model["model_json"]))
    run = cli("summary", str(path))
    # Every other row is shown, the custom layer's count as `?` (totals: lower bounds).
    assert run.returncode == 2 and "vector_quantizer (VectorQuantizer)" in run.stdout
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in run.stderr
    for part in ("layer 'vector_quantizer'", "'VectorQuantizer'", ".keras archive", "--custom-layers"):
        assert part in lines[0]


def test_memory_gives_a_figure_for_every_archive():
    """With the declarations for the shapes of custom layers that are model outputs."""
    figures = {}
    for model in MODELS:
        run = cli("memory", str(WRITTEN / f"{model['name']}.keras"), "--mode", "train", "--batch", "8",
                  "--seq", "16", "--custom-layers", str(DECLARED), "--format", "json")
        assert run.returncode == 0, (model["name"], run.stderr)
        figures[model["name"]] = json.loads(run.stdout)["peak_bytes"]
    assert len(figures) == len(MODELS) and all(v > 0 for v in figures.values())


def test_register_layer_counts_a_declared_class():
    model = {"class_name": "Sequential", "config": {"name": "m", "layers": [
        {"class_name": "InputLayer", "config": {"name": "in", "batch_shape": [None, 5, 7]}},
        {"class_name": "RegisteredScale", "config": {"name": "scale", "heads": 3},
         "registered_name": "my>RegisteredScale"},
        {"class_name": "Dense", "config": {"name": "d", "units": 2}}]}}
    archbudget.register_layer("RegisteredScale", weights={"gamma": ["heads", "last"], "steps": []},
                              output=["in1", "last * heads"], non_trainable=["steps"])
    s = archbudget.summary(model)
    rows = s.to_dict()["layers"]
    assert rows[0] == {"name": "scale", "class_name": "RegisteredScale", "output_shape": [None, 5, 21],
                       "params": 22, "trainable": 21, "non_trainable": 1}
    assert s.total_params == 22 + 21 * 2 + 2


def test_bad_declaration_is_one_clear_error(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[Foo]\nweights = { w = ["units +"] }\n')
    run = cli("summary", str(WRITTEN / "conv_bn.keras"), "--custom-layers", str(bad))
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "bad.toml" in run.stderr and "Foo" in run.stderr
