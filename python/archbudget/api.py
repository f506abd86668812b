"""The Python API: thin functions over the native core."""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Union

from archbudget import _core
from archbudget.errors import ArchBudgetError, InvalidValueError, UnknownLayerError
from archbudget.gpu import DEFAULT_MFU, HeadroomLike, gpu_args
from archbudget.units import parse_bytes, parse_count

if TYPE_CHECKING:
    import polars as pl

ModelLike = Union[str, os.PathLike, dict, bytes]
Head = Literal["base", "causal_lm"]


def _model_bytes(model: ModelLike) -> tuple[bytes, str]:
    """The bytes of a model given as a path, a JSON string, a dict or raw bytes, and the
    name to use for it in error messages."""
    if isinstance(model, dict):
        import json

        return json.dumps(model).encode(), "<dict>"
    if isinstance(model, bytes):
        return model, "<bytes>"
    if isinstance(model, str) and model.lstrip().startswith("{"):
        return model.encode(), "<json>"
    if isinstance(model, (str, os.PathLike)):
        return read_path(model), str(model)
    raise TypeError(f"model must be a path, a JSON string, a dict or bytes, not {type(model).__name__}")


def read_path(path: str | os.PathLike) -> bytes:
    """A file's bytes, or ArchBudgetError naming the path. Reading stops at the input cap,
    so a huge file or a FIFO that never ends costs no more; a device is refused."""
    try:
        with open(path, "rb") as f:
            mode = os.fstat(f.fileno()).st_mode
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
                raise ArchBudgetError(f"{path}: a device, not a file (use '-' to read standard input)")
            return read_capped(f, str(path))
    except OSError as e:
        raise ArchBudgetError(f"{path}: cannot read: {e.strerror or e}") from None


def read_capped(stream, location: str) -> bytes:
    """At most the core's input cap from a binary stream; more is an error."""
    data = stream.read(_core.MAX_INPUT_BYTES + 1)
    if len(data) > _core.MAX_INPUT_BYTES:
        raise ArchBudgetError(f"{location}: input is larger than {_core.MAX_INPUT_BYTES >> 20} MiB")
    return data


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
    # Custom layers neither saved in a .keras archive nor declared: their rows' counts
    # are unknown and the totals are lower bounds (raised as UnknownLayerError.summary).
    undeclared: tuple[str, ...] = ()
    # What the reader could not know (a KerasHub model counted from its archive's
    # weights alone: output shapes, most classes); empty for a model read whole.
    notes: tuple[str, ...] = ()

    @property
    def lower_bound(self) -> bool:
        """Whether the totals leave out undeclared custom layers."""
        return bool(self.undeclared)

    @property
    def layers(self) -> pl.DataFrame:
        """One row per layer (module): name, class_name, output_shape, params,
        trainable, non_trainable, explain."""
        import polars as pl  # here, not at the top: `summary` itself needs no polars

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
            **({"lower_bound": True} if self.undeclared else {}),
            **({"notes": list(self.notes)} if self.notes else {}),
            "layers": [self._row(r) for r in self.rows],
        }

    def _row(self, r: dict[str, Any]) -> dict[str, Any]:
        row = {k: r[k] for k in ("name", "class_name", "output_shape", "params", "trainable", "non_trainable")}
        if r["name"] in self.undeclared:
            row.update(params=None, trainable=None, non_trainable=None)
        return row


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
    s = Summary(
        name=d["name"],
        format=d["format"],
        total_params=d["total_params"],
        trainable_params=d["trainable_params"],
        non_trainable_params=d["non_trainable_params"],
        active_params=d["active_params"],
        functional=d["functional"],
        rows=d["layers"],
        undeclared=tuple(d["undeclared"]),
        notes=tuple(d["notes"]),
    )
    if s.undeclared:
        # The error, carrying the summary of every other layer (totals: lower bounds).
        error = UnknownLayerError(d["undeclared_error"])
        error.summary = s
        raise error
    return s


SpaceLike = Union[str, os.PathLike, dict]


def register_layer(
    class_name: str,
    weights: dict[str, list[int | str]] | None = None,
    output: list[int | str] | None = None,
    non_trainable: list[str] | None = None,
) -> None:
    """Declare a custom Keras layer for models given as JSON alone: its weights (name ->
    sizes) and its output's non-batch sizes, each an integer or a formula of the layer's
    config keys and its first input's sizes `in1` ... `inN` (`last`), such as
    `register_layer("VectorQuantizer", weights={"embeddings": ["embedding_dim",
    "num_embeddings"]})`. Without `output`, the shape its consumers recorded is used."""
    entry: dict[str, Any] = {}
    if weights is not None:
        entry["weights"] = weights
    if output is not None:
        entry["output"] = output
    if non_trainable is not None:
        entry["non_trainable"] = non_trainable
    import json

    _core.register_custom_layers(json.dumps({class_name: entry}), f"register_layer({class_name!r})", False)


def register_layers_file(path: str | os.PathLike) -> list[str]:
    """Declare the custom layers of a TOML file (`--custom-layers FILE`, the same
    tables as `register_layer` takes); returns their class names."""
    text = read_path(path).decode("utf-8", errors="replace")
    return _core.register_custom_layers(text, str(path), True)


def run_overrides(lora_rank=None, lora_targets=None, lora_dropout=None, quantize=None) -> dict[str, Any]:
    """Run settings given beside a space (they replace its [run] values), as the space
    file names them; the ones left None are not set."""
    if isinstance(lora_targets, (list, tuple)):
        lora_targets = ",".join(lora_targets)
    run = {"lora_rank": lora_rank, "lora_targets": lora_targets, "lora_dropout": lora_dropout, "quantize": quantize}
    return {k: v for k, v in run.items() if v is not None}


def search_space(space: SpaceLike, run: dict[str, Any] | None = None) -> _core.SearchSpace:
    """Parse a space once (a TOML path, or a dict of the TOML's shape), with `run`
    settings replacing its [run] values."""
    import json
    from pathlib import Path

    run_json = json.dumps(run) if run else None
    if isinstance(space, dict):
        return _core.SearchSpace(json.dumps(space), "<dict>", False, os.getcwd(), run=run_json)
    if isinstance(space, (str, os.PathLike)):
        return space_from_toml(read_path(space), str(space), Path(space).parent, run_json)
    raise TypeError(f"space must be a path or a dict, not {type(space).__name__}")


def space_from_toml(data: bytes, location: str, base_dir: os.PathLike, run_json: str | None = None) -> _core.SearchSpace:
    """A space from the bytes of a TOML file; a keras template is found from `base_dir`;
    `run_json` replaces its [run] values."""
    try:
        text = data.decode()
    except UnicodeDecodeError as e:
        raise ArchBudgetError(f"{location}: not a TOML text file (not UTF-8 at byte {e.start})") from None
    return _core.SearchSpace(text, location, True, str(base_dir), run=run_json)


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


def _u64(value: Any, what: str, minimum: int = 0) -> int:
    """An integer the core takes as 64 bits unsigned: checked here, so that a huge or
    negative one, a bool or a float is bad input rather than a conversion error."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidValueError(f"{what}: expected an integer, got {value!r}")
    if not minimum <= value < 2**64:
        raise InvalidValueError(f"{what}: {value} is not an integer from {minimum} to 2^64 - 1")
    return value


def sweep_options(
    max_params=None, min_params=None, max_memory=None, max_flops=None, sort=None, descending=False, top=None, pareto=False,
    gpu=None, headroom=None, mfu=DEFAULT_MFU,
) -> dict[str, Any]:
    """Budgets as the core takes them: counts and sizes given as ints or `350M` / `24GiB`;
    a named GPU adds its budget (the smaller of it and `max_memory` applies) and time
    columns."""
    if top is not None:
        _u64(top, "top", 1)
    return {
        **gpu_args(gpu, headroom, mfu),
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
    gpu: str | None = None,
    headroom: HeadroomLike = None,
    mfu: float = DEFAULT_MFU,
    backend: Literal["local", "ray"] = "local",
    address: str | None = None,
    shards: int | None = None,
    lora_rank: int | None = None,
    lora_targets: str | list[str] | None = None,
    lora_dropout: float | None = None,
    quantize: str | None = None,
) -> pl.DataFrame:
    """Enumerate a search space in the native core and return the candidates inside the
    budgets as a Polars frame: a `candidate` index, one column per axis, then params,
    trainable_params, peak_bytes, FLOPs and the memory breakdown. Budgets, constraints,
    `top` and `pareto` are applied before anything reaches Python. `gpu` names a card
    whose budget (`gpu_budget_bytes`) cuts like `max_memory` and adds the time estimate
    columns step_time_s, samples_per_s, tokens_per_s and time_per_token_s. `lora_rank`,
    `lora_targets`, `lora_dropout` and `quantize` set those run settings of every
    candidate (as in `memory`), replacing the space's [run] values.

    `backend="ray"` runs `shards` index ranges (default: 4 per CPU of the cluster) as
    Ray tasks on a local Ray, or on the cluster at `address`, and merges them into the
    same rows (extra `archbudget[ray]`)."""
    s = search_space(space, run_overrides(lora_rank, lora_targets, lora_dropout, quantize))
    opts = sweep_options(max_params, min_params, max_memory, max_flops, sort, descending, top, pareto, gpu, headroom, mfu)
    if backend == "ray":
        if shard is not None:
            raise ArchBudgetError("shard: the ray backend splits the space itself; use shards=N")
        from archbudget.ray_backend import sweep_on_ray

        frame, stats = sweep_on_ray(s, opts, address=address, shards=shards)
        warn_invalid(stats)
        return frame
    if backend != "local":
        raise ArchBudgetError(f"backend: expected 'local' or 'ray', got {backend!r}")
    if address is not None or shards is not None:
        raise ArchBudgetError("address and shards are for backend='ray'")
    rng = parse_shard(shard, s.size)
    start, stop = rng if rng else (None, None)
    columns = s.sweep(**opts, start=start, stop=stop)
    warn_invalid(columns["stats"])
    from archbudget.frames import sweep_frame

    return sweep_frame(columns)


def warn_invalid(stats: dict[str, Any]) -> None:
    """A warning naming the first candidate that could not be built, if any."""
    if stats["invalid"]:
        import warnings

        warnings.warn(
            f"{stats['invalid']} candidates could not be built and were skipped; the first: {stats['first_invalid']}",
            stacklevel=3,
        )


@dataclass(frozen=True)
class Memory:
    """Peak GPU memory of one training or inference step of the model's PyTorch
    equivalent, as `torch.cuda.max_memory_allocated()` would show it, with what is alive
    at the peak and the FLOPs of the step."""

    peak_bytes: int
    params: int
    trainable_params: int
    buffers: int
    breakdown: dict[str, int]
    flops_fwd: int
    flops_fwd_bwd: int
    # With a GPU named: {name, memory_bytes, budget_bytes, fits, margin_bytes}.
    gpu: dict[str, Any] | None = None
    # With a GPU named: {mfu, step_time_s, samples_per_s, tokens_per_s, time_per_token_s},
    # estimates (README, "Time estimates"); None where the card lacks the precision.
    estimates: dict[str, Any] | None = None
    # What was assumed that the model's description does not say (a custom layer's
    # output shape nothing records), a line each.
    notes: tuple[str, ...] = ()

    @classmethod
    def from_core(cls, d: dict[str, Any]) -> Memory:
        return cls(**{**d, "notes": tuple(d.get("notes", ()))})

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of `archbudget memory --format json` (SPEC.md)."""
        document = {
            "peak_bytes": self.peak_bytes,
            "params": self.params,
            "trainable_params": self.trainable_params,
            "buffers": self.buffers,
            "breakdown": dict(self.breakdown),
            "flops_fwd": self.flops_fwd,
            "flops_fwd_bwd": self.flops_fwd_bwd,
        }
        if self.gpu is not None:
            document["gpu"] = dict(self.gpu)
            document["estimates"] = None if self.estimates is None else dict(self.estimates)
        if self.notes:
            document["notes"] = list(self.notes)
        return document


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
    gpu: str | None = None,
    headroom: HeadroomLike = None,
    mfu: float = DEFAULT_MFU,
    lora_rank: int | None = None,
    lora_targets: str | list[str] | None = None,
    lora_dropout: float = 0.0,
    quantize: Literal["int8", "nf4", "fp4", "int4", "fp8", "mxfp4"] | None = None,
) -> Memory:
    """Peak bytes of one step (SPEC.md's protocol: PyTorch eager on one CUDA GPU; training
    is forward + loss + backward + optimizer step), with its breakdown and FLOPs. `seq`
    is the tokens per sequence of a transformer (required there; the prompt in
    `generate` mode, which decodes `new_tokens` more) and fills an unknown time axis of a
    Keras input. `gpus` and `zero_stage` give the per-GPU bytes of data parallelism with
    ZeRO stage 0-3. `gpu` names a card (`archbudget.gpus()`): the result then says
    whether the peak fits its budget (`headroom`: a share such as 0.05 or a size such
    as "2GiB") and estimates the step's time at `mfu` of the card's peak. `lora_rank`
    fine-tunes LoRA adapters as peft builds them on `lora_targets` (module names such as
    "q_proj,v_proj", or "all-linear"; default: peft's for the model type), the base
    frozen; `quantize` stores the linear weights as int8, nf4, fp4, int4 (GPTQ) or fp8
    (what a config's `quantization_config` says otherwise)."""
    data, location = _model_bytes(model)
    return memory_bytes(data, location, mode=mode, batch=batch, seq=seq, precision=precision, optimizer=optimizer,
                        attn=attn, grad_ckpt=grad_ckpt, head=head, new_tokens=new_tokens, gpus=gpus, zero_stage=zero_stage,
                        gpu=gpu, headroom=headroom, mfu=mfu, lora_rank=lora_rank, lora_targets=lora_targets,
                        lora_dropout=lora_dropout, quantize=quantize)


# The least value of each integer run setting.
_RUN_MINIMUM = {"batch": 1, "seq": 1, "new_tokens": 0, "gpus": 1, "zero_stage": 0, "lora_rank": 1}


def check_run(run: dict[str, Any]) -> None:
    """Run settings the core takes as unsigned 64-bit integers or booleans, checked here."""
    for key, minimum in _RUN_MINIMUM.items():
        if run.get(key) is not None:
            _u64(run[key], key, minimum)
    if not isinstance(run.get("grad_ckpt", False), bool):
        raise InvalidValueError(f"grad_ckpt: expected True or False, got {run['grad_ckpt']!r}")
    targets = run.get("lora_targets")
    if isinstance(targets, (list, tuple)):
        run["lora_targets"] = ",".join(targets)


def memory_bytes(data: bytes, location: str, gpu: str | None = None, headroom: HeadroomLike = None,
                 mfu: float = DEFAULT_MFU, **run: Any) -> Memory:
    """`memory` of a description already read, named `location` in error messages."""
    check_run(run)
    seq, head = run.pop("seq", None), run.pop("head", None)
    d = _core.memory(data, location, run, seq=seq, head=head, **gpu_args(gpu, headroom, mfu))
    return Memory.from_core(d)
