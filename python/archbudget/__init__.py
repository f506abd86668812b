"""archbudget: exact parameter counts, shapes, FLOPs and peak GPU memory of neural
networks from their description (Keras JSON, transformers config.json, family
templates), without building them."""
from __future__ import annotations

# Each public name and the module defining it. They are imported on first use (PEP 562),
# so that `import archbudget` and `archbudget summary` load neither polars nor numpy.
_EXPORTS = {
    "ArchBudgetError": "archbudget.errors",
    "Budget": "archbudget.budget",
    "Check": "archbudget.budget",
    "DoesNotFitError": "archbudget.errors",
    "Fit": "archbudget.gpu",
    "Memory": "archbudget.api",
    "Summary": "archbudget.api",
    "__version__": "archbudget._core",
    "fit": "archbudget.gpu",
    "gpu_budget_bytes": "archbudget.gpu",
    "gpus": "archbudget.gpu",
    "memory": "archbudget.api",
    "register_layer": "archbudget.api",
    "summary": "archbudget.api",
    "sweep": "archbudget.api",
}

__all__ = list(_EXPORTS)

# Not `typing.TYPE_CHECKING`: importing typing costs the CLI's start a few milliseconds.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from archbudget._core import __version__
    from archbudget.api import Memory, Summary, memory, register_layer, summary, sweep
    from archbudget.budget import Budget, Check
    from archbudget.errors import ArchBudgetError, DoesNotFitError
    from archbudget.gpu import Fit, fit, gpu_budget_bytes, gpus


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'archbudget' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once: later lookups do not come here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
