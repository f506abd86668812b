"""The sweep report: one self-contained HTML file (inline SVG, a few lines of inline
script for the hover card; nothing fetched from the network), and the front alone as
an SVG figure for papers. No plotting library: the charts are SVG written here.

- The Pareto front: peak memory (x, log) against params (y, log), FLOPs per training
  step as colour (log), the other rows grey behind it, the budgets as dashed lines.
- Survivors per axis value: one bar chart per axis.
- The settings: budgets, ranking and the space file's text."""
from __future__ import annotations

import html
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from archbudget import _core
from archbudget.errors import ArchBudgetError
from archbudget.units import human_bytes

METRICS = ("params", "peak_bytes", "flops_fwd_bwd")
# Grey background rows beyond this are sampled (evenly, by position): the front and the
# per-axis counts always use every row.
MAX_BACKGROUND = 4000
# Plot area of the front, in SVG user units.
WIDTH, HEIGHT = 720, 440
MARGIN = {"left": 78, "right": 120, "top": 20, "bottom": 52}
# Viridis at nine stops: low FLOPs dark blue, high FLOPs yellow.
VIRIDIS = ["#440154", "#472d7b", "#3b528b", "#2c728e", "#21918c", "#28ae80", "#5ec962", "#addc30", "#fde725"]


def front_positions(frame: pl.DataFrame) -> np.ndarray:
    """Row positions of the frame's Pareto front, by the core's own rule."""
    missing = [c for c in ("candidate", *METRICS) if c not in frame.columns]
    if missing:
        raise ArchBudgetError(f"the rows lack {', '.join(missing)}: not the rows of an archbudget sweep")
    cols = [frame[c].cast(pl.UInt64).to_numpy() for c in ("candidate", *METRICS)]
    return _core.pareto_front(*cols).astype(np.int64)


class LogScale:
    """A log10 scale from a value domain onto a pixel range (a degenerate domain is
    widened by a factor 2 each way)."""

    def __init__(self, values: list[float], low_px: float, high_px: float):
        positive = [v for v in values if v > 0] or [1.0]
        lo, hi = min(positive), max(positive)
        if hi / lo < 1.0001:
            lo, hi = lo / 2, hi * 2
        pad = (math.log10(hi) - math.log10(lo)) * 0.04
        self.lo, self.hi = math.log10(lo) - pad, math.log10(hi) + pad
        self.low_px, self.high_px = low_px, high_px

    def __call__(self, value: float) -> float:
        t = (math.log10(max(value, 10**self.lo)) - self.lo) / (self.hi - self.lo)
        return self.low_px + t * (self.high_px - self.low_px)

    def holds(self, value: float) -> bool:
        return value > 0 and self.lo <= math.log10(value) <= self.hi

    def ticks(self, base: int, steps: tuple[int, ...] = (1,)) -> list[float]:
        """`steps` times the powers of `base` inside the domain, thinned to at most 8."""
        first, last = math.floor(self.lo / math.log10(base)), math.ceil(self.hi / math.log10(base))
        values = [m * base**p for p in range(first, last + 1) for m in steps]
        inside = [v for v in values if self.lo <= math.log10(v) <= self.hi]
        stride = max(1, math.ceil(len(inside) / 8))
        return inside[::stride]


def colour(t: float) -> str:
    """Viridis at t in [0, 1], interpolated between its stops."""
    t = min(max(t, 0.0), 1.0) * (len(VIRIDIS) - 1)
    i = min(int(t), len(VIRIDIS) - 2)
    a, b = (int(VIRIDIS[i][k:k + 2], 16) for k in (1, 3, 5)), (int(VIRIDIS[i + 1][k:k + 2], 16) for k in (1, 3, 5))
    return "#" + "".join(f"{round(x + (y - x) * (t - i)):02x}" for x, y in zip(a, b))


def count_text(n: float) -> str:
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:g}{unit}"
    return f"{n:g}"


def front_svg(frame: pl.DataFrame, settings: dict[str, Any], axes: list[str], standalone: bool) -> str:
    """The front as SVG: one `circle.front` per Pareto row carrying its candidate and
    axis values, grey `circle.row` for the others, dashed budget lines. The plot's
    domain is on the root (`data-x-log`, `data-y-log`) so a reader can check positions."""
    front = front_positions(frame)
    rows = frame.select("candidate", *METRICS, *axes)
    peaks, params_ = rows["peak_bytes"].to_list(), rows["params"].to_list()
    x = LogScale(peaks + near(peaks, [settings.get("max_memory")]), MARGIN["left"], MARGIN["left"] + WIDTH)
    y_budgets = near(params_, [settings.get(k) for k in ("max_params", "min_params")])
    y = LogScale(params_ + y_budgets, MARGIN["top"] + HEIGHT, MARGIN["top"])
    flops = [f for f in rows["flops_fwd_bwd"].to_list() if f > 0] or [1]
    f_lo, f_hi = math.log10(min(flops)), math.log10(max(flops))

    def tint(f: int) -> str:
        return colour((math.log10(max(f, 1)) - f_lo) / (f_hi - f_lo) if f_hi > f_lo else 0.5)

    total_w = MARGIN["left"] + WIDTH + MARGIN["right"]
    total_h = MARGIN["top"] + HEIGHT + MARGIN["bottom"]
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="front-plot" viewBox="0 0 {total_w} {total_h}" '
        f'width="{total_w}" height="{total_h}" font-family="Helvetica, Arial, sans-serif" font-size="12" '
        f'data-x-log="{x.lo!r} {x.hi!r}" data-y-log="{y.lo!r} {y.hi!r}" '
        f'data-plot="{MARGIN["left"]} {MARGIN["top"]} {WIDTH} {HEIGHT}">',
        f'<rect x="{MARGIN["left"]}" y="{MARGIN["top"]}" width="{WIDTH}" height="{HEIGHT}" fill="#fafafa" stroke="#999"/>',
    ]
    for v in x.ticks(2):
        px = x(v)
        out.append(f'<line x1="{px:.2f}" x2="{px:.2f}" y1="{MARGIN["top"]}" y2="{MARGIN["top"] + HEIGHT}" stroke="#e4e4e4"/>')
        out.append(f'<text x="{px:.2f}" y="{MARGIN["top"] + HEIGHT + 16}" text-anchor="middle">{bytes_text(v)}</text>')
    for v in y.ticks(10, (1, 2, 5)):
        py = y(v)
        out.append(f'<line x1="{MARGIN["left"]}" x2="{MARGIN["left"] + WIDTH}" y1="{py:.2f}" y2="{py:.2f}" stroke="#e4e4e4"/>')
        out.append(f'<text x="{MARGIN["left"] - 6}" y="{py + 4:.2f}" text-anchor="end">{count_text(v)}</text>')
    out.append(f'<text x="{MARGIN["left"] + WIDTH / 2}" y="{total_h - 10}" text-anchor="middle">peak memory (log)</text>')
    out.append(f'<text transform="translate(16 {MARGIN["top"] + HEIGHT / 2}) rotate(-90)" text-anchor="middle">parameters (log)</text>')

    in_front = np.zeros(rows.height, dtype=bool)
    in_front[front] = True
    background = np.flatnonzero(~in_front)
    if len(background) > MAX_BACKGROUND:
        background = background[np.linspace(0, len(background) - 1, MAX_BACKGROUND).astype(np.int64)]
    peak, params, fl, cand = (rows[c].to_list() for c in ("peak_bytes", "params", "flops_fwd_bwd", "candidate"))
    for i in background:
        out.append(f'<circle class="row" cx="{x(peak[i]):.2f}" cy="{y(params[i]):.2f}" r="2.5" fill="#bbb" fill-opacity="0.6"/>')
    axis_values = {a: rows[a].to_list() for a in axes}
    for i in front:
        card = {"candidate": cand[i], **{a: axis_values[a][i] for a in axes},
                "params": f"{params[i]:,}", "peak memory": human_bytes(peak[i]), "FLOPs / step": f"{fl[i]:.3e}"}
        title = "\n".join(f"{k}: {v}" for k, v in card.items())
        data = "" if standalone else f' data-card="{html.escape(json.dumps(card, default=str))}"'
        out.append(
            f'<circle class="front" data-candidate="{cand[i]}" cx="{x(peak[i]):.2f}" cy="{y(params[i]):.2f}" r="5" '
            f'fill="{tint(fl[i])}" stroke="#222" stroke-width="0.6"{data}><title>{html.escape(title)}</title></circle>'
        )
    out.extend(budget_lines(settings, x, y))
    out.extend(colour_legend(f_lo, f_hi, MARGIN["left"] + WIDTH + 30, MARGIN["top"]))
    out.append("</svg>")
    return "\n".join(out)


def near(values: list[int], budgets: list[int | None]) -> list[int]:
    """The budgets worth drawing inside the plot: within a factor 2 of the values'
    range (a budget far beyond every row would squeeze the rows into a corner)."""
    lo, hi = min(values), max(values)
    return [b for b in budgets if b and lo / 2 <= b <= hi * 2]


def bytes_text(n: float) -> str:
    """A tick label: `512 MiB`, `2 GiB`."""
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:g} {unit}"
    return f"{n:g} B"


def budget_lines(settings: dict[str, Any], x: LogScale, y: LogScale) -> list[str]:
    """Dashed lines at the budgets the sweep applied, each labelled; a budget far
    beyond every row is named in a corner instead."""
    out = []
    style = 'stroke="#c0392b" stroke-width="1.5" stroke-dasharray="6 4"'
    far = [f"{label} {text(settings[key])}" for key, label, text, scale in (
        ("max_memory", "max memory", human_bytes, x), ("max_params", "max params", count_text, y),
        ("min_params", "min params", count_text, y)) if settings.get(key) and not scale.holds(settings[key])]
    if far:
        out.append(f'<text x="{MARGIN["left"] + WIDTH - 6}" y="{MARGIN["top"] + HEIGHT - 8}" text-anchor="end" '
                   f'fill="#c0392b">budgets beyond the rows: {", ".join(far)}</text>')
    if settings.get("max_memory") and x.holds(settings["max_memory"]):
        px = x(settings["max_memory"])
        out.append(f'<line class="budget" data-budget="max_memory" x1="{px:.2f}" x2="{px:.2f}" y1="{MARGIN["top"]}" y2="{MARGIN["top"] + HEIGHT}" {style}/>')
        out.append(f'<text x="{px - 4:.2f}" y="{MARGIN["top"] + 14}" text-anchor="end" fill="#c0392b">max memory {human_bytes(settings["max_memory"])}</text>')
    for key, label in (("max_params", "max params"), ("min_params", "min params")):
        if settings.get(key) and y.holds(settings[key]):
            py = y(settings[key])
            out.append(f'<line class="budget" data-budget="{key}" x1="{MARGIN["left"]}" x2="{MARGIN["left"] + WIDTH}" y1="{py:.2f}" y2="{py:.2f}" {style}/>')
            out.append(f'<text x="{MARGIN["left"] + 6}" y="{py - 5:.2f}" fill="#c0392b">{label} {count_text(settings[key])}</text>')
    return out


def colour_legend(f_lo: float, f_hi: float, left: float, top: float) -> list[str]:
    out = ['<defs><linearGradient id="flops" x1="0" x2="0" y1="1" y2="0">']
    out += [f'<stop offset="{k / (len(VIRIDIS) - 1):.3f}" stop-color="{c}"/>' for k, c in enumerate(VIRIDIS)]
    out.append("</linearGradient></defs>")
    out.append(f'<text x="{left}" y="{top + 10}">FLOPs / step</text>')
    out.append(f'<rect x="{left}" y="{top + 20}" width="14" height="200" fill="url(#flops)" stroke="#999"/>')
    out.append(f'<text x="{left + 20}" y="{top + 30}">{10 ** f_hi:.2e}</text>')
    out.append(f'<text x="{left + 20}" y="{top + 220}">{10 ** f_lo:.2e}</text>')
    return out


def axis_bars(frame: pl.DataFrame, axis: str, front_candidates: set[int]) -> str:
    """Survivors per value of one axis (and how many of them are on the front)."""
    counts = (
        frame.with_columns(pl.col("candidate").is_in(list(front_candidates)).alias("_front"))
        .group_by(axis).agg(pl.len().alias("rows"), pl.col("_front").sum().alias("front"))
        .sort(axis)
    )
    values, n, on_front = counts[axis].cast(pl.String).to_list(), counts["rows"].to_list(), counts["front"].to_list()
    bar_h, label_w, width = 18, 150, 360
    top = max(n) if n else 1
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="axis-bars" data-axis="{html.escape(axis)}" '
           f'width="{label_w + width + 220}" height="{bar_h * len(values) + 8}" font-family="Helvetica, Arial, sans-serif" font-size="12">']
    for k, (v, total, f) in enumerate(zip(values, n, on_front)):
        yy = 4 + k * bar_h
        w = width * total / top
        out.append(f'<text x="{label_w - 6}" y="{yy + 12}" text-anchor="end">{html.escape(str(v))}</text>')
        out.append(f'<rect class="bar" data-value="{html.escape(str(v))}" data-rows="{total}" x="{label_w}" y="{yy}" width="{w:.2f}" height="{bar_h - 4}" fill="#9ab"/>')
        out.append(f'<rect x="{label_w}" y="{yy}" width="{width * f / top:.2f}" height="{bar_h - 4}" fill="#2c728e"/>')
        out.append(f'<text x="{label_w + w + 6:.2f}" y="{yy + 12}">{total:,} ({f:,} on the front)</text>')
    out.append("</svg>")
    return "\n".join(out)


SCRIPT = """
window.addEventListener("error", function (e) {
  document.body.setAttribute("data-errors", (document.body.getAttribute("data-errors") || "") + e.message + ";");
});
(function () {
  var card = document.getElementById("card");
  document.querySelectorAll("circle.front").forEach(function (c) {
    c.addEventListener("mouseenter", function (e) {
      var d = JSON.parse(c.getAttribute("data-card"));
      card.innerHTML = Object.keys(d).map(function (k) {
        return "<b>" + k + "</b> " + String(d[k]).replace(/&/g, "&amp;").replace(/</g, "&lt;");
      }).join("<br>");
      card.style.display = "block";
      card.style.left = (e.pageX + 14) + "px";
      card.style.top = (e.pageY + 14) + "px";
    });
    c.addEventListener("mouseleave", function () { card.style.display = "none"; });
  });
  document.body.setAttribute("data-points", String(document.querySelectorAll("circle.front").length));
  document.body.setAttribute("data-ready", "yes");
})();
"""

STYLE = """
body { font-family: Helvetica, Arial, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
table { border-collapse: collapse; } td, th { padding: 2px 10px 2px 0; text-align: left; vertical-align: top; }
pre { background: #f4f4f4; padding: 8px; }
#card { position: absolute; display: none; background: #fff; border: 1px solid #888; padding: 6px 8px;
        font-size: 12px; pointer-events: none; box-shadow: 2px 2px 6px rgba(0,0,0,.2); }
circle.front:hover { stroke-width: 2; }
"""


def axis_columns(frame: pl.DataFrame, settings: dict[str, Any]) -> list[str]:
    """The axes: as the settings name them, else the columns between `candidate` and
    the metrics (the order a sweep writes them in)."""
    named = [a for a in settings.get("axes") or [] if a in frame.columns]
    if named or "params" not in frame.columns:
        return named
    return frame.columns[1:frame.columns.index("params")]


def report_html(frame: pl.DataFrame, settings: dict[str, Any]) -> str:
    axes = axis_columns(frame, settings)
    front = front_positions(frame)
    front_candidates = set(frame["candidate"].gather(front).to_list())
    title = html.escape(settings.get("space") or "sweep")
    shown = {k: v for k, v in settings.items() if k not in ("space_text", "axes") and v not in (None, False)}
    rows_html = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in shown.items())
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>archbudget sweep report: {title}</title><style>{STYLE}</style></head><body>",
        f"<h1>Sweep report: {title}</h1>",
        f"<p>{frame.height:,} rows, {len(front):,} on the Pareto front (more parameters for no more peak memory "
        "and no more FLOPs). Hover a point for its axes.</p>",
        "<h2>Pareto front: parameters against peak memory, FLOPs as colour</h2>",
        front_svg(frame, settings, axes, standalone=False),
        "<h2>Survivors per axis value</h2>",
    ]
    for axis in axes:
        parts.append(f"<h3>{html.escape(axis)}</h3>")
        parts.append(axis_bars(frame, axis, front_candidates))
    parts.append("<h2>Settings</h2>")
    parts.append(f"<table>{rows_html}</table>" if rows_html else "<p>No settings were stored with these rows.</p>")
    if settings.get("space_text"):
        parts.append(f"<pre>{html.escape(settings['space_text'])}</pre>")
    parts.append(f'<div id="card"></div><script>{SCRIPT}</script></body></html>')
    return "\n".join(parts)


def write_report(frame: pl.DataFrame, settings: dict[str, Any], path: Path, figure: Path | None = None) -> None:
    """Write the HTML report (and the front alone as an SVG figure), each whole or
    not at all."""
    if frame.height == 0:
        raise ArchBudgetError("no rows to report: every candidate was cut by the budgets or constraints")
    axes = axis_columns(frame, settings)
    write_whole(Path(path), report_html(frame, settings))
    if figure is not None:
        write_whole(Path(figure), '<?xml version="1.0" encoding="UTF-8"?>\n' + front_svg(frame, settings, axes, standalone=True) + "\n")


def write_whole(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent if str(path.parent) else ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
