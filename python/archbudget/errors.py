"""Exceptions of archbudget: one class per kind of bad input, all subclasses of
`ArchBudgetError` (itself a `ValueError`). They are defined by the native module, so that
the Rust core's error kinds map onto them in one place."""
from archbudget._core import (
    ArchBudgetError,
    DoesNotFitError,
    InternalError,
    InvalidValueError,
    OverflowError,
    ParseError,
    ShapeError,
    SpaceError,
    UnknownLayerError,
    UnknownModelTypeError,
)

__all__ = [
    "ArchBudgetError",
    "DoesNotFitError",
    "InternalError",
    "InvalidValueError",
    "OverflowError",
    "ParseError",
    "ShapeError",
    "SpaceError",
    "UnknownLayerError",
    "UnknownModelTypeError",
]
