"""KerasHub detection models unlike the fixtures, as a held-out set would hold them: each
unique backbone of keras_hub_det.json.gz (make_keras_hub_det.py) with one constructor
argument changed, chosen as make_keras_hub_mutants.py chooses them (its `mutations`, a flag
flipped or a layer count grown, a fixed seed), plus one of D-FINE's own arguments the
generic mutations leave alone (the class count, the decoder width, a feature level more,
the sampling points, the encoder's levels, depth and expansion, the decoder method, the
LQE head, denoising queries, the query count), built by the real keras-hub from its
constructor (its `build`) and recorded as make_keras_hub.py records them (`describe`). A
change keras-hub refuses is listed under `build_failures` with its error.

usage: KERAS_BACKEND=jax /work/scratch/keras/bin/python tests/data/make_keras_hub_mutants_det.py [OUTFILE]
  (keras 3.15.1, keras-hub 0.32); OUTFILE defaults to tests/data/keras_hub_mutants_det.json.gz.
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

FIXTURE = "keras_hub_det.json.gz"
# preset-sized backbones are left out: their variants would take minutes to build
MAX_PARAMS = 1_000_000
# D-FINE's own changes drawn per backbone
OWN_PER_MODEL = 2


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


def own_mutations(config, rng):
    """Changes of D-FINE's arguments that `mutations` leaves alone."""
    levels = config["num_feature_levels"]
    points = config["decoder_n_points"]
    points = points if isinstance(points, list) else [points] * levels
    hidden = config["hidden_dim"]
    out = [
        ("num_labels+3", dict(num_labels=config["num_labels"] + 3)),
        (f"hidden_dim={hidden + 16}", dict(hidden_dim=hidden + 16)),
        ("one feature level more", dict(num_feature_levels=levels + 1, decoder_n_points=points + [2])),
        ("other sampling points", dict(decoder_n_points=[p + 1 for p in points])),
        ("depth_multiplier=0.5", dict(depth_multiplier=0.5)),
        ("hidden_expansion=0.5", dict(hidden_expansion=0.5)),
        ("decoder_method=discrete", dict(decoder_method="discrete")),
        ("lqe", dict(lqe_hidden_dim=config["lqe_hidden_dim"] + 8, num_lqe_layers=config["num_lqe_layers"] + 1)),
        ("num_denoising=7", dict(num_denoising=7)),
        ("num_queries=9", dict(num_queries=9)),
        ("encoder_ffn_dim+8", dict(encoder_ffn_dim=config["encoder_ffn_dim"] + 8)),
        ("decoder_ffn_dim+8", dict(decoder_ffn_dim=config["decoder_ffn_dim"] + 8)),
        ("eval_idx=0", dict(eval_idx=0)),
    ]
    if len(config["encoder_in_channels"]) > 1:
        out.append(("every level encoded", dict(encode_proj_layers=list(range(len(config["encoder_in_channels"]))))))
    rng.shuffle(out)
    return out[:OWN_PER_MODEL]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "keras_hub_mutants_det.json.gz")
    rng = random.Random(7)
    models, failures = [], []
    for name, model_json in fixture_backbones():
        config = model_json["config"]
        for label, change in mutations(config, rng) + own_mutations(config, rng):
            try:
                model = build(copy.deepcopy(model_json), change)
                models.append(describe(model, "mutant", f"{name}[{label}]"))
                print(f"{name}[{label}]: {models[-1]['total_params']:,}", file=sys.stderr, flush=True)
            except Exception as e:  # keras-hub refuses the change: recorded, not a fixture
                failures.append((name, label, str(e)[:80]))
    with gzip.open(out, "wt") as f:
        json.dump({"keras": keras.__version__, "keras_hub": keras_hub.__version__,
                   "models": models, "build_failures": failures}, f)
    print(f"{len(models)} built, {len(failures)} refused by keras-hub: {out}")


if __name__ == "__main__":
    main()
