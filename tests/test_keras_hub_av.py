"""KerasHub Moonshine through the Python API and the CLI (tests/data/keras_hub_text2.json.gz,
built by keras-hub 0.32): `memory` runs it as its transformers `moonshine` twin
(tests/data/hf_moonshine.json, transformers 5.24), so the backbone's report equals the
twin config's and its parameters are transformers' count of that twin."""
import json

from typer.testing import CliRunner

import archbudget
from archbudget.cli import app
from conftest import DATA, load_keras_hub

BY_NAME = {m["name"]: m for m in load_keras_hub("keras_hub_text2.json.gz")["models"]}
TWINS = {t["name"]: t for t in json.loads((DATA / "hf_moonshine.json").read_text())["keras_hub_twins"]}
runner = CliRunner()


def test_backbone_reports_as_its_transformers_twin():
    for name, twin in TWINS.items():
        ours = archbudget.memory(BY_NAME[name]["model_json"], mode="train", batch=2, seq=16)
        theirs = archbudget.memory(twin["config"], mode="train", batch=2, seq=16, head="base")
        assert (ours.peak_bytes, ours.breakdown) == (theirs.peak_bytes, theirs.breakdown), name
        assert ours.params == twin["params"], name


def test_cli_memory_of_the_audio_to_text_model(tmp_path):
    m = BY_NAME["Moonshine_optionsAudioToText"]
    path = tmp_path / "moonshine.json"
    path.write_text(json.dumps(m["model_json"]))
    out = runner.invoke(app, ["memory", str(path), "--mode", "train", "--batch", "2", "--seq", "8",
                              "--format", "json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["params"] == m["trainable_params"] and doc["peak_bytes"] > doc["breakdown"]["weights"]
