"""The tables of `summary` and `memory` written without rich, byte for byte as rich writes
them, for the common case: every cell fits its column, plain ASCII text, a console that
needs nothing but bold and italic. Importing rich costs about as much as the rest of the
command; elsewhere (a table wider than the console, but for the summary's, narrowed and
folded as rich does; text rich would read as markup or emoji, non-ASCII, environment
settings that change rich's output) these functions return None and the caller uses rich.
tests/test_cli_start.py compares both on the fixtures."""
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
    fold: bool = False,
) -> str | None:
    """rich's `Table(box=HEAVY_HEAD)` as `Console(width=width).print` writes it: `right`
    right-justifies a column, `lines` rules between all rows, `section_after` after that
    row only; None where a cell is not `plain`, or would wrap unless `fold` (the columns
    not `right` are then `overflow="fold"`, and a table wider than the console narrows
    them as rich does). Cells may hold several lines."""
    cells = [[cell.split("\n") for cell in row] for row in rows]
    if not all(plain(line) for row in cells for cell in row for line in cell):
        return None
    if not all(plain(h) for h in headers) or (title is not None and not plain(title)):
        return None
    widths = [len(h) for h in headers]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], *map(len, cell))
    console = width if width is not None else out.width
    if sum(widths) + 3 * len(widths) + 1 > console:  # one space each side, and the rules
        widths = _narrowed(widths, console) if fold else None
        if widths is None or any(len(h) > w for h, w in zip(headers, widths)):
            return None
        for row in cells:
            for i, w in enumerate(widths):
                if right[i] and any(len(line) > w for line in row[i]):
                    return None  # rich would cut the number with an ellipsis
                row[i] = [piece for line in row[i] for piece in _folded(line, w)]
    total = sum(widths) + 3 * len(widths) + 1
    if title is not None and len(title) > total:
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


# A table wider than the console, as rich lays it out (`Table._calculate_column_widths`,
# `rich._wrap.divide_line`, `Text.wrap` with overflow "fold"), for text whose only
# whitespace is spaces (`plain`): the summary of a large functional model is such a table,
# and rich takes longer to draw it than the rest of the command to run.


def _narrowed(widths: list[int], console: int) -> list[int] | None:
    """The widths of the columns' text once rich has narrowed the table to the console:
    the widest columns first, down to the next widest, then all evenly."""
    most = console - len(widths) - 1  # the rules
    padded = [min(w + 2, most) or 1 for w in widths]
    excess = sum(padded) - most
    while excess > 0:
        widest = max(padded)
        second = max((w for w in padded if w != widest), default=0)
        if widest == second:
            break
        ratios = [int(w == widest) for w in padded]
        padded = _ratio_reduce(excess, ratios, [min(excess, widest - second)] * len(padded), padded)
        excess = sum(padded) - most
    if excess > 0:
        padded = _ratio_reduce(excess, [1] * len(padded), padded, padded)
    widths = [w - 2 for w in padded]
    return widths if min(widths) >= 1 else None


def _ratio_reduce(total: int, ratios: list[int], maximums: list[int], values: list[int]) -> list[int]:
    """rich's `_ratio.ratio_reduce`."""
    ratios = [ratio if most else 0 for ratio, most in zip(ratios, maximums)]
    total_ratio = sum(ratios)
    if not total_ratio:
        return values[:]
    remaining = total
    result = []
    for ratio, most, value in zip(ratios, maximums, values):
        if ratio and total_ratio > 0:
            distributed = min(most, round(ratio * remaining / total_ratio))
            result.append(value - distributed)
            remaining -= distributed
            total_ratio -= ratio
        else:
            result.append(value)
    return result


def _words(text: str):
    """rich's words (`\\s*\\S+\\s*`, spaces its only whitespace): (start, word)."""
    i, n = 0, len(text)
    while i < n:
        start = i
        while i < n and text[i] == " ":
            i += 1
        if i == n:
            return
        while i < n and text[i] != " ":
            i += 1
        while i < n and text[i] == " ":
            i += 1
        yield start, text[start:i]


def _folded(line: str, width: int) -> list[str]:
    """One line of a cell as rich wraps it to `width` (left-justified, overflow fold)."""
    breaks = []
    offset = 0
    for start, word in _words(line):
        length = len(word.rstrip())
        if width - offset >= length:
            offset += len(word)
        elif length > width:
            chunks = [word[i : i + width] for i in range(0, len(word), width)]
            for chunk in chunks[:-1]:
                if start:
                    breaks.append(start)
                start += len(chunk)
            if start:
                breaks.append(start)
            offset = len(chunks[-1])
        elif offset and start:
            breaks.append(start)
            offset = len(word)
    bounds = [0, *breaks, len(line)]
    pieces = []
    for a, b in zip(bounds, bounds[1:]):
        piece = line[a:b]
        if len(piece) > width:  # `Text.rstrip_end`: spaces past the width go first
            excess = len(piece) - width
            spaces = len(piece) - len(piece.rstrip(" "))
            piece = piece[: len(piece) - min(spaces, excess)]
        pieces.append(piece[:width])
    return pieces
