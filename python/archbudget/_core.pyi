"""Typed stub of the native module `archbudget._core` (rust/archbudget-py)."""
from typing import Any

__version__: str
METRIC_NAMES: list[str]
MAX_INPUT_BYTES: int

def summary(data: bytes, location: str, head: str | None = None) -> dict[str, Any]: ...
def register_custom_layers(text: str, location: str, toml: bool) -> list[str]: ...

def memory(
    data: bytes,
    location: str,
    run: dict[str, Any],
    *,
    seq: int | None = None,
    head: str | None = None,
    gpu: str | None = None,
    headroom_fraction: float | None = None,
    headroom_bytes: int | None = None,
    mfu: float = 0.4,
) -> dict[str, Any]:
    """`run`: the run settings by `archbudget.memory`'s keyword names (mode, batch,
    precision, optimizer, attn, grad_ckpt, new_tokens, gpus, zero_stage, lora_rank,
    lora_targets, lora_dropout, quantize); an unknown key is a TypeError."""

def fit(
    data: bytes,
    location: str,
    run: dict[str, Any],
    *,
    vary: str,
    seq: int | None = None,
    head: str | None = None,
    gpu: str | None = None,
    max_memory: int | None = None,
    headroom_fraction: float | None = None,
    headroom_bytes: int | None = None,
    mfu: float = 0.4,
) -> dict[str, Any]: ...

def gpus() -> list[dict[str, Any]]: ...

def gpu_budget_bytes(
    name: str, headroom_fraction: float | None = None, headroom_bytes: int | None = None
) -> tuple[str, int]: ...

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
        self,
        text: str,
        location: str,
        is_toml: bool,
        base_dir: str | None = None,
        template: str | None = None,
        run: str | None = None,
    ) -> None: ...
    def __reduce__(self) -> tuple[Any, tuple[str, str, bool, None, str | None, str | None]]: ...
    @property
    def size(self) -> int: ...
    @property
    def axis_names(self) -> list[str]: ...
    def count(self, start: int | None = None, stop: int | None = None) -> dict[str, Any]: ...
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
        gpu: str | None = None,
        headroom_fraction: float | None = None,
        headroom_bytes: int | None = None,
        mfu: float = 0.4,
        part: bool = False,
    ) -> dict[str, Any]: ...
    def merge_parts(
        self,
        parts: list[dict[str, Any]],
        *,
        sort: str | None = None,
        descending: bool = False,
        top: int | None = None,
        pareto: bool = False,
        gpu: str | None = None,
        headroom_fraction: float | None = None,
        headroom_bytes: int | None = None,
        mfu: float = 0.4,
    ) -> dict[str, Any]: ...
    def finish(
        self,
        part: dict[str, Any],
        *,
        sort: str | None = None,
        descending: bool = False,
        top: int | None = None,
        pareto: bool = False,
        gpu: str | None = None,
        headroom_fraction: float | None = None,
        headroom_bytes: int | None = None,
        mfu: float = 0.4,
    ) -> dict[str, Any]: ...

def pareto_front(candidate: Any, params: Any, peak_bytes: Any, flops: Any) -> Any:
    """Positions (numpy uint64) of the rows no other beats, as sweep(pareto=True) keeps them."""

class Budget:
    """Limits and run settings held in the core; `check` evaluates one candidate."""

    def __init__(
        self,
        run_json: str,
        *,
        max_params: int | None = None,
        min_params: int | None = None,
        max_memory: int | None = None,
        max_flops: int | None = None,
        base_dir: str | None = None,
    ) -> None: ...
    def check(self, data: bytes, location: str) -> tuple[bool, int, int, int, int, int]: ...

class ArchBudgetError(ValueError): ...
class ParseError(ArchBudgetError): ...
class UnknownLayerError(ArchBudgetError): ...
class UnknownModelTypeError(ArchBudgetError): ...
class InvalidValueError(ArchBudgetError): ...
class ShapeError(ArchBudgetError): ...
class SpaceError(ArchBudgetError): ...
class OverflowError(ArchBudgetError): ...
class DoesNotFitError(ArchBudgetError): ...
class InternalError(ArchBudgetError): ...
