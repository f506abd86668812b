"""KerasHub models saved by keras-hub 0.32 with `model.save(path)`
(tests/data/make_keras_hub_archives.py, and EdRec by make_keras_hub_text2.py). EdRec, which
no reader knows, is counted from the archive's model.weights.h5 through the API and the CLI,
totals and each top-level layer equal to Keras's `count_params()`; the notes say what is
unknown; `memory` refuses in one line; the JSON alone names the class and the archive route.
Qwen3.5 (a CausalLM, and one with its backbone frozen) and RWKV-7 are read from the
archive's config: the same totals, every row of `model.summary()`, and memory.
"""
import json
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

import archbudget
from archbudget.cli import app

DATA = Path(__file__).parent / "data"
EXPECTED = {**json.loads((DATA / "keras_hub_archives.json").read_text())["models"],
            **json.loads((DATA / "keras_hub_archives_text2.json").read_text())["models"]}
runner = CliRunner()


def archive(name):
    return DATA / "keras_hub_archives" / f"{name}.keras"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_summary_equals_keras(name):
    want = EXPECTED[name]
    s = archbudget.summary(archive(name))
    assert (s.total_params, s.trainable_params, s.non_trainable_params) == (
        want["total_params"], want["trainable_params"], want["non_trainable_params"])
    # read from its config: every row, with its output shape
    from_config = name.startswith(("qwen3_5", "rwkv7"))
    # from the weights file, a layer whose weights an earlier layer saved (a tied LM head)
    # has no row
    keras_rows = [(r["name"], r["params"], r["trainable"], r["non_trainable"])
                  for r in want["layers"] if from_config or not r["shared"]]
    assert s.layers.select("name", "params", "trainable", "non_trainable").rows() == keras_rows
    if from_config and name.startswith("rwkv7"):
        # its blocks return two tensors (no single shape, as Keras shows them)
        assert not s.notes
        m = archbudget.memory(archive(name), mode="train", batch=2, seq=8)
        assert m.params == want["total_params"]
        return
    if from_config:
        assert s.layers["output_shape"].null_count() == 0 and not s.notes
        assert archbudget.memory(archive(name), mode="train", batch=2, seq=8).peak_bytes > 0
        return
    assert s.layers["output_shape"].null_count() == s.layers.height
    assert s.notes and "model.weights.h5" in s.notes[0]


def test_cli_table_and_json_say_what_is_unknown():
    out = runner.invoke(app, ["summary", str(archive("edrec_backbone"))])
    assert out.exit_code == 0, out.output
    assert f"{EXPECTED['edrec_backbone']['total_params']:,}" in out.stdout
    assert "Note: KerasHub EdRecBackbone counted from the .keras archive" in out.stdout
    out = runner.invoke(app, ["summary", str(archive("edrec_backbone")), "--format", "json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["total_params"] == EXPECTED["edrec_backbone"]["total_params"]
    assert "output shapes are unknown" in doc["notes"][0]


def one_line_error(args):
    out = runner.invoke(app, args)
    assert out.exit_code == 2, out.output
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.output, out.stderr
    return lines[0]


def test_memory_refuses_in_one_line():
    msg = one_line_error(["memory", str(archive("edrec_backbone")), "--mode", "train",
                          "--batch", "2", "--seq", "8"])
    assert "EdRecBackbone" in msg and "model.weights.h5" in msg and "summary" in msg
    with pytest.raises(archbudget.ArchBudgetError, match="EdRecBackbone"):
        archbudget.memory(archive("edrec_backbone"), mode="infer", batch=1, seq=8)


def test_json_alone_names_the_class_and_the_archive_route(tmp_path):
    config = zipfile.ZipFile(archive("edrec_backbone")).read("config.json")
    path = tmp_path / "edrec.json"
    path.write_bytes(config)
    msg = one_line_error(["summary", str(path)])
    assert "edrec.json" in msg and "'EdRecBackbone'" in msg
    assert "supported: GPT2" in msg and ".keras archive" in msg
