"""KerasHub RoformerV2 and XLNet, whose `memory` lowers keras-hub's own layers (no
transformers twin): tests/data/keras_hub_roformer.json.gz, made by
tests/data/make_keras_hub_roformer.py from the real keras-hub models run on Keras's torch
backend. Through the CLI and the Python API: summary rows and totals as Keras's,
`memory`'s parameters as Keras's and its FLOPs as torch.utils.flop_counter's; what
memory cannot run is exit status 2 and one line.
"""
import json

import pytest
from typer.testing import CliRunner

import archbudget
from archbudget.cli import app
from conftest import assert_summary_equals_keras, load_keras_hub

DATA = load_keras_hub("keras_hub_roformer.json.gz")
MODELS = DATA["models"]
MEASURED = [m for m in MODELS if "flops_fwd" in m]
runner = CliRunner()


@pytest.mark.parametrize("m", MODELS, ids=[m["name"] for m in MODELS])
def test_summary_equals_keras(m):
    assert_summary_equals_keras(m)


@pytest.mark.parametrize("m", MEASURED, ids=[m["name"] for m in MEASURED])
def test_memory_cli_params_and_flops_equal_keras_on_torch(tmp_path, m):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(m["model_json"]))
    out = runner.invoke(app, ["memory", str(path), "--mode", "train", "--batch", str(DATA["batch"]),
                              "--seq", str(DATA["seq"]), "--format", "json"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout)
    assert (report["params"], report["flops_fwd"], report["flops_fwd_bwd"]) == (
        m["total_params"], m["flops_fwd"], m["flops_fwd_bwd"])


def test_every_family_and_task_gets_a_figure_in_train_and_infer():
    classes = {m["model_json"]["class_name"] for m in MODELS}
    assert classes == {"RoformerV2Backbone", "RoformerV2MaskedLM", "RoformerV2TextClassifier",
                       "XLNetBackbone"}
    for m in MODELS:
        for mode in ("train", "infer"):
            r = archbudget.memory(m["model_json"], mode=mode, batch=2, seq=32, precision="amp_bf16")
            assert r.peak_bytes > r.breakdown["weights"] > 0, (m["name"], mode)


def test_what_memory_cannot_run_is_one_line(tmp_path):
    model = json.loads(json.dumps(next(m for m in MODELS if m["name"] == "XLNet")["model_json"]))
    model["config"]["activation"] = "softplus"
    path = tmp_path / "m.json"
    path.write_text(json.dumps(model))
    out = runner.invoke(app, ["memory", str(path), "--mode", "train", "--batch", "1", "--seq", "8"])
    assert out.exit_code == 2, out.output
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.output, out.stderr
    assert "'softplus'" in lines[0] and "XLNetBackbone" in lines[0], lines[0]
    with pytest.raises(archbudget.ArchBudgetError, match="does not generate"):
        archbudget.memory(model | {"config": dict(model["config"], activation="gelu")},
                          mode="generate", batch=1, seq=8, new_tokens=2)
