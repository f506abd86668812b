"""KerasHub ground truth for the transformer vision families read from their JSON since the
hub-vit work: ViTDetBackbone (windowed attention with relative positions, Segment Anything's
image encoder), built by the real keras-hub from small configs covering each constructor
option, recorded as make_keras_hub.py records them (`describe`: `model_json`, totals, the rows
of `model.summary()`), each in a fresh session so its auto-named layers start from their first
name.

usage: KERAS_BACKEND=jax /work/scratch/keras/bin/python tests/data/make_keras_hub_vit.py [OUTFILE]
  (keras 3.15.1, keras-hub 0.32); OUTFILE defaults to tests/data/keras_hub_vit.json.gz.
"""
import gzip
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras  # noqa: E402
import keras_hub  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_keras_hub import describe, round_trips  # noqa: E402

M = keras_hub.models
VITDET = dict(image_shape=(16, 16, 3), patch_size=2, hidden_size=8, num_layers=3,
              intermediate_dim=16, num_heads=2, num_output_channels=6, window_size=3,
              global_attention_layer_indices=[1])
# name -> ViTDetBackbone config: windows that do not tile the 8x8 grid (padded), a global
# layer among windowed ones; then each option off, all-global layers (window 0), a patch
# that does not divide the image, and SAM's own layout (global layers every fourth)
VITDET_CASES = {
    "ViTDet": VITDET,
    "ViTDet_no_abs_pos": dict(VITDET, use_abs_pos=False, use_bias=False),
    "ViTDet_no_rel_pos": dict(VITDET, use_rel_pos=False, window_size=4),
    "ViTDet_global": dict(VITDET, window_size=0, global_attention_layer_indices=[]),
    "ViTDet_odd_patch": dict(VITDET, image_shape=(20, 20, 1), patch_size=3, hidden_size=12,
                             num_heads=3, num_layers=4, global_attention_layer_indices=[3, 7],
                             num_output_channels=4),
    "ViTDet_sam_layout": dict(VITDET, image_shape=(32, 32, 3), patch_size=4, num_layers=8,
                              global_attention_layer_indices=[3, 7], window_size=2),
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "keras_hub_vit.json.gz")
    keras.utils.set_random_seed(0)
    cases = []
    for name, config in VITDET_CASES.items():
        keras.backend.clear_session()
        model = M.ViTDetBackbone(**config)
        round_trips(model)
        cases.append(describe(model, "backbone", name))
        print(name, cases[-1]["total_params"], flush=True)
    with gzip.open(out, "wt") as f:
        json.dump(dict(keras=keras.__version__, keras_hub=keras_hub.__version__, models=cases),
                  f, indent=0, sort_keys=True)
    print(f"{len(cases)} models -> {out}")


if __name__ == "__main__":
    main()
