"""The README's example outputs are what the commands print, like doctests: a paragraph
that opens with a command in backticks (`` `archbudget ...` ``) followed by a plain code
block is run (standard output and error together, 80 columns, no terminal) and must print
that block. A line `   ...` in the block stands for rows left out."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"
ELIDED = "   ..."


def examples() -> list[tuple[str, list[str]]]:
    """(command, expected lines) for every command paragraph followed by a plain block."""
    found = []
    lines = README.read_text().splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^`(archbudget [^`]+)`", line)
        if not m:
            continue
        j = i + 1
        while j < len(lines) and lines[j].strip() and not lines[j].startswith("```"):
            j += 1  # the rest of the paragraph
        while j < len(lines) and not lines[j].strip():
            j += 1
        if j < len(lines) and lines[j] == "```":
            end = lines.index("```", j + 1)
            found.append((m.group(1), lines[j + 1 : end]))
    return found


def matches(expected: list[str], printed: list[str]) -> bool:
    """Line for line, trailing spaces aside; `   ...` skips the lines between."""
    printed = [line.rstrip() for line in printed]
    expected = [line.rstrip() for line in expected]
    if ELIDED not in expected:
        return printed == expected
    cut = expected.index(ELIDED)
    head, tail = expected[:cut], expected[cut + 1 :]
    return printed[: len(head)] == head and printed[len(printed) - len(tail) :] == tail and len(printed) >= len(expected) - 1


def test_the_readme_has_examples():
    assert len(examples()) >= 3


@pytest.mark.parametrize("command, expected", examples(), ids=[c for c, _ in examples()])
def test_readme_example_prints_what_the_readme_shows(command, expected):
    args = shlex.split(command)[1:]
    proc = subprocess.run(
        [sys.executable, "-m", "archbudget", *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, timeout=300, env={**os.environ, "COLUMNS": "80"},
    )
    assert proc.returncode == 0, proc.stdout
    printed = proc.stdout.rstrip("\n").splitlines()
    assert matches(expected, printed), "\n".join(["README shows:", *expected, "", "the command prints:", *printed])
