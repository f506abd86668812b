"""archbudget: exact parameter counts, shapes, FLOPs and peak GPU memory of neural
networks from their description (Keras JSON, transformers config.json, family
templates), without building them."""
from archbudget._core import __version__
from archbudget.api import Memory, Summary, memory, register_layer, summary, sweep
from archbudget.errors import ArchBudgetError

__all__ = ["ArchBudgetError", "Memory", "Summary", "__version__", "memory", "register_layer", "summary", "sweep"]
