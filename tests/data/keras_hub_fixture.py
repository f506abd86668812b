"""What the KerasHub fixture generators of whole models (make_keras_hub_cnn.py,
make_keras_hub_cnn2.py, make_keras_hub_readers.py, make_keras_hub_det.py) share: Keras on jax unless
KERAS_BACKEND says otherwise, a model recorded as make_keras_extra.py's `describe()`
records Keras models plus the shapes of its several-output layers, and the loop that
builds each model in a fresh Keras session (Keras's automatic layer names), rebuilds only
the models named on the command line (the others kept from the fixture) and writes it.
Imported by the generators; needs keras and keras-hub."""
import gzip
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras  # noqa: E402
import keras_hub  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_keras_extra import describe  # noqa: E402

M = keras_hub.models


def with_output_shapes(model, d):
    """`describe` records a layer of several outputs as 'None'; their shapes go under
    `output_shapes`, in Keras's order of the outputs (a dict's sorted by key)."""
    for layer, row in zip(model.layers, d["layers"]):
        if isinstance(layer.output, (list, tuple, dict)):
            row["output_shapes"] = [list(t.shape) for t in keras.tree.flatten(layer.output)]
    return d


def write(out, only, tables, presets, stateless=None, extra=dict, built=None):
    """Records the models of `tables` (`(kind, {name: make})` pairs) into `out`; with names
    in `only`, only those are rebuilt, the others kept from `out`. `presets` maps the
    presets' names to the `params` metadata recorded beside them (`preset_params`); the
    models `stateless(kind, name)` picks (by default the presets) are preset-sized, built
    in a `keras.StatelessScope()` without weights. `extra()` gives the fixture's keys
    after `models`; `built(kind, name, model)`, if given, sees each model rebuilt."""
    kept = {}
    if only:
        with gzip.open(out, "rt") as f:
            kept = {m["name"]: m for m in json.load(f)["models"]}
    models = []
    for kind, table in tables:
        for name, make in table.items():
            if only and name not in only and name in kept:
                models.append(kept[name])
                continue
            keras.backend.clear_session()
            if stateless(kind, name) if stateless else name in presets:
                with keras.StatelessScope():
                    model = make()
                    d = with_output_shapes(model, describe(model, kind, name))
            else:
                model = make()
                d = with_output_shapes(model, describe(model, kind, name))
            if name in presets:
                d["preset_params"] = presets[name]
            d["class_name"] = type(model).__name__
            models.append(d)
            if built:
                built(kind, name, model)
            print(f"{name}: {d['total_params']:,} params ({d['trainable_params']:,} trainable), "
                  f"{len(d['layers'])} rows{', preset ' + format(d['preset_params'], ',') if 'preset_params' in d else ''}",
                  file=sys.stderr, flush=True)
    meta = dict(keras=keras.__version__, keras_hub=keras_hub.__version__, backend=keras.backend.backend())
    with gzip.open(out, "wt") as f:
        json.dump(dict(meta=meta, models=models, **extra()), f)
