"""Bad input of every kind through the CLI: exit status 2, one line on stderr that names
the file, layer or key and what is wrong, nothing on stdout, no traceback, no panic text
and no output file. Internal errors exit 1 and ask for a report."""
import io
import json
import os
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

import archbudget
from archbudget import api, errors
from archbudget.cli import app
from archbudget.cli import sweep as sweep_cli
from conftest import EXAMPLES

runner = CliRunner()
LEAKS = ("Traceback", "panicked", "RUST_BACKTRACE", "thread '")


def bad_input(args, *parts, input=None):
    """Run the CLI on bad input: exit 2 and one line on stderr naming `parts`."""
    result = runner.invoke(app, [str(a) for a in args], input=input)
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("archbudget: error: "), line
    for part in parts:
        assert part in line, f"{line!r} should name {part!r}"
    assert result.stdout == ""
    assert not any(leak in result.output for leak in LEAKS), result.output
    return line


def usage_error(args, *parts):
    """Usage errors typer detects: exit 2, one line naming the option or argument and
    where to find help."""
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    text = lines[0]
    assert text.startswith("archbudget: error: ") and "--help'" in text, text
    for part in parts:
        assert part in text, f"{text!r} should name {part!r}"
    assert "Traceback" not in result.output
    return text


def write(tmp_path: Path, name: str, content) -> Path:
    path = tmp_path / name
    if isinstance(content, (dict, list)):
        content = json.dumps(content)
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return path


# ------------------------------------------------------------------ models

def seq_model(input_shape, *layers):
    entries = [{"class_name": "InputLayer", "config": {"name": "input", "batch_shape": input_shape}}]
    entries += [{"class_name": c, "config": {"name": n, **cfg}} for c, n, cfg in layers]
    return {"class_name": "Sequential", "config": {"name": "seq", "layers": entries}}


def llama(**extra):
    config = {"model_type": "llama", "vocab_size": 1000, "hidden_size": 64, "intermediate_size": 128,
              "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2}
    return {**config, **extra}


def functional(layers, outputs):
    return {"class_name": "Functional", "config": {"name": "f", "layers": layers, "input_layers": [["in", 0, 0]], "output_layers": [[outputs, 0, 0]]}}


INPUT = {"class_name": "InputLayer", "name": "in", "config": {"name": "in", "batch_shape": [None, 4]}, "inbound_nodes": []}


def called(name, source, cls="Dense", **cfg):
    node = {"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": [source, 0, 0]}}], "kwargs": {}}
    return {"class_name": cls, "name": name, "config": {"name": name, "units": 2, **cfg}, "inbound_nodes": [node]}


MODELS = {
    # malformed text
    "truncated-json": ("{\"class_name\": \"Sequential\", ", ["malformed JSON", "line 1"]),
    "empty-file": ("", ["malformed JSON"]),
    "binary-garbage": (b"\x00\xff\xfe\x01garbage", ["malformed JSON"]),
    "trailing-comma": ("{\"model_type\": \"gpt2\",}", ["malformed JSON"]),
    "json-array": ([1, 2, 3], ["class_name", "model_type"]),
    "json-number": ("42", ["class_name", "model_type"]),
    "neither-format": ({"name": "x", "layers": []}, ["class_name", "model_type"]),
    "deep-nesting": ("[" * 100_000, ["recursion limit"]),
    "bad-keras-archive": (b"PK\x03\x04not really a zip", [".keras archive"]),
    # unknown names
    "unknown-layer": (seq_model([None, 4], ("Densse", "d1", {"units": 3})), ["layer 'd1'", "unknown layer class 'Densse'", "Dense"]),
    "unknown-model-type": ({"model_type": "llamma"}, ["unknown model_type 'llamma'", "llama", "gpt2"]),
    "model-type-not-string": ({"model_type": 7}, ["'model_type'", "string"]),
    "top-level-class": ({"class_name": "Dense", "config": {}}, ["'Dense'", "Sequential"]),
    # missing or non-positive dimensions, values of the wrong type
    "units-zero": (seq_model([None, 8], ("Dense", "dense", {"units": 0})), ["layer 'dense'", "'units' must be a positive integer, got 0"]),
    "units-negative": (seq_model([None, 8], ("Dense", "dense", {"units": -4})), ["layer 'dense'", "'units'", "-4"]),
    "units-string": (seq_model([None, 8], ("Dense", "dense", {"units": "64"})), ["layer 'dense'", "'units'", "\"64\""]),
    "units-fraction": (seq_model([None, 8], ("Dense", "dense", {"units": 1.5})), ["layer 'dense'", "'units'"]),
    "units-missing": (seq_model([None, 8], ("Dense", "dense", {})), ["layer 'dense'", "missing 'units'"]),
    "use-bias-string": (seq_model([None, 8], ("Dense", "dense", {"units": 2, "use_bias": "yes"})), ["'use_bias' must be true or false"]),
    "kernel-size-zero": (seq_model([None, 8, 8, 3], ("Conv2D", "conv", {"filters": 2, "kernel_size": [3, 0]})), ["layer 'conv'", "'kernel_size'"]),
    "padding-unknown": (seq_model([None, 8, 8, 3], ("Conv2D", "conv", {"filters": 2, "kernel_size": 3, "padding": "full"})), ["'padding'", "valid, same or causal"]),
    "input-shape-zero": (seq_model([None, 0], ("Dense", "dense", {"units": 2})), ["positive integers or null"]),
    "input-shape-string": (seq_model("224", ("Dense", "dense", {"units": 2})), ["must be a list"]),
    "no-input-shape": ({"class_name": "Sequential", "config": {"layers": [{"class_name": "Dense", "config": {"name": "d", "units": 2}}]}}, ["no input shape"]),
    "hidden-size-zero": (llama(hidden_size=0), ["key 'hidden_size' must be a positive integer, got 0"]),
    "hidden-size-string": (llama(hidden_size="4096"), ["key 'hidden_size'", "\"4096\""]),
    "vocab-size-float": (llama(vocab_size=1e19), ["key 'vocab_size'", "positive integer"]),
    "layers-too-many": (llama(num_hidden_layers=10**9), ["'num_hidden_layers'", "exceeds"]),
    "tie-not-bool": (llama(tie_word_embeddings="no"), ["'tie_word_embeddings' must be true or false"]),
    "heads-do-not-divide": (llama(num_attention_heads=5), ["not a multiple"]),
    # impossible shapes
    "kernel-larger-than-input": (seq_model([None, 4, 4, 3], ("Conv2D", "conv", {"filters": 2, "kernel_size": 9})), ["layer 'conv'", "kernel 9", "size 4"]),
    "conv-on-vectors": (seq_model([None, 16], ("Conv2D", "conv", {"filters": 2, "kernel_size": 3})), ["layer 'conv'", "rank 4"]),
    "reshape-mismatch": (seq_model([None, 16], ("Reshape", "r", {"target_shape": [7, 3]})), ["layer 'r'"]),
    "crop-everything": (seq_model([None, 5, 2], ("Cropping1D", "c", {"cropping": [3, 3]})), ["layer 'c'", "leaves nothing"]),
    "pool-larger-than-input": (seq_model([None, 4, 4, 3], ("MaxPooling2D", "p", {"pool_size": 8})), ["layer 'p'"]),
    "dense-on-unknown-dim": (seq_model([None, None], ("Dense", "d", {"units": 2})), ["layer 'd'", "must be known"]),
    "add-one-input": (seq_model([None, 4], ("Add", "add", {})), ["layer 'add'", "at least 2 inputs"]),
    # graphs that do not connect
    "graph-missing-layer": (functional([INPUT, called("a", "ghost")], "a"), ["'ghost'"]),
    "graph-cycle": (functional([INPUT, called("a", "b"), called("b", "a")], "a"), ["never become available"]),
    "graph-duplicate-name": (functional([INPUT, called("a", "in"), called("a", "in")], "a"), ["two layers are named 'a'"]),
    "graph-input-called": (functional([{**INPUT, "inbound_nodes": called("x", "in")["inbound_nodes"]}, called("a", "in")], "a"), ["layer 'in'", "InputLayer"]),
    # numbers that overflow
    "units-2^62": (seq_model([None, 1024], ("Dense", "dense", {"units": 2**62})), ["layer 'dense'", "overflows 64-bit integers"]),
    "embedding-huge": (seq_model([None, 8], ("Embedding", "emb", {"input_dim": 2**64 - 1, "output_dim": 2**20})), ["layer 'emb'", "overflows"]),
    "padding-huge": (seq_model([None, 8, 2], ("ZeroPadding1D", "pad", {"padding": [2**64 - 1, 1]})), ["layer 'pad'", "overflows"]),
    "upsampling-huge": (seq_model([None, 8, 2], ("UpSampling1D", "up", {"size": 2**62})), ["layer 'up'", "overflows"]),
    "vocab-2^62": (llama(vocab_size=2**62, hidden_size=4096), ["overflows 64-bit integers"]),
    "intermediate-max": (llama(intermediate_size=2**64 - 1), ["overflows"]),
    "total-overflows": (seq_model([None, 8], *[("Embedding", f"e{i}", {"input_dim": 2**31, "output_dim": 2**31}) for i in range(8)]), ["overflows"]),
    "number-beyond-u64": ("{\"model_type\": \"gpt2\", \"n_embd\": 100000000000000000000000}", ["'n_embd'"]),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_summary_of_bad_models(tmp_path, name):
    content, parts = MODELS[name]
    path = write(tmp_path, f"{name}.json", content)
    bad_input(["summary", path], str(path), *parts)


@pytest.mark.parametrize("name", ["truncated-json", "unknown-layer", "units-zero", "graph-cycle", "kernel-larger-than-input"])
def test_memory_of_bad_models(tmp_path, name):
    content, parts = MODELS[name]
    path = write(tmp_path, f"{name}.json", content)
    bad_input(["memory", path, "--mode", "train", "--batch", "2", "--seq", "8"], str(path), *parts)


@pytest.mark.parametrize("name", ["units-2^62", "vocab-2^62", "upsampling-huge"])
def test_memory_of_models_that_overflow(tmp_path, name):
    path = write(tmp_path, f"{name}.json", MODELS[name][0])
    bad_input(["memory", path, "--mode", "train", "--batch", "2", "--seq", "8"], str(path), "overflows 64-bit integers")


def test_bad_model_from_stdin():
    bad_input(["summary", "-"], "<stdin>", "malformed JSON", input="{oops")
    bad_input(["memory", "-", "--mode", "infer", "--batch", "1"], "<stdin>", "class_name", input="[]")


def test_missing_and_unreadable_files_name_the_path(tmp_path):
    missing = tmp_path / "nope.json"
    bad_input(["summary", missing], str(missing), "cannot read", "No such file")
    bad_input(["memory", missing, "--mode", "train", "--batch", "1"], str(missing), "No such file")
    bad_input(["summary", tmp_path], str(tmp_path), "cannot read")
    bad_input(["sweep", tmp_path / "nope.toml"], "nope.toml", "No such file")
    bad_input(["sweep", tmp_path], str(tmp_path), "cannot read")
    if os.geteuid() != 0:  # root reads any file
        locked = write(tmp_path, "locked.json", "{}")
        locked.chmod(0)
        bad_input(["summary", locked], str(locked), "Permission denied")


def test_keras_archive_without_config(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("metadata.json", "{}")
    path = write(tmp_path, "m.keras", buf.getvalue())
    bad_input(["summary", path], str(path), "no config.json")


def test_input_too_large(tmp_path):
    path = tmp_path / "huge.json"
    with open(path, "wb") as f:
        f.truncate((256 << 20) + 1)  # sparse: no disk is used
    bad_input(["summary", path], str(path), "larger than 256 MiB")


def test_names_with_newlines_still_give_one_line(tmp_path):
    path = write(tmp_path, "nl.json", seq_model([None, 4], ("Dense\nEvil", "d\n1", {"units": 3})))
    # An unknown class that is no typo of a known one is an undeclared custom layer: the
    # summary of the other layers is shown (none here), then one line on stderr.
    result = runner.invoke(app, ["summary", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    [line] = result.stderr.strip().splitlines()
    assert "unknown layer class 'Dense\\nEvil'" in line


def test_transformers_head_and_seq(tmp_path):
    vit = write(tmp_path, "vit.json", {"model_type": "vit"})
    bad_input(["summary", vit, "--head", "causal_lm"], str(vit), "no language-model head", "base")
    cfg = write(tmp_path, "llama.json", llama())
    bad_input(["memory", cfg, "--mode", "train", "--batch", "1"], str(cfg), "--seq")


# ------------------------------------------------------------------ run settings

def test_run_settings_that_overflow(tmp_path):
    mlp = write(tmp_path, "mlp.json", seq_model([None, 1024], ("Dense", "dense", {"units": 1024})))
    bad_input(["memory", mlp, "--mode", "train", "--batch", 2**55], f"{mlp} (batch {2**55}, seq 1)", "overflows 64-bit integers")
    bad_input(["memory", mlp, "--mode", "infer", "--batch", 2**64 - 1], "overflows")
    cfg = write(tmp_path, "llama.json", llama())
    bad_input(["memory", cfg, "--mode", "train", "--batch", 2**40, "--seq", 2**40], "overflows")
    rnn = write(tmp_path, "rnn.json", seq_model([None, None, 8], ("LSTM", "lstm", {"units": 16})))
    bad_input(["memory", rnn, "--mode", "train", "--batch", "1", "--seq", 2**64 - 1], "overflows")
    # Beyond what 64 bits can even hold: refused before the core.
    bad_input(["memory", mlp, "--mode", "train", "--batch", 2**64], "batch", "2^64")
    bad_input(["memory", mlp, "--mode", "train", "--batch", "1", "--seq", 10**30], "seq")


@pytest.mark.parametrize(
    "args, parts",
    [
        (["--mode", "training", "--batch", "1"], ["--mode", "training"]),
        (["--mode", "train", "--batch", "1", "--precision", "fp64"], ["--precision", "fp64", "fp32"]),
        (["--mode", "train", "--batch", "1", "--optimizer", "lion"], ["--optimizer", "lion"]),
        (["--mode", "train", "--batch", "1", "--attn", "flash"], ["--attn", "flash"]),
        (["--mode", "train", "--batch", "0"], ["--batch", "greater than or equal to 1"]),
        (["--mode", "train", "--batch", "-3"], ["--batch"]),
        (["--mode", "train", "--batch", "abc"], ["--batch", "integer"]),
        (["--mode", "train", "--batch", "1", "--seq", "0"], ["--seq"]),
        (["--mode", "train", "--batch", "1", "--head", "lm"], ["--head", "lm"]),
        (["--mode", "train", "--batch", "1", "--format", "xml"], ["--format", "xml"]),
        (["--batch", "1"], ["--mode"]),
        (["--mode", "train"], ["--batch"]),
        (["--mode", "train", "--batch", "1", "--bogus"], ["--bogus"]),
    ],
)
def test_memory_usage_errors(args, parts):
    usage_error(["memory", str(EXAMPLES / "mlp_keras.json"), *args], *parts)


def test_usage_errors_of_every_command():
    usage_error(["summary"], "Missing argument 'model'")
    usage_error(["summary", str(EXAMPLES / "resnet50.json"), "--explian"], "--explian")
    usage_error(["sweep"], "Missing argument 'space'")
    usage_error(["sweep", str(EXAMPLES / "mlp_space.toml"), "--top", "0"], "--top")
    usage_error(["sweep", str(EXAMPLES / "mlp_space.toml"), "--top", "many"], "--top")
    usage_error(["frobnicate"], "frobnicate")


# ------------------------------------------------------------------ spaces

MLP = 'family = "mlp"\n[fixed]\nclasses = 10\ninput_dim = 8\n[axes]\ndepth = [1, 2]\nwidth = [16, 32]\n'


def constrained(c: str) -> str:
    return f"constraints = [{json.dumps(c)}]\n{MLP}"


SPACES = {
    "malformed-toml": ('family = "mlp"\n[axes\n', ["malformed TOML", "line 2"]),
    "unquoted-string": ("family = mlp", ["malformed TOML", "line 1"]),
    "binary": ("\x00\x01family", ["malformed TOML"]),
    "unknown-family": ('family = "rnn"', ["family 'rnn'", "mlp, cnn, lstm, hf, keras"]),
    "missing-family": ("[axes]\nwidth = [1]", ["missing 'family'"]),
    "unknown-top-level": ('family = "mlp"\nfamilly = 3', ["'familly'"]),
    "axes-not-table": ('family = "mlp"\naxes = 3', ["'[axes]' must be a table"]),
    "empty-axis": ('family = "mlp"\n[axes]\nwidth = []', ["'width' has no values"]),
    "axis-scalar": ('family = "mlp"\n[axes]\nwidth = 16', ["'width' must be a list"]),
    "axis-nested-list": ('family = "mlp"\n[axes]\nwidth = [[1]]', ["'width'"]),
    "range-backwards": ('family = "mlp"\n[axes]\nwidth = {start = 10, stop = 1}', ["'width'", "below start"]),
    "range-step-zero": ('family = "mlp"\n[axes]\nwidth = {start = 1, stop = 10, step = 0}', ["'step' must be positive"]),
    "range-factor-one": ('family = "mlp"\n[axes]\nwidth = {start = 1, stop = 10, factor = 1}', ["factor > 1"]),
    "range-step-and-factor": ('family = "mlp"\n[axes]\nwidth = {start = 1, stop = 9, step = 1, factor = 2}', ["not both"]),
    "range-typo": ('family = "mlp"\n[axes]\nwidth = {start = 1, stop = 10, stpe = 1}', ["'stpe'"]),
    "range-string": ('family = "mlp"\n[axes]\nwidth = {start = "a", stop = 10}', ["'start' must be a number"]),
    "range-too-long": ('family = "mlp"\n[axes]\nwidth = {start = 1, stop = 1e12}', ["'width'", "more than 1000000"]),
    "geometric-too-long": ('family = "mlp"\n[axes]\nwidth = {start = 1e-300, stop = 1e300, factor = 1.0000001}', ["more than 1000000"]),
    "unknown-run-key": ('family = "mlp"\n[run]\nbatchsize = 3', ["'batchsize'", "batch"]),
    "unknown-param": ('family = "mlp"\n[fixed]\nwidthh = 3\n', ["'widthh'", "input_dim, depth, width, classes"]),
    "given-twice": ('family = "mlp"\n[fixed]\nwidth = 3\n[axes]\nwidth = [1]', ["'width' is given twice"]),
    "missing-param": ('family = "mlp"\n[fixed]\nclasses = 10\n', ["needs 'input_dim'"]),
    "hf-no-model-type": ('family = "hf"\n[fixed]\nvocab_size = 10', ["'model_type'"]),
    "keras-no-template": ('family = "keras"', ["'template'"]),
    "keras-unknown-layer": ('family = "keras"\ntemplate = "TEMPLATE"\n[axes]\n"dense_9.units" = [4]', ["'dense_9.units'", "dense_1"]),
    "template-for-mlp": ('family = "mlp"\ntemplate = "m.json"', ["only for the keras family"]),
    "constraints-not-list": ('family = "mlp"\nconstraints = "width > 1"', ["list of strings"]),
    "constraint-assign": (constrained("width % 2 = 0"), ["constraint 'width % 2 = 0'", "use =="]),
    "constraint-incomplete": (constrained("width > "), ["ends too early"]),
    "constraint-paren": (constrained("(width > 3"), ["missing ')'"]),
    "constraint-unknown-name": (constrained("widht > 3"), ["unknown name 'widht'"]),
    "constraint-bad-char": (constrained("width $ 3"), ["unexpected '$'"]),
    "constraint-unclosed-string": (constrained("width > 'abc"), ["unclosed string"]),
    "constraint-bad-number": (constrained("width > 1.2.3"), ["not a number"]),
    "constraint-empty": (constrained(""), ["is empty"]),
    "constraint-deep": (constrained("(" * 300 + "width" + ")" * 300), ["nests deeper than 64"]),
    "constraint-long": (constrained("width" + " + width" * 5000 + " > 0"), ["tokens, more than"]),
    "constraint-unexpected-operator": (constrained("* width > 0"), ["constraint '* width > 0': unexpected '*'"]),
    "constraint-int-beyond-64-bits": (constrained("width > 99999999999999999999"), ["beyond 64-bit integers"]),
    "huge-axis-count": ('family = "mlp"\n[axes]\nwidth = {start = 1, stop = 1e19}', ["'width' has 10000000000000000000 values"]),
    "size-overflows": (
        'family = "mlp"\n[fixed]\nclasses = 3\n[axes]\n' + "".join(f"{n} = {{start = 1, stop = 1000000}}\n" for n in ("input_dim", "depth", "width"))
        + "[run]\nbatch = {start = 1, stop = 20}\n",
        ["number of candidates", "overflows 64-bit integers"],
    ),
}


@pytest.mark.parametrize("name", list(SPACES))
def test_bad_spaces(tmp_path, name):
    text, parts = SPACES[name]
    text = text.replace("TEMPLATE", str(EXAMPLES / "mlp_keras.json"))
    path = write(tmp_path, f"{name}.toml", text)
    bad_input(["sweep", path], str(path), *parts)
    if name != "keras-no-template":
        bad_input(["sweep", path, "--count"], str(path))


def test_missing_template_names_the_template(tmp_path):
    path = write(tmp_path, "k.toml", 'family = "keras"\ntemplate = "missing.json"\n')
    bad_input(["sweep", path], "missing.json", "cannot read the template")


def test_constraints_of_the_wrong_type_fail_when_evaluated(tmp_path):
    for c, what in [("width + 1", "not a comparison"), ("width and true", "true/false operands"), ("'a' < width", "non-numbers")]:
        path = write(tmp_path, "c.toml", constrained(c))
        bad_input(["sweep", path], str(path), f"constraint '{c}'", what)
        bad_input(["sweep", path, "--count"], str(path), what)


def skipped_and_counted(args, invalid: int, *parts) -> list[dict]:
    """A sweep whose bad candidates are skipped: exit 0, the rows of the others, and the
    count of invalid ones with the first named in one line."""
    result = runner.invoke(app, [str(a) for a in args] + ["--format", "json"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert f", {invalid:,} invalid" in result.stderr, result.stderr
    first = [line for line in result.stderr.splitlines() if line.startswith("first invalid candidate: ")]
    assert len(first) == 1, result.stderr
    for part in parts:
        assert part in first[0], f"{first[0]!r} should name {part!r}"
    assert not any(leak in result.output for leak in LEAKS)
    return json.loads(result.stdout)


def test_candidates_beyond_64_bits_are_skipped_and_counted(tmp_path):
    path = write(tmp_path, "big.toml", 'family = "mlp"\n[fixed]\nclasses = 10\ninput_dim = 8\ndepth = 3\n[axes]\nwidth = [16, 4611686018427387904]\n')
    rows = skipped_and_counted(["sweep", path], 1, "candidate 1 (width=4611686018427387904)", "overflows")
    assert [r["width"] for r in rows] == [16]
    rows = skipped_and_counted(["sweep", path, "--sort", "params", "--top", "1"], 1, "overflows")
    assert [r["width"] for r in rows] == [16]


def test_an_hf_candidate_that_overflows_does_not_abort_the_sweep(tmp_path):
    path = write(tmp_path, "hf.toml", 'family = "hf"\n[fixed]\nmodel_type = "llama"\nhidden_size = 4096\nintermediate_size = 11008\n'
                 'num_hidden_layers = 2\nnum_attention_heads = 32\n[axes]\nvocab_size = [32000, 1000000000000000000]\n[run]\nseq = 16\n')
    for extra in ([], ["--max-params", "1B"]):
        rows = skipped_and_counted(["sweep", path, *extra], 1, "candidate 1 (vocab_size=1000000000000000000)", "overflows")
        assert [r["vocab_size"] for r in rows] == [32000]


@pytest.mark.parametrize(
    "constraint, why",
    [("width / 0 > 1", "division by zero"), ("width // (width - 16) > 1", "division by zero"),
     ("width % (width - 16) == 0", "modulo by zero"), ("width * 4611686018427387904 > 0", "'*' overflows 64-bit integers")],
)
def test_constraint_arithmetic_that_fails_makes_the_candidate_invalid(tmp_path, constraint, why):
    path = write(tmp_path, "c.toml", constrained(constraint))
    rows = skipped_and_counted(["sweep", path], 4 if "/ 0" in constraint or "*" in constraint else 2, f"constraint '{constraint}': {why}")
    result = runner.invoke(app, ["sweep", str(path), "--count"])
    assert result.exit_code == 0 and "cannot be evaluated" in result.stdout, result.output
    assert why in result.stderr


def test_constraint_integers_are_exact(tmp_path):
    # Floats would round 2^53 + 1 to 2^53 and find a difference of 0.
    path = write(tmp_path, "exact.toml", constrained("9007199254740993 - 9007199254740992 == 1 and width + 9007199254740993 > 9007199254741009"))
    result = runner.invoke(app, ["sweep", str(path), "--count", "--format", "json"])
    assert json.loads(result.stdout)["satisfying_constraints"] == 2, result.output
    path = write(tmp_path, "floor.toml", constrained("-7 // 2 == -4 and -7 % 2 == 1 and 7 / 2 == 3.5"))
    result = runner.invoke(app, ["sweep", str(path), "--count", "--format", "json"])
    assert json.loads(result.stdout)["satisfying_constraints"] == 4, result.output


@pytest.mark.parametrize(
    "args, parts",
    [
        (["--max-memory", "24 gigs"], ["max_memory", "'24 gigs'", "GiB"]),
        (["--max-memory", "lots"], ["max_memory", "'lots'"]),
        (["--max-memory", "1e400GiB"], ["max_memory", "beyond 64-bit"]),
        (["--max-memory", "20000000000000000000"], ["max_memory", "beyond 64-bit"]),
        (["--max-params", "3 million"], ["max_params", "'3 million'", "M"]),
        (["--max-params=-5"], ["max_params", "'-5'"]),
        (["--min-params", "1.5Q"], ["min_params", "'1.5Q'"]),
        (["--max-flops", "1e30"], ["max_flops", "beyond 64-bit"]),
        (["--shard", "3/2"], ["--shard", "3/2"]),
        (["--shard", "0/0"], ["--shard", "0/0"]),
        (["--shard", "half"], ["--shard", "'half'", "i/N"]),
        (["--shard", "1/2/3"], ["--shard"]),
        (["--sort", "parms"], ["cannot sort by 'parms'", "params"]),
        (["--top", str(2**64)], ["top", "2^64"]),
    ],
)
def test_bad_sweep_options(tmp_path, args, parts):
    path = write(tmp_path, "mlp.toml", MLP)
    bad_input(["sweep", path, *args], *parts)


def test_bad_output_paths_leave_nothing(tmp_path):
    path = write(tmp_path, "mlp.toml", MLP)
    bad_input(["sweep", path, "--output", tmp_path / "rows.xlsx"], "rows.xlsx", ".parquet")
    bad_input(["sweep", path, "--output", tmp_path / "no" / "such" / "rows.csv"], "No such file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlp.toml"]


def limited_file_size(limit: int):
    """For a child process: files beyond `limit` bytes fail with EFBIG, as on a full disk
    (Python ignores SIGXFSZ, so the write reports it)."""
    import resource

    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


@pytest.mark.parametrize("suffix", [".parquet", ".arrow", ".csv", ".ndjson", ".json"])
def test_a_full_disk_mid_stream_is_one_line_and_leaves_no_file(tmp_path, suffix):
    # 300,000 rows in chunks: the first are written, then the file may grow no more.
    path = write(tmp_path, "s.toml", 'family = "mlp"\n[fixed]\nclasses = 10\ndepth = 1\n[axes]\ninput_dim = {start = 1, stop = 300}\nwidth = {start = 1, stop = 1000}\n')
    out = tmp_path / f"rows{suffix}"
    proc = subprocess.run([sys.executable, "-m", "archbudget", "sweep", str(path), "--output", str(out)],
                          capture_output=True, text=True, timeout=300, preexec_fn=limited_file_size(256 << 10))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == f"archbudget: error: --output {out}: cannot write: File too large", proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml"]


def test_the_output_is_checked_before_the_sweep(tmp_path):
    path = write(tmp_path, "mlp.toml", MLP)
    (tmp_path / "d.parquet").mkdir()
    bad_input(["sweep", path, "--output", tmp_path / "d.parquet"], "d.parquet", "is a directory")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if not os.access(locked, os.W_OK):  # root writes anywhere
        bad_input(["sweep", path, "--output", locked / "rows.csv"], "cannot write in", "Permission denied")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.parquet", "locked", "mlp.toml"]
    assert not list((tmp_path / "d.parquet").iterdir()) and not list(locked.iterdir())
    # Checked first: a space of 2^63 candidates still fails at once.
    huge = write(tmp_path, "huge.toml", 'family = "mlp"\n[fixed]\nclasses = 3\n[axes]\ninput_dim = {start = 1, stop = 524288}\n'
                 'depth = {start = 1, stop = 16384}\nwidth = {start = 1, stop = 524288}\n[run]\nbatch = {start = 1, stop = 2048}\n')
    bad_input(["sweep", huge, "--output", tmp_path / "d.parquet"], "is a directory")


def test_a_huge_top_keeps_everything(tmp_path):
    path = write(tmp_path, "mlp.toml", MLP)
    result = runner.invoke(app, ["sweep", str(path), "--sort", "params", "--top", str(2**62), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 4


# ------------------------------------------------------------------ API and internal errors

def test_the_api_raises_archbudget_errors_with_the_same_messages(tmp_path):
    with pytest.raises(errors.UnknownLayerError, match="unknown layer class 'Densse'") as e:
        archbudget.summary(seq_model([None, 4], ("Densse", "d1", {"units": 3})))
    assert isinstance(e.value, archbudget.ArchBudgetError) and isinstance(e.value, ValueError)
    with pytest.raises(errors.OverflowError, match="overflows"):
        archbudget.summary(seq_model([None, 1024], ("Dense", "dense", {"units": 2**62})))
    with pytest.raises(errors.ParseError, match="<json>: malformed JSON"):
        archbudget.summary("{oops")
    with pytest.raises(archbudget.ArchBudgetError, match="nope.json: cannot read"):
        archbudget.summary(tmp_path / "nope.json")
    with pytest.raises(errors.InvalidValueError, match="batch"):
        archbudget.memory(EXAMPLES / "mlp_keras.json", batch=-1)
    with pytest.raises(errors.InvalidValueError, match="batch"):
        archbudget.memory(EXAMPLES / "mlp_keras.json", batch=2**64)
    with pytest.raises(errors.SpaceError, match="<dict>: family 'rnn'"):
        archbudget.sweep({"family": "rnn"})
    with pytest.raises(errors.InvalidValueError, match="max_memory"):
        archbudget.sweep(EXAMPLES / "mlp_space.toml", max_memory="24 gigs")
    with pytest.raises(errors.InvalidValueError, match="top"):
        archbudget.sweep({"family": "mlp", "fixed": {"classes": 1, "input_dim": 1, "depth": 1, "width": 1}}, top=-1)


def test_internal_errors_exit_1_and_ask_for_a_report(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise errors.InternalError("internal error: index out of bounds (please report it with the input that caused it)")

    monkeypatch.setattr(api, "summary_bytes", broken)
    result = runner.invoke(app, ["summary", str(EXAMPLES / "mlp_keras.json")])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == ["archbudget: internal error: index out of bounds (please report it with the input that caused it)"]

    def bug(*args, **kwargs):
        raise KeyError("oops")

    monkeypatch.setattr(api, "summary_bytes", bug)
    result = runner.invoke(app, ["summary", str(EXAMPLES / "mlp_keras.json")])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "internal error: KeyError" in lines[0] and "please report" in lines[0]


def test_the_real_command_prints_no_traceback_or_panic(tmp_path):
    """`python -m archbudget` in a fresh process, where a panic hook or a traceback would
    reach the terminal."""
    bad = write(tmp_path, "bad.json", seq_model([None, 1024], ("Dense", "dense", {"units": 2**62})))
    space = write(tmp_path, "bad.toml", constrained("(" * 300))
    for args in (["summary", bad], ["memory", bad, "--mode", "train", "--batch", "1"], ["sweep", space], ["sweep", space, "--max-memory", "24 gigs"]):
        proc = subprocess.run([sys.executable, "-m", "archbudget", *map(str, args)], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert proc.stdout == ""
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert not any(leak in proc.stderr for leak in LEAKS), proc.stderr


def test_a_space_file_that_is_not_text(tmp_path):
    path = tmp_path / "space.toml"
    path.write_bytes(b"\xff\xfe\x00family")
    bad_input(["sweep", str(path)], str(path), "not a TOML text file")


# ------------------------------------------------------------------ bounded input

def run_cli(args, stdin=subprocess.DEVNULL, timeout=30):
    """The CLI in a fresh process (real file descriptors, real devices)."""
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "archbudget", *map(str, args)], stdin=stdin, capture_output=True, text=True, timeout=timeout)
    return proc, time.monotonic() - started


def one_line_exit_2(proc, *parts):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("archbudget: error: "), proc.stderr
    for part in parts:
        assert part in lines[0], f"{lines[0]!r} should name {part!r}"
    assert not any(leak in proc.stderr for leak in LEAKS)


def test_devices_are_refused_at_once(tmp_path):
    proc, took = run_cli(["summary", "/dev/zero"])
    one_line_exit_2(proc, "/dev/zero", "a device")
    with open("/dev/zero", "rb") as zero:
        proc, took_stdin = run_cli(["summary", "-"], stdin=zero)
    one_line_exit_2(proc, "<stdin>", "a device")
    space = write(tmp_path, "k.toml", 'family = "keras"\ntemplate = "/dev/zero"\n')
    proc, took_template = run_cli(["sweep", space])
    one_line_exit_2(proc, "/dev/zero", "not a regular file")
    assert max(took, took_stdin, took_template) < 20  # the interpreter's start; no reading


def test_a_fifo_is_read_up_to_the_cap(tmp_path):
    fifo = tmp_path / "model.fifo"
    os.mkfifo(fifo)
    model = (EXAMPLES / "mlp_keras.json").read_bytes()

    def feed():
        with open(fifo, "wb") as f:
            f.write(model)

    writer = threading.Thread(target=feed)
    writer.start()
    proc, _ = run_cli(["summary", fifo, "--format", "json"])
    writer.join()
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["total_params"] == archbudget.summary(EXAMPLES / "mlp_keras.json").total_params
    space = write(tmp_path, "k.toml", f'family = "keras"\ntemplate = "{fifo}"\n')
    bad_input(["sweep", space], str(fifo), "not a regular file")


def test_a_pipe_beyond_the_cap_stops_at_the_cap(tmp_path):
    # The reader takes the cap and one byte more, then stops: the writer sees a closed pipe.
    proc = subprocess.Popen([sys.executable, "-m", "archbudget", "summary", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    block, sent = b" " * (1 << 20), 0
    try:
        while True:
            proc.stdin.write(block)
            sent += len(block)
    except BrokenPipeError:
        pass
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "<stdin>: input is larger than 256 MiB" in err.decode(), err
    assert sent <= archbudget._core.MAX_INPUT_BYTES + (8 << 20)


# ------------------------------------------------------------------ text as Python's json reads it

def test_bom_and_utf16_json_read_as_python_reads_them(tmp_path):
    text = (EXAMPLES / "llama-3-8b.json").read_text()
    expected = archbudget.summary(EXAMPLES / "llama-3-8b.json").total_params
    for name, data in {"bom": b"\xef\xbb\xbf" + text.encode(), "utf16": text.encode("utf-16"), "utf16le": text.encode("utf-16-le"),
                       "utf32": text.encode("utf-32")}.items():
        assert json.loads(data)["model_type"] == "llama"  # what Python's json reads
        result = runner.invoke(app, ["summary", str(write(tmp_path, f"{name}.json", data)), "--format", "json"])
        assert result.exit_code == 0, (name, result.output)
        assert json.loads(result.stdout)["total_params"] == expected


def test_nan_and_infinity_where_configs_hold_them(tmp_path):
    config = json.loads((EXAMPLES / "llama-3-8b.json").read_text())
    expected = archbudget.summary(config).total_params
    # json.dumps writes float('nan') as NaN, as transformers' to_json_string does.
    lenient = json.dumps({**config, "attention_dropout": float("nan"), "initializer_range": float("inf"), "router_aux_loss_coef": -float("inf")})
    assert "NaN" in lenient and "Infinity" in lenient
    result = runner.invoke(app, ["summary", str(write(tmp_path, "nan.json", lenient)), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["total_params"] == expected
    bad = json.dumps({**config, "hidden_size": float("inf")})
    bad_input(["summary", write(tmp_path, "inf.json", bad)], "'hidden_size'", "Infinity")


# ------------------------------------------------------------------ API arguments

@pytest.mark.parametrize("run, what", [
    ({"gpus": -1}, "gpus"), ({"new_tokens": -1}, "new_tokens"), ({"batch": True}, "batch"), ({"seq": False}, "seq"),
    ({"batch": 2.0}, "batch"), ({"zero_stage": 2**64}, "zero_stage"), ({"grad_ckpt": "yes"}, "grad_ckpt"),
])
def test_the_api_raises_archbudget_errors_for_every_bad_run_argument(run, what):
    with pytest.raises(archbudget.ArchBudgetError, match=what):
        archbudget.memory(EXAMPLES / "mlp_keras.json", **run)


def test_the_api_refuses_booleans_as_counts():
    with pytest.raises(archbudget.ArchBudgetError, match="top"):
        archbudget.sweep(EXAMPLES / "mlp_space.toml", top=True)
    with pytest.raises(archbudget.ArchBudgetError, match="max_params"):
        archbudget.sweep(EXAMPLES / "mlp_space.toml", max_params=True)
