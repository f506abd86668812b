"""Typed stub of the native module `archbudget._core` (rust/archbudget-py)."""
from typing import Any

__version__: str

def summary(data: bytes, location: str, head: str | None = None) -> dict[str, Any]: ...

def memory(
    data: bytes,
    location: str,
    *,
    mode: str,
    batch: int,
    seq: int | None = None,
    precision: str = "fp32",
    optimizer: str = "adamw",
    attn: str = "sdpa",
    grad_ckpt: bool = False,
    head: str | None = None,
    new_tokens: int = 0,
    gpus: int = 1,
    zero_stage: int = 0,
    lora_rank: int | None = None,
    lora_targets: str | None = None,
    lora_dropout: float = 0.0,
    quantize: str | None = None,
) -> dict[str, Any]: ...

class Progress:
    """Counters of a running sweep, readable from another thread."""

    def __init__(self) -> None: ...
    @property
    def done(self) -> int: ...
    @property
    def survivors(self) -> int: ...

class SearchSpace:
    """A search space parsed once; swept whole or by candidate ranges."""

    def __init__(
        self, text: str, location: str, is_toml: bool, base_dir: str | None = None, run: str | None = None
    ) -> None: ...
    @property
    def size(self) -> int: ...
    @property
    def axis_names(self) -> list[str]: ...
    def count(self, start: int | None = None, stop: int | None = None) -> tuple[int, int, int]: ...
    def sweep(
        self,
        *,
        max_params: int | None = None,
        min_params: int | None = None,
        max_memory: int | None = None,
        max_flops: int | None = None,
        sort: str | None = None,
        descending: bool = False,
        top: int | None = None,
        pareto: bool = False,
        start: int | None = None,
        stop: int | None = None,
        progress: Progress | None = None,
    ) -> dict[str, Any]: ...

class ArchBudgetError(ValueError): ...
class ParseError(ArchBudgetError): ...
class UnknownLayerError(ArchBudgetError): ...
class UnknownModelTypeError(ArchBudgetError): ...
class InvalidValueError(ArchBudgetError): ...
class ShapeError(ArchBudgetError): ...
class SpaceError(ArchBudgetError): ...
class OverflowError(ArchBudgetError): ...
class InternalError(ArchBudgetError): ...
