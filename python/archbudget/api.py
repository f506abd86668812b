"""The Python API: thin functions over the native core."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import polars as pl

from archbudget import _core
from archbudget.errors import ArchBudgetError, InvalidValueError
from archbudget.frames import sweep_frame
from archbudget.units import parse_bytes, parse_count

ModelLike = Union[str, os.PathLike, dict, bytes]
Head = Literal["base", "causal_lm"]


def _model_bytes(model: ModelLike) -> tuple[bytes, str]:
    """The bytes of a model given as a path, a JSON string, a dict or raw bytes, and the
    name to use for it in error messages."""
    if isinstance(model, dict):
        return json.dumps(model).encode(), "<dict>"
    if isinstance(model, bytes):
        return model, "<bytes>"
    if isinstance(model, str) and model.lstrip().startswith("{"):
        return model.encode(), "<json>"
    if isinstance(model, (str, os.PathLike)):
        return read_path(model), str(model)
    raise TypeError(f"model must be a path, a JSON string, a dict or bytes, not {type(model).__name__}")


def read_path(path: str | os.PathLike) -> bytes:
    """A file's bytes, or ArchBudgetError naming the path."""
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise ArchBudgetError(f"{path}: cannot read: {e.strerror or e}") from None


@dataclass(frozen=True)
class Summary:
    """Rows and totals of a model, as Keras's `model.summary()` (or per module for a
    transformers config)."""

    name: str
    format: str
    total_params: int
    trainable_params: int
    non_trainable_params: int
    # per token: all but the routed experts a token skips (mixture-of-experts models)
    active_params: int
    functional: bool
    rows: list[dict[str, Any]] = field(repr=False)

    @property
    def layers(self) -> pl.DataFrame:
        """One row per layer (module): name, class_name, output_shape, params,
        trainable, non_trainable, explain."""
        return pl.DataFrame(
            {
                "name": [r["name"] for r in self.rows],
                "class_name": [r["class_name"] for r in self.rows],
                "output_shape": [shape_text(r["output_shape"]) for r in self.rows],
                "params": [r["params"] for r in self.rows],
                "trainable": [r["trainable"] for r in self.rows],
                "non_trainable": [r["non_trainable"] for r in self.rows],
                "explain": [r["explain"] for r in self.rows],
            },
            schema={
                "name": pl.String,
                "class_name": pl.String,
                "output_shape": pl.String,
                "params": pl.UInt64,
                "trainable": pl.UInt64,
                "non_trainable": pl.UInt64,
                "explain": pl.String,
            },
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of `archbudget summary --format json` (SPEC.md)."""
        return {
            "name": self.name,
            "format": self.format,
            "total_params": self.total_params,
            "trainable_params": self.trainable_params,
            "non_trainable_params": self.non_trainable_params,
            "active_params": self.active_params,
            "layers": [
                {k: r[k] for k in ("name", "class_name", "output_shape", "params", "trainable", "non_trainable")}
                for r in self.rows
            ],
        }


def shape_text(shape: Any) -> str | None:
    """`(None, 16, 128)` as Keras prints it; a list of them for several outputs."""
    if shape is None:
        return None
    if shape and isinstance(shape[0], list):
        return "[" + ", ".join(shape_text(s) for s in shape) + "]"
    dims = ["None" if d is None else str(d) for d in shape]
    return f"({dims[0]},)" if len(dims) == 1 else "(" + ", ".join(dims) + ")"


def summary(model: ModelLike, head: Head | None = None) -> Summary:
    """Per-layer output shapes and parameter counts with trainable / non-trainable
    totals, exactly as Keras reports them, or per module for a transformers config.json
    (`head`: "base" for AutoModel, "causal_lm" for the model with its LM head)."""
    data, location = _model_bytes(model)
    return summary_bytes(data, location, head)


def summary_bytes(data: bytes, location: str, head: Head | None = None) -> Summary:
    """`summary` of a description already read, named `location` in error messages."""
    d = _core.summary(data, location, head)
    return Summary(
        name=d["name"],
        format=d["format"],
        total_params=d["total_params"],
        trainable_params=d["trainable_params"],
        non_trainable_params=d["non_trainable_params"],
        active_params=d["active_params"],
        functional=d["functional"],
        rows=d["layers"],
    )


SpaceLike = Union[str, os.PathLike, dict]


def search_space(space: SpaceLike) -> _core.SearchSpace:
    """Parse a space once (a TOML path, or a dict of the TOML's shape)."""
    if isinstance(space, dict):
        return _core.SearchSpace(json.dumps(space), "<dict>", False, os.getcwd())
    if isinstance(space, (str, os.PathLike)):
        try:
            text = read_path(space).decode()
        except UnicodeDecodeError as e:
            raise ArchBudgetError(f"{space}: not a TOML text file (not UTF-8 at byte {e.start})") from None
        return _core.SearchSpace(text, str(space), True, str(Path(space).parent))
    raise TypeError(f"space must be a path or a dict, not {type(space).__name__}")


def parse_shard(shard: str | tuple[int, int] | None, size: int) -> tuple[int, int] | None:
    """`i/N` (0-based) → the candidate range of shard i of N equal index ranges."""
    if shard is None:
        return None
    if isinstance(shard, str):
        try:
            i, n = (int(x) for x in shard.split("/"))
        except ValueError:
            raise ArchBudgetError(f"--shard: expected i/N such as 0/4, got {shard!r}") from None
    else:
        i, n = shard
    if not (n >= 1 and 0 <= i < n):
        raise ArchBudgetError(f"--shard: need 0 <= i < N, got {i}/{n}")
    return size * i // n, size * (i + 1) // n


def _u64(value: Any, what: str, minimum: int = 0) -> Any:
    """An integer the core takes as 64 bits unsigned: checked here, so that a huge or
    negative one is bad input rather than a conversion error."""
    if isinstance(value, int) and not isinstance(value, bool) and not minimum <= value < 2**64:
        raise InvalidValueError(f"{what}: {value} is not an integer from {minimum} to 2^64 - 1")
    return value


def sweep_options(
    max_params=None, min_params=None, max_memory=None, max_flops=None, sort=None, descending=False, top=None, pareto=False
) -> dict[str, Any]:
    """Budgets as the core takes them: counts and sizes given as ints or `350M` / `24GiB`."""
    if top is not None:
        _u64(top, "top", 1)
    return {
        "max_params": None if max_params is None else parse_count(max_params, "max_params"),
        "min_params": None if min_params is None else parse_count(min_params, "min_params"),
        "max_memory": None if max_memory is None else parse_bytes(max_memory, "max_memory"),
        "max_flops": None if max_flops is None else parse_count(max_flops, "max_flops"),
        "sort": sort,
        "descending": descending,
        "top": top,
        "pareto": pareto,
    }


def sweep(
    space: SpaceLike,
    max_params: int | str | None = None,
    min_params: int | str | None = None,
    max_memory: int | str | None = None,
    sort: str | None = None,
    descending: bool = False,
    top: int | None = None,
    *,
    max_flops: int | str | None = None,
    pareto: bool = False,
    shard: str | tuple[int, int] | None = None,
) -> pl.DataFrame:
    """Enumerate a search space in the native core and return the candidates inside the
    budgets as a Polars frame: a `candidate` index, one column per axis, then params,
    trainable_params, peak_bytes, FLOPs and the memory breakdown. Budgets, constraints,
    `top` and `pareto` are applied before anything reaches Python."""
    s = search_space(space)
    opts = sweep_options(max_params, min_params, max_memory, max_flops, sort, descending, top, pareto)
    rng = parse_shard(shard, s.size)
    start, stop = rng if rng else (None, None)
    columns = s.sweep(**opts, start=start, stop=stop)
    stats = columns["stats"]
    if stats["invalid"]:
        import warnings

        warnings.warn(
            f"{stats['invalid']} candidates could not be built and were skipped; the first: {stats['first_invalid']}",
            stacklevel=2,
        )
    return sweep_frame(columns)


@dataclass(frozen=True)
class Memory:
    """Peak GPU memory of one training or inference step of the model's PyTorch
    equivalent, as `torch.cuda.max_memory_allocated()` would show it, with what is alive
    at the peak and the FLOPs of the step."""

    peak_bytes: int
    params: int
    buffers: int
    breakdown: dict[str, int]
    flops_fwd: int
    flops_fwd_bwd: int

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of `archbudget memory --format json` (SPEC.md)."""
        return {
            "peak_bytes": self.peak_bytes,
            "params": self.params,
            "buffers": self.buffers,
            "breakdown": dict(self.breakdown),
            "flops_fwd": self.flops_fwd,
            "flops_fwd_bwd": self.flops_fwd_bwd,
        }


def memory(
    model: ModelLike,
    mode: Literal["train", "infer", "generate"] = "train",
    batch: int = 1,
    seq: int | None = None,
    precision: Literal["fp32", "bf16", "amp_bf16"] = "fp32",
    optimizer: Literal["sgd", "sgd_momentum", "adam", "adamw"] = "adamw",
    attn: Literal["sdpa", "eager"] = "sdpa",
    grad_ckpt: bool = False,
    head: Head | None = None,
    *,
    new_tokens: int = 0,
    gpus: int = 1,
    zero_stage: int = 0,
) -> Memory:
    """Peak bytes of one step (SPEC.md's protocol: PyTorch eager on one CUDA GPU; training
    is forward + loss + backward + optimizer step), with its breakdown and FLOPs. `seq`
    is the tokens per sequence of a transformer (required there; the prompt in
    `generate` mode, which decodes `new_tokens` more) and fills an unknown time axis of a
    Keras input. `gpus` and `zero_stage` give the per-GPU bytes of data parallelism with
    ZeRO stage 0-3."""
    data, location = _model_bytes(model)
    return memory_bytes(data, location, mode=mode, batch=batch, seq=seq, precision=precision, optimizer=optimizer,
                        attn=attn, grad_ckpt=grad_ckpt, head=head, new_tokens=new_tokens, gpus=gpus, zero_stage=zero_stage)


def memory_bytes(data: bytes, location: str, **run: Any) -> Memory:
    """`memory` of a description already read, named `location` in error messages."""
    for key in ("batch", "seq"):
        if run.get(key) is not None:
            _u64(run[key], key, 1)
    d = _core.memory(data, location, **run)
    return Memory(**d)
