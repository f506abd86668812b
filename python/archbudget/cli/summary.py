"""`archbudget summary MODEL`."""
from archbudget import api
from archbudget.cli import options
from archbudget.cli.errors import reported
from archbudget.cli.input import read_model
from archbudget.cli.output import print_json, print_summary
from archbudget.errors import UnknownLayerError


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
        if custom_layers:
            api.register_layers_file(custom_layers)
        data, location = read_model(model)
        try:
            s = api.summary_bytes(data, location, head.value if head else None)
        except UnknownLayerError as e:
            # Every other row still shown, totals as lower bounds; then the error line
            # and exit status 2.
            if hasattr(e, "summary"):
                show(e.summary, format, explain)
            raise
        show(s, format, explain)


def show(s: api.Summary, format: options.OutputFormat, explain: bool) -> None:
    if format is options.OutputFormat.json:
        document = s.to_dict()
        if explain:
            for row, full in zip(document["layers"], s.rows):
                row["explain"] = full["explain"]
        print_json(document)
    else:
        print_summary(s, explain)
