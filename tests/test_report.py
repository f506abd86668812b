"""`archbudget report` and `sweep --report`: the SVG figure marks exactly the Pareto rows
of the frame where their values put them; the HTML report renders in a real headless
Chromium without script errors and shows every front point; bad input is one line."""
import math
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

import archbudget
from archbudget.cli import app
from archbudget.dataset import write_dataset
from conftest import EXAMPLES

runner = CliRunner()
LLAMA = EXAMPLES / "llama_space.toml"
SVG = "{http://www.w3.org/2000/svg}"


def brute_force_front(frame: pl.DataFrame) -> set[int]:
    """Rows no other row beats (at least the params for no more memory and FLOPs, better
    on one); of rows equal on all three, the smallest candidate. Quadratic, on purpose."""
    p, m, f, c = (frame[k].to_numpy().astype(np.float64) for k in ("params", "peak_bytes", "flops_fwd_bwd", "candidate"))
    front = set()
    for i in range(frame.height):
        at_least = (p >= p[i]) & (m <= m[i]) & (f <= f[i])
        better = at_least & ((p > p[i]) | (m < m[i]) | (f < f[i]))
        twin = at_least & (p == p[i]) & (m == m[i]) & (f == f[i]) & (c < c[i])
        if not better.any() and not twin.any():
            front.add(int(c[i]))
    return front


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """The llama example under budgets, through the CLI, with its report and figure."""
    tmp = tmp_path_factory.mktemp("report")
    rows, html, svg = tmp / "rows.parquet", tmp / "report.html", tmp / "front.svg"
    result = runner.invoke(app, ["sweep", str(LLAMA), "--max-memory", "24GiB", "--max-params", "1.5B", "--output", str(rows), "--report", str(html)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["report", str(rows), "-o", str(tmp / "again.html"), "--figure", str(svg)])
    assert result.exit_code == 0, result.output
    return pl.read_parquet(rows), html, svg, tmp


def test_the_figure_marks_each_pareto_row_at_its_values(swept):
    frame, _, svg, _ = swept
    root = ET.parse(svg).getroot()
    marks = root.findall(f"{SVG}circle[@class='front']")
    expected = brute_force_front(frame)
    assert 10 < len(expected) < frame.height
    assert sorted(int(c.get("data-candidate")) for c in marks) == sorted(expected)
    x_lo, x_hi = map(float, root.get("data-x-log").split())
    y_lo, y_hi = map(float, root.get("data-y-log").split())
    left, top, width, height = map(float, root.get("data-plot").split())
    by_candidate = {r["candidate"]: r for r in frame.iter_rows(named=True)}
    for mark in marks:
        row = by_candidate[int(mark.get("data-candidate"))]
        assert float(mark.get("cx")) == pytest.approx(left + (math.log10(row["peak_bytes"]) - x_lo) / (x_hi - x_lo) * width, abs=0.01)
        assert float(mark.get("cy")) == pytest.approx(top + height - (math.log10(row["params"]) - y_lo) / (y_hi - y_lo) * height, abs=0.01)
        assert f"candidate: {row['candidate']}" in mark.find(f"{SVG}title").text
    budget = root.find(f"{SVG}line[@data-budget='max_memory']")
    assert float(budget.get("x1")) == pytest.approx(left + (math.log10(24 * 2**30) - x_lo) / (x_hi - x_lo) * width, abs=0.01)
    assert root.find(f"{SVG}line[@data-budget='max_params']") is not None
    assert len(root.findall(f"{SVG}circle[@class='row']")) == frame.height - len(expected)


def test_the_report_is_self_contained_and_holds_the_settings(swept):
    frame, html, _, tmp = swept
    text = html.read_text()
    assert text == (tmp / "again.html").read_text()  # the settings came back from the Parquet metadata
    assert set(re.findall(r"https?://[^\s\"'<>]+", text)) == {"http://www.w3.org/2000/svg"}  # the SVG namespace only
    assert " src=" not in text and "<link" not in text
    assert "max_memory</th><td>25769803776" in text and 'model_type = &quot;llama&quot;' in text
    bars = re.findall(r'data-axis="num_hidden_layers".*?</svg>', text, re.S)[0]
    counts = dict(frame.group_by("num_hidden_layers").len().iter_rows())
    assert {int(v): int(n) for v, n in re.findall(r'data-value="(\d+)" data-rows="(\d+)"', bars)} == counts


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Chromium (apt-get install chromium; CI installs it)")
def test_the_report_renders_in_headless_chromium(swept):
    frame, html, _, _ = swept
    dom = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=2000", "--dump-dom", html.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    body = re.search(r"<body([^>]*)>", dom).group(1)
    assert 'data-ready="yes"' in body and "data-errors" not in body, body
    front = len(brute_force_front(frame))
    assert f'data-points="{front}"' in body
    assert dom.count('class="front"') == front


def test_a_dataset_reports_like_its_rows(tmp_path):
    frame = archbudget.sweep(LLAMA, max_memory="24GiB")
    settings = {"space": str(LLAMA), "axes": list(frame.columns[1:7]), "max_memory": 24 * 2**30}
    write_dataset([frame.head(100), frame.tail(frame.height - 100)], tmp_path / "ds", settings, {})
    result = runner.invoke(app, ["report", str(tmp_path / "ds"), "-o", str(tmp_path / "r.html"), "--figure", str(tmp_path / "f.svg")])
    assert result.exit_code == 0, result.output
    marks = ET.parse(tmp_path / "f.svg").getroot().findall(f"{SVG}circle[@class='front']")
    assert sorted(int(c.get("data-candidate")) for c in marks) == sorted(brute_force_front(frame))


@pytest.mark.parametrize(
    "make, args, message",
    [
        (None, ["-o", "r.html"], "no such file"),
        (lambda p: p.write_text("not parquet"), ["-o", "r.html"], "not a Parquet file of sweep rows"),
        (lambda p: pl.DataFrame({"a": [1]}).write_parquet(p), ["-o", "r.html"], "the rows lack candidate, params"),
        (lambda p: archbudget.sweep(LLAMA).head(0).write_parquet(p), ["-o", "r.html"], "no rows to report"),
        (lambda p: archbudget.sweep(LLAMA).write_parquet(p), ["-o", "r.txt"], "the report is an .html file"),
        (lambda p: archbudget.sweep(LLAMA).write_parquet(p), ["-o", "r.html", "--figure", "f.png"], "the figure is an .svg file"),
    ],
)
def test_bad_input_is_one_line_and_no_file(tmp_path, monkeypatch, make, args, message):
    monkeypatch.chdir(tmp_path)
    rows = tmp_path / "rows.parquet"
    if make:
        make(rows)
    result = runner.invoke(app, ["report", str(rows), *args])
    assert result.exit_code == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == (["rows.parquet"] if make else [])


def test_sweep_report_needs_parquet_output(tmp_path):
    result = runner.invoke(app, ["sweep", str(LLAMA), "--output", str(tmp_path / "r.csv"), "--report", str(tmp_path / "r.html")])
    assert result.exit_code == 2 and "must then be .parquet" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_budget_far_beyond_the_rows_is_named_not_drawn(tmp_path):
    rows, svg = tmp_path / "rows.parquet", tmp_path / "front.svg"
    keras = EXAMPLES / "keras_space.toml"
    result = runner.invoke(app, ["sweep", str(keras), "--max-params", "2M", "--max-memory", "200MiB", "--output", str(rows)])
    assert result.exit_code == 0, result.output
    assert pl.read_parquet(rows)["peak_bytes"].max() * 2 < 200 * 2**20  # the budget is far from every row
    result = runner.invoke(app, ["report", str(rows), "-o", str(tmp_path / "r.html"), "--figure", str(svg)])
    assert result.exit_code == 0, result.output
    root = ET.parse(svg).getroot()
    assert root.find(f"{SVG}line[@data-budget='max_memory']") is None
    assert root.find(f"{SVG}line[@data-budget='max_params']") is not None
    assert any(t.text == "budgets beyond the rows: max memory 200.00 MiB" for t in root.iter(f"{SVG}text"))
