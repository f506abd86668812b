"""Planning on a GPU: the catalog, the budget a named GPU gives a predicted peak, and
`fit`, the largest batch (longest sequence, most new tokens, fewest GPUs) that fits.

What "fits" means is stated once, in the core (rust/archbudget-core/src/gpu/mod.rs) and
the README: peak + CUDA context (500 MiB, estimate) + library workspaces (64 MiB,
estimate) <= the card's memory as CUDA reports it x (1 - headroom)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Union

from archbudget import _core
from archbudget.errors import InvalidValueError
from archbudget.units import parse_bytes

if TYPE_CHECKING:
    import polars as pl

HeadroomLike = Union[float, int, str, None]
Vary = Literal["batch", "seq", "new-tokens", "gpus"]
DEFAULT_MFU = 0.4
# SPEC.md's keys of `gpus --format json`, in order.
GPU_COLUMNS = ("name", "memory_bytes", "bf16_tflops", "fp16_tflops", "fp8_tflops", "fp32_tflops", "bandwidth_bytes_per_s", "source")
# compiled on first use (re's cache): `summary` and `memory` start without re
_SHARE = r"^\s*([0-9]*\.?[0-9]+)\s*(%?)\s*$"


def headroom_args(headroom: HeadroomLike) -> dict[str, Any]:
    """`headroom` as the core takes it: a share of the card below 1 (`0.05`, `"5%"`) or
    a size (`"2GiB"`, or a whole number of bytes of at least 1)."""
    if headroom is None:
        return {}
    if isinstance(headroom, bool):
        raise InvalidValueError(f"headroom: expected a share or a size, got {headroom!r}")
    import re

    if isinstance(headroom, str) and (m := re.match(_SHARE, headroom)):
        number = float(m.group(1))
        if m.group(2):
            return {"headroom_fraction": number / 100}
        headroom = int(number) if number >= 1 and number.is_integer() else number
    if isinstance(headroom, (int, float)) and headroom < 1:
        return {"headroom_fraction": float(headroom)}
    if isinstance(headroom, float):
        raise InvalidValueError(f"headroom: {headroom} is neither a share below 1 nor a whole number of bytes")
    return {"headroom_bytes": parse_bytes(headroom, "headroom")}


def gpu_args(gpu: str | None, headroom: HeadroomLike, mfu: float) -> dict[str, Any]:
    """The keyword arguments naming a GPU for the core's memory, fit and sweep."""
    if gpu is None:
        if headroom is not None:
            raise InvalidValueError("headroom: only with a GPU named (gpu=... / --gpu)")
        return {}
    return {"gpu": gpu, "mfu": float(mfu), **headroom_args(headroom)}


def gpus() -> pl.DataFrame:
    """The GPU catalog: memory as CUDA reports it, dense TFLOPs (null where the card
    lacks the precision), bandwidth, and the source of every figure."""
    import polars as pl  # only here: the rest of the module serves `memory` and `fit`

    rows = _core.gpus()
    schema = {
        "name": pl.String, "memory_bytes": pl.UInt64, "bf16_tflops": pl.Float64, "fp16_tflops": pl.Float64,
        "fp8_tflops": pl.Float64, "fp32_tflops": pl.Float64, "bandwidth_bytes_per_s": pl.Float64, "source": pl.String,
    }
    return pl.DataFrame({c: [r[c] for r in rows] for c in GPU_COLUMNS}, schema=schema)


def gpu_budget_bytes(name: str, headroom: HeadroomLike = None) -> int:
    """The bytes a predicted peak may reach on GPU `name`: its CUDA-reported memory less
    the headroom (default 5%), the CUDA context and the library workspaces. The one
    budget rule `memory`, `fit` and `sweep` use."""
    return _core.gpu_budget_bytes(name, **headroom_args(headroom))[1]


@dataclass(frozen=True)
class Fit:
    """The answer of `fit`: `value` is the largest batch (sequence, new tokens) that
    fits, or the fewest GPUs; `peak_bytes <= budget_bytes < next_peak_bytes`, where
    `next_peak_bytes` is the peak one step beyond (`value + 1`, or `value - 1` for gpus;
    None where `value` is the axis's limit). `memory` is the full estimate at `value`."""

    vary: str
    value: int
    peak_bytes: int
    budget_bytes: int
    next_peak_bytes: int | None
    memory: Any

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of `archbudget fit --format json` (SPEC.md)."""
        return {
            "vary": self.vary,
            "value": self.value,
            "peak_bytes": self.peak_bytes,
            "budget_bytes": self.budget_bytes,
            "next_peak_bytes": self.next_peak_bytes,
        }


def fit(
    model: Any,
    gpu: str | None = None,
    max_memory: int | str | None = None,
    mode: Literal["train", "infer", "generate"] = "train",
    vary: Vary = "batch",
    *,
    headroom: HeadroomLike = None,
    mfu: float = DEFAULT_MFU,
    **run: Any,
) -> Fit:
    """The largest `vary` (batch, seq, new-tokens; or the fewest gpus) at which `model`
    run as `run` says (the keyword arguments of `memory`) fits `gpu` or `max_memory`
    (the smaller where both are given). Raises `DoesNotFitError` when even the smallest
    value does not fit."""
    from archbudget.api import _model_bytes

    data, location = _model_bytes(model)
    return fit_bytes(data, location, gpu=gpu, max_memory=max_memory, mode=mode, vary=vary, headroom=headroom, mfu=mfu, **run)


def fit_bytes(data: bytes, location: str, *, gpu, max_memory, mode, vary, headroom, mfu, **run: Any) -> Fit:
    """`fit` of a description already read, named `location` in error messages."""
    from archbudget.api import Memory, check_run

    check_run(run)
    budget = None if max_memory is None else parse_bytes(max_memory, "max_memory")
    seq, head = run.pop("seq", None), run.pop("head", None)
    d = _core.fit(data, location, dict(run, mode=mode), vary=vary.replace("_", "-"), seq=seq, head=head, max_memory=budget,
                  **gpu_args(gpu, headroom, mfu))
    return Fit(
        vary=d["vary"],
        value=d["value"],
        peak_bytes=d["peak_bytes"],
        budget_bytes=d["budget_bytes"],
        next_peak_bytes=d["next_peak_bytes"],
        memory=Memory.from_core(d["memory"]),
    )
