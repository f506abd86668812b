"""KerasHub models unlike the hub-text3 fixtures, as a held-out set would hold them: each
small backbone of keras_hub_text3.json.gz (make_keras_hub_text3.py: PARSeq, BLIP2) with one
constructor argument changed, chosen as make_keras_hub_mutants.py chooses them (its
`mutations`: a flag flipped, a layer added, a larger vocabulary, at most four per model, a
fixed seed) in the backbone's own arguments and in each serialized part's (PARSeq's image encoder,
BLIP2's vision encoder, Q-Former and language model), plus the widths those leave alone
(label length, MLP widths, head count), built by the real keras-hub
from its constructor (its `build`) and recorded as make_keras_hub.py records them
(`describe`). Each changed backbone is also recorded in its task model (PARSeqCausalLM,
BLIP2CausalLM on OPT, BLIP2Seq2SeqLM on Flan-T5). A
change keras-hub refuses is listed under `build_failures` with its error.

usage: KERAS_BACKEND=jax /work/scratch/keras/bin/python tests/data/make_keras_hub_mutants_text3.py [OUTFILE]
  (keras 3.15.1, keras-hub 0.32); OUTFILE defaults to tests/data/keras_hub_mutants_text3.json.gz.
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
from make_keras_hub_mutants import build, describe, mutations  # noqa: E402
from make_keras_hub_text3 import parseq_task  # noqa: E402

FIXTURE = "keras_hub_text3.json.gz"
# preset-sized backbones are left out: their variants would take minutes to build
MAX_PARAMS = 1_000_000


def blip2_task(backbone):
    seq2seq = type(backbone.language_model).__name__ == "BLIP2FlanT5"
    task = keras_hub.models.BLIP2Seq2SeqLM if seq2seq else keras_hub.models.BLIP2CausalLM
    return task(backbone=backbone, preprocessor=None)


TASKS = {"PARSeqBackbone": parseq_task, "BLIP2Backbone": blip2_task}
# widths `mutations` leaves alone: key -> the changed value
WIDTHS = {"max_label_length": lambda v: v + 3, "decoder_mlp_dim": lambda v: v + 8,
          "num_decoder_heads": lambda v: v * 2, "mlp_dim": lambda v: v + 8,
          "intermediate_dim": lambda v: v + 8}


def fixture_backbones():
    """(name, model_json) of every unique small backbone of the fixture."""
    seen, found = set(), []
    for m in json.loads(gzip.open(os.path.join(HERE, FIXTURE), "rt").read())["models"]:
        model_json = m["model_json"]
        if m["total_params"] > MAX_PARAMS or not model_json["class_name"].endswith("Backbone"):
            continue
        key = json.dumps(model_json, sort_keys=True)
        if key not in seen:
            seen.add(key)
            found.append((m["name"], model_json))
    return found


def widths(config):
    return [(f"{key}={WIDTHS[key](v)}", {key: WIDTHS[key](v)})
            for key, v in config.items() if key in WIDTHS]


def changes(model_json, rng):
    """(label, change) pairs: the backbone's own arguments and each serialized part's."""
    config = model_json["config"]
    out = mutations(config, rng) + widths(config)
    parts = [key for key, value in config.items()
             if isinstance(value, dict) and "keras_hub>" in str(value.get("registered_name"))]
    for part in parts:
        for label, change in mutations(config[part]["config"], rng) + widths(config[part]["config"]):
            changed = copy.deepcopy(config[part])
            changed["config"].update(change)
            out.append((f"{part}.{label}", {part: changed}))
    return out


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "keras_hub_mutants_text3.json.gz")
    rng = random.Random(7)
    models, failures = [], []
    for name, model_json in fixture_backbones():
        for label, change in changes(model_json, rng):
            try:
                model = build(model_json, change)
                models.append(describe(model, "mutant", f"{name}[{label}]"))
                if model_json["class_name"] in TASKS:
                    wrapped = TASKS[model_json["class_name"]](model)
                    models.append(describe(wrapped, "mutant", f"{name}:task[{label}]"))
            except Exception as e:  # keras-hub refuses the change: recorded, not a fixture
                failures.append((name, label, str(e)[:80]))
            print(name, label, models[-1]["total_params"] if models else None, flush=True)
    with gzip.open(out, "wt") as f:
        json.dump({"keras": keras.__version__, "keras_hub": keras_hub.__version__,
                   "models": models, "build_failures": failures}, f)
    print(f"{len(models)} built, {len(failures)} refused by keras-hub: {out}")


if __name__ == "__main__":
    main()
