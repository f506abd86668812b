"""KerasHub Gemma3nBackbone models unlike the fixtures, as a held-out set would hold them:
the Gemma3n backbones of tests/data/keras_hub_text2.json.gz changed as
make_keras_hub_mutants.py changes every fixture backbone (`mutations`: a flag flipped, one
more layer, more vocabulary rows, dropout on), plus one change of each constructor option
those leave alone (OPTIONS: activation sparsity, the AltUp coefficient clip and active
stream, the logit soft cap, KV sharing, the activation, widths, windows and kinds of
layer), built by the real keras-hub from its constructor and recorded as
make_keras_hub.py records them (`describe`), with `keras_runs`: whether the model runs a
forward on 2 × 5 tokens (a KV-shared layer with no earlier layer of its kind builds, but
keras-hub's attention fails on it). A change keras-hub refuses is listed under
`build_failures` with its error.

usage: KERAS_BACKEND=jax /work/scratch/keras/bin/python tests/data/make_keras_hub_mutants_gemma3n.py [OUTFILE]
  (keras 3.15.1, keras-hub 0.32); OUTFILE defaults to tests/data/keras_hub_mutants_gemma3n.json.gz.
"""
import gzip
import json
import os
import random
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_keras_hub_mutants import build, describe, keras, keras_hub, mutations  # noqa: E402

FIXTURE = "keras_hub_text2.json.gz"
# (label, change) of the options `mutations` never changes, for a 3-layer fixture
OPTIONS = [
    ("sparse", dict(activation_sparsity_pattern=[0.95, 0.0, 0.5])),
    ("coef_clip", dict(altup_coef_clip=120.0)),
    ("soft_cap", dict(final_logit_soft_cap=30.0)),
    ("active_idx", dict(altup_active_idx=1)),
    ("shared_kv", dict(num_kv_shared_layers=1)),
    ("all_shared", dict(num_kv_shared_layers=3)),
    ("gelu", dict(hidden_activation="gelu")),
    ("silu", dict(hidden_activation="silu")),
    ("widths", dict(intermediate_size=[40, 16, 24], head_dim=4, laurel_rank=5,
                    hidden_size_per_layer_input=6)),
    ("kv_heads", dict(num_key_value_heads=4, num_attention_heads=4)),
    ("all_full", dict(layer_types=["full_attention"] * 3)),
    ("window", dict(sliding_window=2)),
    ("four_layers", dict(num_hidden_layers=4, intermediate_size=[32, 32, 24, 16],
                         layer_types=["sliding_attention", "full_attention"] * 2,
                         num_kv_shared_layers=2)),
    ("altup_one", dict(altup_num_inputs=1)),
]


def backbones():
    """(name, model_json) of the fixture's Gemma3n backbones."""
    models = json.loads(gzip.open(os.path.join(HERE, FIXTURE), "rt").read())["models"]
    return [(m["name"], m["model_json"]) for m in models
            if m["model_json"].get("registered_name") == "keras_hub>Gemma3nBackbone"]


def runs(model):
    try:
        model({"token_ids": np.ones((2, 5), "int32"), "padding_mask": np.ones((2, 5), "bool")})
        return True
    except TypeError:  # a shared layer's missing k/v: `None[:, 0, ...]`
        return False


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "keras_hub_mutants_gemma3n.json.gz")
    rng = random.Random(7)
    models, failures = [], []
    for name, model_json in backbones():
        changes = mutations(model_json["config"], rng) + (OPTIONS if name == "Gemma3n" else [])
        for label, change in changes:
            try:
                model = build(model_json, change)
                record = describe(model, "mutant", f"{name}[{label}]")
            except Exception as e:  # keras-hub refuses the change: recorded, not a fixture
                failures.append((name, label, str(e)[:80]))
                continue
            record["keras_runs"] = runs(model)
            models.append(record)
    with gzip.open(out, "wt") as f:
        json.dump({"keras": keras.__version__, "keras_hub": keras_hub.__version__,
                   "models": models, "build_failures": failures}, f)
    print(f"{len(models)} built, {len(failures)} refused by keras-hub: {out}")
    for f in failures:
        print("  refused:", f)


if __name__ == "__main__":
    main()
