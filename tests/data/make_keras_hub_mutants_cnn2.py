"""KerasHub segmentation and detection backbones unlike the fixtures, as a held-out set
would hold them: each unique small backbone of keras_hub_cnn2.json.gz
(make_keras_hub_cnn2.py: DeepLabV3, RetinaNet) with one constructor argument changed, chosen
as make_keras_hub_mutants.py chooses them (its `mutations`, a flag flipped, a fixed seed),
plus the arguments those leave alone (another pooled or low-level level, a rate more or
less, other upsampling and projection, other pyramid levels, and the image encoder changed:
another block type, a block more), built by the real keras-hub from its constructor (its
`build`) and recorded as make_keras_hub.py records them (`describe`). A change keras-hub
refuses is listed under `build_failures` with its error.

usage: KERAS_BACKEND=jax /work/scratch/keras/bin/python tests/data/make_keras_hub_mutants_cnn2.py [OUTFILE]
  (keras 3.15.1, keras-hub 0.32); OUTFILE defaults to tests/data/keras_hub_mutants_cnn2.json.gz.
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
from make_keras_hub_mutants_cnn import fixture_backbones as small_backbones  # noqa: E402

import make_keras_hub_mutants_cnn  # noqa: E402

make_keras_hub_mutants_cnn.FIXTURE = "keras_hub_cnn2.json.gz"
# the FPN's 256-wide convolutions make even small RetinaNets ~3M; the presets stay out
make_keras_hub_mutants_cnn.MAX_PARAMS = 4_000_000


def encoder_mutations(config):
    """The image encoder with another block type, or one block more in its last stack."""
    encoder = config["image_encoder"]
    enc = encoder["config"]
    out = []
    other = {"basic_block": "bottleneck_block", "bottleneck_block": "basic_block_vd",
             "basic_block_vd": "bottleneck_block_vd", "bottleneck_block_vd": "basic_block"}[enc["block_type"]]
    if other.startswith("basic") and not enc["block_type"].startswith("basic"):
        other = None  # a basic first stack needs the stem's 64 channels: kept as it is
    if other:
        changed = copy.deepcopy(encoder)
        changed["config"]["block_type"] = other
        out.append((f"encoder {other}", dict(image_encoder=changed)))
    deeper = copy.deepcopy(encoder)
    deeper["config"]["stackwise_num_blocks"][-1] += 1
    out.append(("encoder one block more", dict(image_encoder=deeper)))
    return out


def deeplab_mutations(config):
    out = []
    levels = len(config["image_encoder"]["config"]["stackwise_num_blocks"]) + 1  # P2..
    spp = int(config["spatial_pyramid_pooling_key"][1])
    rates = config["dilation_rates"]
    out.append(("one rate more", dict(dilation_rates=rates + [rates[-1] + 6])))
    if len(rates) > 1:
        out.append(("one rate less", dict(dilation_rates=rates[:-1])))
    low = config.get("low_level_feature_key")
    up = config["upsampling_size"]
    up = up[0] if isinstance(up, list) else up
    if low:
        out.append(("no decoder", dict(low_level_feature_key=None, upsampling_size=2 ** spp)))
        out.append(("projection 32", dict(projection_filters=32)))
        if spp - 1 > int(low[1]):
            out.append((f"pooling on P{spp - 1}", dict(spatial_pyramid_pooling_key=f"P{spp - 1}",
                                                      upsampling_size=up // 2)))
    else:
        out.append(("decoder on P2", dict(low_level_feature_key="P2", upsampling_size=2 ** (spp - 2))))
        if spp < levels:
            out.append((f"pooling on P{spp + 1}", dict(spatial_pyramid_pooling_key=f"P{spp + 1}",
                                                      upsampling_size=2 ** (spp + 1))))
    return out


def retinanet_mutations(config):
    lo, hi = config["min_level"], config["max_level"]
    out = [("max level +1", dict(max_level=hi + 1))]
    if lo > 2:
        out.append(("min level -1", dict(min_level=lo - 1)))
    if lo < hi:
        out.append(("min level +1", dict(min_level=lo + 1)))
    return out


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "keras_hub_mutants_cnn2.json.gz")
    rng = random.Random(7)
    models, failures = [], []
    for name, model_json in small_backbones():
        config = model_json["config"]
        family = deeplab_mutations if "spatial_pyramid_pooling_key" in config else retinanet_mutations
        changes = mutations(config, rng) + family(config) + encoder_mutations(config)
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
    for failure in failures:
        print(failure)


if __name__ == "__main__":
    main()
