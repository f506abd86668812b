"""archbudget: exact parameter counts, shapes, FLOPs and peak GPU memory of neural
networks from their description (Keras JSON, transformers config.json, family
templates), without building them."""
from archbudget._core import __version__
from archbudget.api import Memory, Summary, memory, register_layer, summary, sweep
from archbudget.budget import Budget, Check
from archbudget.errors import ArchBudgetError, DoesNotFitError
from archbudget.gpu import Fit, fit, gpu_budget_bytes, gpus

__all__ = [
    "ArchBudgetError",
    "Budget",
    "Check",
    "DoesNotFitError",
    "Fit",
    "Memory",
    "Summary",
    "__version__",
    "fit",
    "gpu_budget_bytes",
    "gpus",
    "memory",
    "register_layer",
    "summary",
    "sweep",
]
