"""The Python API: thin functions over the native core."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import polars as pl

from archbudget import _core
from archbudget.errors import ArchBudgetError

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
        path = Path(model)
        try:
            return path.read_bytes(), str(model)
        except OSError as e:
            raise ArchBudgetError(f"{model}: cannot read: {e.strerror or e}") from None
    raise TypeError(f"model must be a path, a JSON string, a dict or bytes, not {type(model).__name__}")


@dataclass(frozen=True)
class Summary:
    """Rows and totals of a model, as Keras's `model.summary()` (or per module for a
    transformers config)."""

    name: str
    format: str
    total_params: int
    trainable_params: int
    non_trainable_params: int
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
                "output_shape": [_shape_text(r["output_shape"]) for r in self.rows],
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
            "layers": [
                {k: r[k] for k in ("name", "class_name", "output_shape", "params", "trainable", "non_trainable")}
                for r in self.rows
            ],
        }


def _shape_text(shape: Any) -> str | None:
    """`(None, 16, 128)` as Keras prints it; a list of them for several outputs."""
    if shape is None:
        return None
    if shape and isinstance(shape[0], list):
        return "[" + ", ".join(_shape_text(s) for s in shape) + "]"
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
        functional=d["functional"],
        rows=d["layers"],
    )
