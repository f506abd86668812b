"""KerasHub models unlike the fixtures, as a held-out set would hold them: each unique backbone
or encoder of the KerasHub fixtures (FIXTURES) with one constructor argument changed (a flag
flipped, one more layer, seven more vocabulary rows, dropout on; at most four per model,
chosen by a fixed seed), built by the real keras-hub from its constructor and recorded as
make_keras_hub.py records them (`describe`). A change keras-hub refuses is listed under
`build_failures` with its error.

usage: KERAS_BACKEND=jax /work/scratch/keras/bin/python tests/data/make_keras_hub_mutants.py [OUTFILE]
  (keras 3.15.1, keras-hub 0.32); OUTFILE defaults to tests/data/keras_hub_mutants.json.gz.
"""
import copy
import gzip
import json
import os
import random
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras  # noqa: E402
import keras_hub  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_keras_hub import describe  # noqa: E402

LAYER_COUNTS = ("num_layers", "num_hidden_layers", "num_transformer_layers",
                "num_decoder_layers", "num_encoder_layers")
PER_MODEL = 4
# the fixtures mutated, named (not globbed) so that a new fixture does not change this set
FIXTURES = ["keras_hub.json.gz", "keras_hub_flux.json.gz", "keras_hub_more.json.gz",
            "keras_hub_multimodal.json.gz", "keras_hub_new.json.gz", "keras_hub_roformer.json.gz",
            "keras_hub_sd3.json.gz", "keras_hub_tasks.json.gz", "keras_hub_text.json.gz",
            "keras_hub_vision.json.gz", "keras_hub_vision_more.json.gz"]


def fixture_backbones():
    """(name, model_json) of every unique backbone or encoder in the KerasHub fixtures."""
    seen, found = set(), []
    for fixture in FIXTURES:
        for m in json.loads(gzip.open(os.path.join(HERE, fixture), "rt").read())["models"]:
            model_json = m["model_json"]
            if not model_json.get("class_name", "").endswith(("Backbone", "Encoder")):
                continue
            key = json.dumps(model_json, sort_keys=True)
            if key not in seen:
                seen.add(key)
                found.append((m["name"], model_json))
    return found


def mutations(config, rng):
    """Up to PER_MODEL (label, change) pairs, each changing one constructor argument."""
    out = []
    for key, value in config.items():
        if key in ("name", "trainable", "dtype"):
            continue
        if isinstance(value, bool):
            out.append((f"{key}={not value}", {key: not value}))
        elif isinstance(value, int) and key in LAYER_COUNTS:
            out.append((f"{key}={value + 1}", {key: value + 1}))
        elif isinstance(value, int) and key.startswith("vocab"):
            out.append((f"{key}={value + 7}", {key: value + 7}))
        elif isinstance(value, float) and "dropout" in key and value == 0.0:
            out.append((f"{key}=0.1", {key: 0.1}))
    rng.shuffle(out)
    return out[:PER_MODEL]


def build(model_json, change):
    """The model of `model_json` with `change`, from its constructor as a user builds it,
    without the `trainable` and `name` its JSON records: passed on, `trainable=True` makes
    every layer trainable (Whisper's frozen positions among them) and a name prefixes the
    layers of the encoders that name theirs after it (CLIP, SigLIP, DINOv2, DINOv3)."""
    model_json = copy.deepcopy(model_json)
    model_json["config"].update(change)
    for key in ("trainable", "name"):
        model_json["config"].pop(key, None)
    # fresh name counters: each model's auto-named layers as in a process of its own
    keras.backend.clear_session()
    return keras.saving.deserialize_keras_object(model_json)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "keras_hub_mutants.json.gz")
    rng = random.Random(7)
    models, failures = [], []
    for name, model_json in fixture_backbones():
        for label, change in mutations(model_json["config"], rng):
            try:
                models.append(describe(build(model_json, change), "mutant", f"{name}[{label}]"))
            except Exception as e:  # keras-hub refuses the change: recorded, not a fixture
                failures.append((name, label, str(e)[:80]))
    with gzip.open(out, "wt") as f:
        json.dump({"keras": keras.__version__, "keras_hub": keras_hub.__version__,
                   "models": models, "build_failures": failures}, f)
    print(f"{len(models)} built, {len(failures)} refused by keras-hub: {out}")


if __name__ == "__main__":
    main()
