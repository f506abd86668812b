"""The fast start of `summary` and `memory` (cli/fast.py, cli/plain.py): it loads none of
polars, numpy, rich and typer, and prints what the typer app and rich print, byte for
byte."""
import enum
import gzip
import json
import os
import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from archbudget import api
from archbudget.cli import app, fast, output, plain
from conftest import DATA, EXAMPLES, load_keras_oracle

HEAVY = ("polars", "numpy", "rich", "typer", "click", "pydantic")
MLP = str(EXAMPLES / "mlp_keras.json")
RESNET = str(EXAMPLES / "resnet50.json")
LLAMA = str(EXAMPLES / "llama-3-8b.json")


def run_main(args: list[str], env: dict | None = None) -> subprocess.CompletedProcess:
    """`archbudget ARGS` in a fresh interpreter; its stderr ends with the heavy modules
    it loaded."""
    code = (
        "import sys\n"
        f"sys.argv = ['archbudget', *{args!r}]\n"
        "from archbudget.cli import main\n"
        "try:\n    main()\n"
        "except SystemExit as e:\n    status = e.code\n"
        f"print('loaded:', [m for m in {HEAVY!r} if m in sys.modules], file=sys.stderr)\n"
        "sys.exit(status)\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "80", **(env or {})})


@pytest.mark.parametrize("args", [
    ["summary", MLP],
    ["summary", RESNET, "--format", "json"],
    ["memory", MLP, "--mode", "train", "--batch", "32"],
    ["memory", LLAMA, "--mode", "infer", "--batch", "1", "--seq", "128", "--gpu", "h100-sxm"],
])
def test_summary_and_memory_load_no_heavy_library(args):
    proc = run_main(args)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout
    assert proc.stderr.splitlines()[-1] == "loaded: []"


def test_import_archbudget_and_summary_load_no_polars():
    code = ("import sys, archbudget\n"
            f"s = archbudget.summary({MLP!r})\n"
            "print(s.total_params, [m for m in ('polars', 'numpy') if m in sys.modules])\n"
            "s.layers\n"
            "print('polars' in sys.modules)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.stdout.splitlines() == ["537866 []", "True"], proc.stderr


def test_other_command_lines_go_to_typer():
    for args in (["summary", "--help"], ["summary"], ["summary", MLP, "--bogus"], ["summary", MLP, MLP],
                 ["summary", MLP, "--head", "nope"], ["memory", MLP, "--batch", "2"], ["memory", MLP, "--mode", "train",
                 "--batch", "0"], ["memory", MLP, "--mode", "train", "--batch", "+2"], ["summary", MLP, "--explain",
                 "--no-explain"], ["sweep", "x.toml"], ["--version"], []):
        assert fast.run(args) is None, args


# Command lines of the fast start, compared with the typer app's output.
SAME = [
    ["summary", MLP],
    ["summary", RESNET],
    ["summary", RESNET, "--format", "json"],
    ["summary", RESNET, "--explain"],
    ["summary", LLAMA],
    ["summary", LLAMA, "--head=base", "--format=json"],
    ["summary", str(EXAMPLES / "qwen3-30b-a3b.json")],
    ["summary", str(DATA / "keras" / "mlp_bn.keras")],
    ["summary", str(EXAMPLES / "no-such-model.json")],
    ["summary", str(EXAMPLES / "mlp_space.toml")],
    ["memory", MLP, "--mode", "train", "--batch", "32"],
    ["memory", MLP, "--mode", "train", "--batch", "32", "--grad-ckpt", "--optimizer", "sgd", "--precision", "bf16"],
    ["memory", RESNET, "--mode", "infer", "--batch", "8", "--format", "json"],
    ["memory", LLAMA, "--mode", "generate", "--batch", "4", "--seq", "512", "--new-tokens", "64", "--gpu", "h100-sxm",
     "--headroom", "2GiB", "--mfu", "0.5"],
    ["memory", LLAMA, "--mode", "train", "--batch", "1", "--seq", "256", "--lora-rank", "8", "--lora-targets",
     "all-linear", "--lora-dropout", "0.1", "--quantize", "nf4", "--gpus", "2", "--zero-stage", "2"],
    ["memory", LLAMA, "--mode", "train", "--batch", "1"],
]


@pytest.mark.parametrize("args", SAME, ids=[" ".join(a[:1] + [os.path.basename(a[1])] + a[2:]) for a in SAME])
def test_fast_start_prints_what_typer_prints(args, monkeypatch):
    proc = run_main(args)
    monkeypatch.setenv("COLUMNS", "80")
    result = CliRunner().invoke(app, args)
    assert proc.returncode == result.exit_code
    assert proc.stdout == result.stdout
    assert proc.stderr.splitlines()[:-1] == result.stderr.splitlines()


def typer_params(command: str) -> dict:
    """The options typer builds for a command: name -> (parameter, kind, least, most)."""
    click_command = typer.main.get_command(app).commands[command]
    found = {}
    for p in click_command.params:
        if not p.opts[0].startswith("--") or p.name == "help":
            continue
        annotation = p.type_descriptor.annotation
        if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
            kind = tuple(c.value for c in annotation)
        else:
            kind = "flag" if p.is_flag else annotation.__name__
        found[p.opts[0]] = (p.name, kind, p.min, p.max)
        for secondary in p.secondary_opts:
            found[secondary] = (p.name, "no-flag", None, None)
    return found


@pytest.mark.parametrize("command, spec, defaults, required", [
    ("summary", fast.SUMMARY, fast.SUMMARY_DEFAULTS, ()),
    ("memory", fast.MEMORY, fast.MEMORY_DEFAULTS, fast.MEMORY_REQUIRED),
])
def test_fast_options_are_typers(command, spec, defaults, required):
    assert spec == typer_params(command)
    click_command = typer.main.get_command(app).commands[command]
    for p in click_command.params:
        if p.name in ("help", "model"):
            continue
        assert p.required == (p.name in required), p.name
        if not p.required:
            default = p.default.value if hasattr(p.default, "value") else p.default
            assert defaults[p.name] == default, p.name


def rich_and_plain(monkeypatch, capsys, print_table, width: int, terminal: bool) -> tuple[str, str | None]:
    """What rich prints (plain off), and what plain prints (None: plain declined)."""
    monkeypatch.setenv("COLUMNS", str(width))
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("COLORTERM", raising=False)
    monkeypatch.setattr(plain.Output, "detect", classmethod(lambda cls: None))
    if terminal:
        monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich then styles as on a terminal
    print_table()
    by_rich = capsys.readouterr().out
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    monkeypatch.setattr(plain.Output, "detect", classmethod(lambda cls: plain.Output(width, terminal)))
    writes = []
    monkeypatch.setattr("rich.console.Console.print", lambda *a, **k: writes.append(a))
    print_table()
    by_plain = capsys.readouterr().out
    monkeypatch.undo()
    return by_rich, None if writes else by_plain


def keras_models() -> list[tuple[str, str]]:
    return [(m.get("name") or f"model{i}", json.dumps(m["model_json"])) for i, m in enumerate(load_keras_oracle())]


@pytest.mark.parametrize("width, terminal", [(80, False), (100, True), (250, False)])
def test_plain_summary_tables_are_richs(monkeypatch, capsys, width, terminal):
    """Every Keras model of the oracle and the transformers examples: where plain writes
    the table, it is rich's to the byte; and it writes most of them."""
    models = keras_models() + [(p.name, p.read_text()) for p in (EXAMPLES / "llama-3-8b.json", EXAMPLES / "qwen3-30b-a3b.json")]
    written = 0
    for name, text in models:
        s = api.summary(text)
        by_rich, by_plain = rich_and_plain(monkeypatch, capsys, lambda: output.print_summary(s), width, terminal)
        if by_plain is not None:
            assert by_plain == by_rich, name
            written += 1
    assert written >= len(models) * 0.9


@pytest.mark.parametrize("width, terminal", [(120, False), (150, True)])
def test_plain_folds_wide_summary_tables_as_rich_does(monkeypatch, capsys, width, terminal):
    """Functional models whose tables are wider than the console (the large Applications
    among them): plain narrows and folds the columns as rich does (rich took longer to
    draw NASNetLarge's table than the rest of the command to run)."""
    with gzip.open(DATA / "keras_models_extra.json.gz", "rt") as f:
        extra = [(m["name"], json.dumps(m["model_json"])) for m in json.load(f)["models"] if m.get("kind") == "application"]
    wide = 0
    for name, text in keras_models() + extra:
        s = api.summary(text)
        if not s.functional:
            continue
        columns = [[f"{r['name']} ({r['class_name']})", api.shape_text(r["output_shape"]) or "-", f"{r['params']:,}",
                    "", *r["connected_to"]] for r in s.rows]
        natural = sum(max(len(row[i]) for row in columns) for i in range(3))
        if natural + max(len(c) for row in columns for c in row[3:]) + 3 * 4 + 1 <= width:
            continue
        wide += 1
        by_rich, by_plain = rich_and_plain(monkeypatch, capsys, lambda: output.print_summary(s), width, terminal)
        assert by_plain == by_rich, name
    assert wide >= 5


@pytest.mark.parametrize("width, terminal", [(80, False), (80, True), (40, False)])
def test_plain_memory_tables_are_richs(monkeypatch, capsys, width, terminal):
    cases = [(MLP, dict(mode="train", batch=32)), (RESNET, dict(mode="infer", batch=4)),
             (LLAMA, dict(mode="generate", batch=2, seq=256, new_tokens=32, gpu="h100-sxm")),
             (LLAMA, dict(mode="train", batch=1, seq=128, lora_rank=4, gpu="rtx-4090"))]
    for path, run in cases:
        m = api.memory(path, **run)
        by_rich, by_plain = rich_and_plain(
            monkeypatch, capsys, lambda: output.print_memory(m, "setting", bool(run.get("lora_rank")), run["mode"] == "train"),
            width, terminal)
        if width >= 80 and "gpu" not in run:  # a long estimates line wraps: rich's to do
            assert by_plain is not None, path
        if by_plain is not None:
            assert by_plain == by_rich, path
