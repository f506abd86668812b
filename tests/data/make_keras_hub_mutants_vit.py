"""KerasHub models unlike the hub-vit fixtures, as a held-out set would hold them: each backbone
of keras_hub_vit.json.gz (ViTDet, SAM, Depth Anything) with one constructor argument changed,
chosen and built as make_keras_hub_mutants.py does (`mutations`, `build`, `describe`). An
argument that is a serialized keras-hub layer or model (SAM's three parts, Depth Anything's
DINOv2 encoder) has its own arguments changed, one part at a time. Each changed backbone is
also recorded in its task model (SAMImageSegmenter, the model that builds and so counts SAM's
mask decoder; DepthAnythingDepthEstimator). A change keras-hub refuses is listed under `build_failures` with its error.

usage: KERAS_BACKEND=jax /work/scratch/keras/bin/python tests/data/make_keras_hub_mutants_vit.py [OUTFILE]
  (keras 3.15.1, keras-hub 0.32); OUTFILE defaults to tests/data/keras_hub_mutants_vit.json.gz.
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

FIXTURE = "keras_hub_vit.json.gz"
TASKS = {"SAMBackbone": ("SAMImageSegmenter", {}),
         "DepthAnythingBackbone": ("DepthAnythingDepthEstimator",
                                   {"depth_estimation_type": "relative"})}


def fixture_backbones():
    """(name, model_json) of each backbone of the fixture (the released sizes left out: a
    changed ViT-H is a minute to build and no other kind of model)."""
    data = json.loads(gzip.open(os.path.join(HERE, FIXTURE), "rt").read())
    return [(m["name"], m["model_json"]) for m in data["models"]
            if m["kind"] == "backbone"]


def changes(model_json, rng):
    """(label, change) pairs: the backbone's own arguments and each serialized part's."""
    config = model_json["config"]
    out = mutations(config, rng)
    parts = [key for key, value in config.items()
             if isinstance(value, dict) and "keras_hub>" in str(value.get("registered_name"))]
    for part in parts:
        for label, change in mutations(config[part]["config"], rng):
            changed = copy.deepcopy(config[part])
            changed["config"].update(change)
            out.append((f"{part}.{label}", {part: changed}))
    return out


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "keras_hub_mutants_vit.json.gz")
    rng = random.Random(7)
    models, failures = [], []
    for name, model_json in fixture_backbones():
        for label, change in changes(model_json, rng):
            try:
                model = build(model_json, change)
                models.append(describe(model, "mutant", f"{name}[{label}]"))
                if model_json["class_name"] in TASKS:
                    task, arguments = TASKS[model_json["class_name"]]
                    wrapped = getattr(keras_hub.models, task)(backbone=model, preprocessor=None,
                                                              **arguments)
                    models.append(describe(wrapped, "mutant", f"{name}:{task}[{label}]"))
            except Exception as e:  # keras-hub refuses the change: recorded, not a fixture
                failures.append((name, label, str(e)[:80]))
            print(name, label, models[-1]["total_params"] if models else None, flush=True)
    with gzip.open(out, "wt") as f:
        json.dump({"keras": keras.__version__, "keras_hub": keras_hub.__version__,
                   "models": models, "build_failures": failures}, f)
    print(f"{len(models)} built, {len(failures)} refused by keras-hub: {out}")


if __name__ == "__main__":
    main()
