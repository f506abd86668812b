"""KerasHub audio and video models unlike the fixtures (group `av`: Moonshine, RWKV7,
VideoPrism), as a held-out set would hold them: each backbone of those families in
tests/data/keras_hub_text2.json.gz with one constructor argument changed, by
make_keras_hub_mutants.py's `mutations` (a flag flipped, one more layer, more vocabulary
rows, dropout on; at most four per model, fixed seed) and by the options those leave out
(EXTRA: layer counts, heads, head padding, rotary fraction, widths of each family), built
by the real keras-hub from its constructor (`build`) and recorded by `describe`. A change
keras-hub refuses is listed under `build_failures` with its error.

usage: KERAS_BACKEND=jax /work/scratch/keras/bin/python tests/data/make_keras_hub_mutants_av.py [OUTFILE]
  (keras 3.15.1, keras-hub 0.32); OUTFILE defaults to tests/data/keras_hub_mutants_av.json.gz.
"""
import gzip
import json
import os
import random
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_keras_hub_mutants import build, describe, keras, keras_hub, mutations  # noqa: E402

FIXTURE = "keras_hub_text2.json.gz"
CLASSES = ("MoonshineBackbone", "RWKV7Backbone", "VideoPrismBackbone")
# the released checkpoints' sizes take minutes to build, and memory does not lower RWKV7 or
# VideoPrism yet (one fixture of each stands in for the refusal): skipped
SKIP = {"moonshine_tiny_en", "moonshine_base_en", "RWKV7_defaults", "VideoPrism_wide"}
# constructor arguments `mutations` leaves alone, per class: (label, change)
EXTRA = {
    "MoonshineBackbone": [
        ("encoder_num_layers+1", lambda c: {"encoder_num_layers": c["encoder_num_layers"] + 1}),
        ("decoder_num_layers+1", lambda c: {"decoder_num_layers": c["decoder_num_layers"] + 1}),
        ("decoder_num_heads=4", lambda c: {"decoder_num_heads": 4}),
        ("pad_head_dim_to_multiple_of=16", lambda c: {"pad_head_dim_to_multiple_of": 16}),
        ("partial_rotary_factor=0.8", lambda c: {"partial_rotary_factor": 0.8}),
        ("feedforward_expansion_factor=3", lambda c: {"feedforward_expansion_factor": 3}),
    ],
    "RWKV7Backbone": [("num_layers+1", lambda c: {"num_layers": c["num_layers"] + 1})],
    "VideoPrismBackbone": [("num_frames+2", lambda c: {"num_frames": c["num_frames"] + 2})],
}


def backbones():
    """(name, model_json) of each backbone of the group's families in the fixture."""
    models = json.loads(gzip.open(os.path.join(HERE, FIXTURE), "rt").read())["models"]
    return [(m["name"], m["model_json"]) for m in models
            if m["model_json"]["class_name"] in CLASSES and m["name"] not in SKIP]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "keras_hub_mutants_av.json.gz")
    rng = random.Random(7)
    models, failures = [], []
    for name, model_json in backbones():
        config = model_json["config"]
        changes = mutations(config, rng) + [(label, f(config)) for label, f in EXTRA[model_json["class_name"]]]
        for label, change in changes:
            try:
                models.append(describe(build(model_json, change), "mutant", f"{name}[{label}]"))
            except Exception as e:  # keras-hub refuses the change: recorded, not a fixture
                failures.append((name, label, str(e)[:80]))
            print(name, label, "ok" if not failures or failures[-1][1] != label else "refused", flush=True)
    with gzip.open(out, "wt") as f:
        json.dump({"keras": keras.__version__, "keras_hub": keras_hub.__version__,
                   "models": models, "build_failures": failures}, f)
    print(f"{len(models)} built, {len(failures)} refused by keras-hub: {out}")


if __name__ == "__main__":
    main()
