"""`archbudget summary MODEL`."""
from archbudget.cli import options
from archbudget.cli.errors import reported
from archbudget.cli.run import show_summary


def summary(
    model: options.Model,
    head: options.Head = None,
    explain: bool = False,
    custom_layers: options.CustomLayers = None,
    format: options.Format = options.OutputFormat.table,
) -> None:
    """Per-layer output shapes and parameter counts, as Keras's model.summary().

    For a transformers config.json, one row per module. --explain shows each count as its
    formula.
    """
    with reported():
        show_summary(model, head.value if head else None, explain, custom_layers, format.value)
