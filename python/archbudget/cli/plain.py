"""The tables of `summary` and `memory` written without rich, byte for byte as rich writes
them, for the common case: every cell fits its column, plain ASCII text, a console that
needs nothing but bold and italic. Importing rich costs about as much as the rest of the
command; elsewhere (a table wider than the console, text rich would read as markup or
emoji, non-ASCII, environment settings that change rich's output) these functions return
None and the caller uses rich. tests/test_plain_tables.py compares both on the fixtures."""
from __future__ import annotations

import os
import sys

# rich's box.HEAVY_HEAD: top, header row, below the header, body row, between rows, bottom
_TOP = "┏━┳┓"
_HEAD = "┃┃┃"
_HEAD_RULE = "┡━╇┩"
_ROW = "│││"
_ROW_RULE = "├─┼┤"
_BOTTOM = "└─┴┘"

_BOLD, _ITALIC, _RESET = "\x1b[1m", "\x1b[3m", "\x1b[0m"
# Settings under which rich draws differently (colour forced or off, another width or
# terminal model, notebooks): left to rich.
_RICH_SETTINGS = ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "JUPYTER_COLUMNS",
                  "JUPYTER_LINES", "DATABRICKS_RUNTIME_VERSION")
# What may open rich's markup (`[bold]`, `\[`); a second colon may close an emoji code
# (`:smile:`). Checked without re, which the fast start does without.
_MARKUP_OPENERS = tuple("[" + c for c in "abcdefghijklmnopqrstuvwxyz#/@") + ("\\",)


class Output:
    """What rich's Console finds about standard output; None where it is not the plain case."""

    def __init__(self, width: int, terminal: bool):
        self.width = width
        self.terminal = terminal

    @classmethod
    def detect(cls) -> Output | None:
        environ = os.environ
        if any(k in environ for k in _RICH_SETTINGS):
            return None
        stdout = sys.stdout
        if not (getattr(stdout, "encoding", None) or "").lower().startswith("utf"):
            return None  # rich would draw the boxes in ASCII
        try:
            terminal = stdout.isatty()
        except (ValueError, OSError):
            return None
        if terminal and environ.get("TERM", "").strip().lower() in ("dumb", "unknown"):
            return None
        return cls(console_width(), terminal)

    def style(self, text: str, code: str) -> str:
        return f"{code}{text}{_RESET}" if self.terminal else text


def console_width() -> int:
    """rich's `Console().width`: $COLUMNS, else the first of standard input, output and
    error that is a terminal, else 80."""
    columns = os.environ.get("COLUMNS")
    if columns is not None and columns.isdigit():
        return int(columns)
    width = None
    for fd in (0, 1, 2):
        try:
            width = os.get_terminal_size(fd).columns
        except (AttributeError, ValueError, OSError):
            continue
        break
    return width or 80


def plain(text: str) -> bool:
    """Text rich prints as it is."""
    if not (text.isascii() and text.isprintable()) or any(m in text for m in _MARKUP_OPENERS):
        return False
    return all(" " in word for word in text.split(":")[1:-1])  # no `:name:` rich might replace


def table(
    out: Output,
    headers: list[str],
    right: list[bool],
    rows: list[list[str]],
    *,
    title: str | None = None,
    lines: bool = False,
    section_after: int | None = None,
    bold_rows: frozenset[int] = frozenset(),
    width: int | None = None,
) -> str | None:
    """rich's `Table(box=HEAVY_HEAD)` as `Console(width=width).print` writes it: `right`
    right-justifies a column, `lines` rules between all rows, `section_after` after that
    row only; None where a cell would wrap or is not `plain`. Cells may hold several
    lines."""
    cells = [[cell.split("\n") for cell in row] for row in rows]
    if not all(plain(line) for row in cells for cell in row for line in cell):
        return None
    if not all(plain(h) for h in headers) or (title is not None and not plain(title)):
        return None
    widths = [len(h) for h in headers]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], *map(len, cell))
    total = sum(widths) + 3 * len(widths) + 1  # one space each side, and the rules
    console = width if width is not None else out.width
    if total > console or (title is not None and len(title) > total):
        return None

    def rule(chars: str) -> str:
        return chars[0] + chars[2].join(chars[1] * (w + 2) for w in widths) + chars[3]

    def line(texts: list[str], chars: str, bold: bool) -> str:
        parts = []
        for text, w, r in zip(texts, widths, right):
            content = text.rjust(w) if r else text.ljust(w)
            parts.append(out.style(" ", _BOLD) + out.style(content, _BOLD) + out.style(" ", _BOLD) if bold
                         else f" {content} ")
        return chars[0] + chars[1].join(parts) + chars[2]

    printed = []
    if title is not None:
        printed.append(out.style(title.ljust(total), _ITALIC))
    printed += [rule(_TOP), line(headers, _HEAD, bold=out.terminal), rule(_HEAD_RULE)]
    for n, row in enumerate(cells):
        if n and (lines or n - 1 == section_after):
            printed.append(rule(_ROW_RULE))
        for k in range(max(len(cell) for cell in row)):
            texts = [cell[k] if k < len(cell) else "" for cell in row]
            printed.append(line(texts, _ROW, bold=n in bold_rows and out.terminal))
    printed.append(rule(_BOTTOM))
    return "\n".join(printed) + "\n"


def lines(out: Output, texts: list[str], wrap: bool = True, width: int | None = None) -> str | None:
    """`Console(width=width).print(text, highlight=False)` of each text: as it is, where it
    is plain and fits the width (or `wrap` is False: rich's soft_wrap)."""
    width = width if width is not None else out.width
    if not all(plain(t) and (not wrap or len(t) <= width) for t in texts):
        return None
    return "".join(t + "\n" for t in texts)
