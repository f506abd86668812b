"""`Budget`: limits and run settings that a NAS pipeline checks each candidate against
before it builds or trains anything. A check runs the sweep's own evaluator in the core,
so its figures are the sweep row, `summary` counts and `memory` peak of the same model."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

from archbudget import _core
from archbudget.api import read_path, sweep_options
from archbudget.errors import ArchBudgetError
from archbudget.gpu import gpu_budget_bytes

Candidate = Union[dict, str, bytes, os.PathLike]


@dataclass(frozen=True)
class Check:
    """What `Budget.check` found: whether the candidate fits, its figures, and one
    constraint value per limit (`Budget.constraint_names`): the excess over the limit
    relative to it, <= 0 inside, > 0 outside, as Optuna's constrained samplers read them."""

    fits: bool
    params: int
    trainable_params: int
    peak_bytes: int
    flops_fwd: int
    flops_fwd_bwd: int
    constraints: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "fits": self.fits,
            "params": self.params,
            "trainable_params": self.trainable_params,
            "peak_bytes": self.peak_bytes,
            "flops_fwd": self.flops_fwd,
            "flops_fwd_bwd": self.flops_fwd_bwd,
        }


def _excess(over: int, limit: int) -> float:
    """`over` (a difference taken in integers: a ratio of two near-equal 64-bit counts
    could round an excess of one to zero) relative to the limit."""
    return over / limit if limit else float(over > 0)


class Budget:
    """Limits (`max_params`, `min_params`, `max_memory` or `gpu` (with `headroom`), `max_flops` on the
    forward + backward FLOPs of a step) and run settings (`batch`, `seq`, `precision`,
    `optimizer`, `mode`, `attn`, `grad_ckpt`, `head`, `new_tokens`, `gpus`,
    `zero_stage`: a space's `[run]` keys, with its defaults).

    `check(candidate)` takes a family dict (`{"family": "mlp", "input_dim": 784,
    "depth": 3, "width": 512, "classes": 10}`; run keys in it override the budget's), a
    transformers config dict (with `model_type`), a Keras model JSON (dict, text, or a
    path to a `.json` / `.keras` file), or `{"template": <Keras JSON or path>,
    "<layer>.<key>": value, ...}`."""

    def __init__(self, max_params=None, min_params=None, max_memory=None, gpu=None, max_flops=None, **run: Any):
        opts = sweep_options(max_params, min_params, max_memory, max_flops)
        if gpu is not None:
            gpu_bytes = gpu_budget_bytes(gpu, run.pop("headroom", None))
            opts["max_memory"] = gpu_bytes if opts["max_memory"] is None else min(opts["max_memory"], gpu_bytes)
        self.max_params = opts["max_params"]
        self.min_params = opts["min_params"]
        self.max_memory = opts["max_memory"]
        self.max_flops = opts["max_flops"]
        self.run = dict(run)
        self._base_dir = os.getcwd()
        self._core = self._native()
        # (name, metric, limit, sign): sign -1 for a lower bound.
        self._limits = [
            (name, metric, limit, sign)
            for name, metric, limit, sign in (
                ("max_params", "params", self.max_params, 1),
                ("min_params", "params", self.min_params, -1),
                ("max_memory", "peak_bytes", self.max_memory, 1),
                ("max_flops", "flops_fwd_bwd", self.max_flops, 1),
            )
            if limit is not None
        ]

    def _native(self) -> _core.Budget:
        try:
            run_json = json.dumps(self.run)
        except TypeError as e:
            raise ArchBudgetError(f"Budget: run settings must be numbers, strings or booleans ({e})") from None
        return _core.Budget(
            run_json,
            max_params=self.max_params,
            min_params=self.min_params,
            max_memory=self.max_memory,
            max_flops=self.max_flops,
            base_dir=self._base_dir,
        )

    # Pipelines ship budgets to worker processes (Ray pickles searchers and resource
    # callables): the native half is rebuilt from the limits and run settings.
    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_core"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._core = self._native()

    @property
    def constraint_names(self) -> tuple[str, ...]:
        """The limits set, in the order of `Check.constraints`."""
        return tuple(name for name, *_ in self._limits)

    def check(self, candidate: Candidate) -> Check:
        """Evaluate one candidate (microseconds: nothing is built)."""
        data, location = _candidate_bytes(candidate)
        fits, params, trainable, peak, fwd, fwd_bwd = self._core.check(data, location)
        figures = {"params": params, "peak_bytes": peak, "flops_fwd_bwd": fwd_bwd}
        constraints = tuple(
            _excess(figures[metric] - limit if sign > 0 else limit - figures[metric], limit)
            for _, metric, limit, sign in self._limits
        )
        return Check(fits, params, trainable, peak, fwd, fwd_bwd, constraints)

    def __repr__(self) -> str:
        limits = ", ".join(f"{name}={limit}" for name, _, limit, _ in self._limits)
        run = ", ".join(f"{k}={v!r}" for k, v in self.run.items())
        return f"Budget({', '.join(x for x in (limits, run) if x)})"


def _candidate_bytes(candidate: Candidate) -> tuple[bytes, str]:
    """The JSON (or `.keras` archive) bytes of a candidate and its name in messages."""
    if isinstance(candidate, dict):
        template = candidate.get("template")
        if isinstance(template, str) and template.lstrip().startswith("{"):
            candidate = {**candidate, "template": _json_text(template, "template")}
        elif isinstance(template, os.PathLike):
            candidate = {**candidate, "template": os.fspath(template)}
        try:
            return json.dumps(candidate).encode(), "candidate"
        except (TypeError, ValueError) as e:
            raise ArchBudgetError(f"candidate: values must be numbers, strings, booleans, lists or dicts ({e})") from None
    if isinstance(candidate, bytes):
        return candidate, "candidate"
    if isinstance(candidate, str) and candidate.lstrip().startswith("{"):
        return candidate.encode(), "candidate"
    if isinstance(candidate, (str, os.PathLike)):
        return read_path(candidate), str(Path(candidate))
    raise ArchBudgetError(
        f"candidate: expected a dict, a JSON text, bytes or a path, got {type(candidate).__name__}"
    )


def _json_text(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as e:
        raise ArchBudgetError(f"{what}: malformed JSON: {e}") from None
