"""KerasHub convolutional models unlike the fixtures, as a held-out set would hold them: each
unique backbone of keras_hub_cnn.json.gz (make_keras_hub_cnn.py) with one constructor
argument changed, chosen as make_keras_hub_mutants.py chooses them (its `mutations`, a flag
flipped, at most four per model, a fixed seed), plus the list arguments those leave alone
(a stage added or dropped, another kernel, a light block flipped, a stage output dropped),
built by the real keras-hub from its constructor (its `build`) and recorded as
make_keras_hub.py records them (`describe`). A change keras-hub refuses is listed under
`build_failures` with its error.

usage: KERAS_BACKEND=jax /work/scratch/keras/bin/python tests/data/make_keras_hub_mutants_cnn.py [OUTFILE]
  (keras 3.15.1, keras-hub 0.32); OUTFILE defaults to tests/data/keras_hub_mutants_cnn.json.gz.
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

FIXTURE = "keras_hub_cnn.json.gz"
# preset-sized backbones are left out: their variants would take minutes to build
MAX_PARAMS = 1_000_000


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


def list_mutations(config, rng):
    """Changes of HGNetV2's per-stage lists: one stage more (the last repeated) or less,
    another kernel size, one more layer per block, a light block flipped, the stem output
    left out."""
    out = []
    stages = [list(s) for s in config.get("stackwise_stage_filters", [])]
    if not stages:
        return out
    per_stage = ("apply_downsample", "use_lightweight_conv_block", "depths", "hidden_sizes")
    last = stages[-1]
    grown = dict(stackwise_stage_filters=stages + [[last[2], last[1], last[2] * 2, 1, last[4], last[5]]],
                 **{k: config[k] + [config[k][-1] if k != "hidden_sizes" else last[2] * 2] for k in per_stage})
    grown["apply_downsample"][-1] = True
    grown["out_features"] = None
    out.append(("one stage more", grown))
    if len(stages) > 1:
        out.append(("one stage less", dict(stackwise_stage_filters=stages[:-1], out_features=None,
                                           **{k: config[k][:-1] for k in per_stage})))
    i = rng.randrange(len(stages))
    kernel = [list(s) for s in stages]
    kernel[i][5] = 5 if kernel[i][5] == 3 else 3
    out.append((f"stage {i} kernel {kernel[i][5]}", dict(stackwise_stage_filters=kernel)))
    deeper = [list(s) for s in stages]
    deeper[i][4] += 1
    out.append((f"stage {i} one more layer per block", dict(stackwise_stage_filters=deeper)))
    light = list(config["use_lightweight_conv_block"])
    light[i] = not light[i]
    out.append((f"stage {i} light={light[i]}", dict(use_lightweight_conv_block=light)))
    features = config.get("out_features") or []
    if "stem" in features and len(features) > 1:
        out.append(("no stem output", dict(out_features=[f for f in features if f != "stem"])))
    return out


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "keras_hub_mutants_cnn.json.gz")
    rng = random.Random(7)
    models, failures = [], []
    for name, model_json in fixture_backbones():
        config = model_json["config"]
        changes = mutations(config, rng) + list_mutations(config, rng)
        for label, change in changes:
            try:
                model = build(copy.deepcopy(model_json), change)
                models.append(describe(model, "mutant", f"{name}[{label}]"))
            except Exception as e:  # keras-hub refuses the change: recorded, not a fixture
                failures.append((name, label, str(e)[:80]))
    with gzip.open(out, "wt") as f:
        json.dump({"keras": keras.__version__, "keras_hub": keras_hub.__version__,
                   "models": models, "build_failures": failures}, f)
    print(f"{len(models)} built, {len(failures)} refused by keras-hub: {out}")


if __name__ == "__main__":
    main()
