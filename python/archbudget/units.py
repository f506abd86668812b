"""Counts and sizes as people write them: `350M`, `1.5B`, `10k`; `24GiB`, `80GB`, `512MiB`."""
from __future__ import annotations

from archbudget.errors import InvalidValueError

_COUNT = {"": 1, "k": 10**3, "K": 10**3, "M": 10**6, "B": 10**9, "G": 10**9, "T": 10**12}
_BYTES = {
    "": 1, "B": 1,
    "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
    "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40,
}
# compiled on first use (re's cache): `summary` and `memory` start without re
_NUMBER = r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:e([0-9]+))?\s*([A-Za-z]*)\s*$"


def _parse(text: str | int, units: dict[str, int], what: str) -> int:
    if isinstance(text, bool):
        raise InvalidValueError(f"{what}: expected a number, got {text!r}")
    if isinstance(text, int):
        if text < 0:
            raise InvalidValueError(f"{what}: {text} is negative")
        if text >= 2**64:
            raise InvalidValueError(f"{what}: {text} is beyond 64-bit integers")
        return text
    import re
    from fractions import Fraction

    m = re.match(_NUMBER, str(text))
    if not m or m.group(3) not in units:
        suffixes = ", ".join(u for u in units if u)
        raise InvalidValueError(f"{what}: cannot read {text!r} (a number with an optional suffix: {suffixes})")
    # Exact, so that `1e400` is too large rather than a float overflow. A non-zero
    # mantissa is at least 10**-len(text), so capping the exponent at len(text) + 20
    # keeps every value at or past 2**64 there.
    value = Fraction(m.group(1)) * 10 ** min(int(m.group(2) or 0), len(str(text)) + 20) * units[m.group(3)]
    if value >= 2**64:
        raise InvalidValueError(f"{what}: {text!r} is beyond 64-bit integers")
    return round(value)


def parse_count(text: str | int, what: str = "count") -> int:
    """`350M` → 350000000, `1.5B` → 1500000000, `10k` → 10000."""
    return _parse(text, _COUNT, what)


def parse_bytes(text: str | int, what: str = "size") -> int:
    """`24GiB` → 25769803776, `80GB` → 80000000000, `512MiB` → 536870912."""
    return _parse(text, _BYTES, what)


def human_bytes(n: int) -> str:
    """1536 → `1.50 KiB`."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.2f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")
