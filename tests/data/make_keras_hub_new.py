"""KerasHub ground truth for the families read since keras-hub 0.32 added them: Qwen3_5 and
Qwen3_5Moe (text decoders of Gated DeltaNet and gated full-attention layers) with their
CausalLM, MetaCLIP2 (backbone and encoders) and DINOV3Backbone, built by the real keras-hub from small configs with random weights and recorded
as make_keras_hub.py records them (`describe`: `model_json`, totals, the rows of
`model.summary()`).

usage: KERAS_BACKEND=jax /work/scratch/keras/bin/python tests/data/make_keras_hub_new.py [OUTFILE]
  (keras 3.15.1, keras-hub 0.32); OUTFILE defaults to tests/data/keras_hub_new.json.gz.
"""
import gzip
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras
import keras_hub

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_keras_hub import describe, round_trips  # noqa: E402

M = keras_hub.models
CAUSAL = ["CausalLM"]
LINEAR = dict(linear_num_key_heads=2, linear_num_value_heads=4, linear_key_head_dim=4,
              linear_value_head_dim=6)
QWEN3_5 = dict(vocabulary_size=64, num_layers=4, num_query_heads=4, num_key_value_heads=2,
               head_dim=8, hidden_dim=16, intermediate_dim=24, **LINEAR)
QWEN3_5_MOE = dict(vocabulary_size=64, num_layers=4, num_query_heads=4, num_key_value_heads=2,
                   head_dim=8, hidden_dim=16, moe_intermediate_dim=8,
                   shared_expert_intermediate_size=12, num_experts=4, top_k=2, **LINEAR)
# name -> (family, config, task classes)
SMALL = {
    # default layer_types: every fourth layer full attention
    "Qwen3_5": ("Qwen3_5", QWEN3_5, CAUSAL),
    # tied, layer types given, a wider conv and a full partial rotary
    "Qwen3_5_tied": ("Qwen3_5", dict(QWEN3_5, num_layers=3, tie_word_embeddings=True,
                                     layer_types=["full_attention", "linear_attention",
                                                  "full_attention"],
                                     linear_conv_kernel_dim=3, partial_rotary_factor=0.5),
                     CAUSAL),
    "Qwen3_5Moe": ("Qwen3_5Moe", QWEN3_5_MOE, CAUSAL),
    "Qwen3_5Moe_tied": ("Qwen3_5Moe", dict(QWEN3_5_MOE, num_layers=2, tie_word_embeddings=True,
                                           layer_types=["linear_attention", "full_attention"]),
                        []),
}


METACLIP2_VISION = dict(patch_size=4, hidden_dim=16, num_layers=2, num_heads=2, intermediate_dim=24,
                        image_shape=(16, 16, 3))
METACLIP2_TEXT = dict(vocabulary_size=64, embedding_dim=12, hidden_dim=12, num_layers=3,
                      num_heads=3, intermediate_dim=20, max_sequence_length=24,
                      intermediate_activation="gelu")


def metaclip_2():
    """(name, model) of the MetaCLIP2 cases: the backbone and each encoder alone."""
    vision = M.MetaCLIP2VisionEncoder(**METACLIP2_VISION)
    text = M.MetaCLIP2TextEncoder(**METACLIP2_TEXT)
    return [("MetaCLIP2", M.MetaCLIP2Backbone(vision_encoder=vision, text_encoder=text,
                                              projection_dim=10)),
            ("MetaCLIP2VisionEncoder", M.MetaCLIP2VisionEncoder(**METACLIP2_VISION)),
            ("MetaCLIP2TextEncoder", M.MetaCLIP2TextEncoder(**METACLIP2_TEXT))]


DINOV3 = dict(patch_size=4, num_layers=2, hidden_dim=16, num_heads=2, intermediate_dim=24,
              image_shape=(16, 16, 3))
# name -> DINOV3Backbone config: keras-hub's defaults (registers, mask token, biases), and a
# gated MLP without biases, no registers and no mask token on a non-square image
DINOV3_CASES = {
    "DINOV3": DINOV3,
    "DINOV3_gated": dict(DINOV3, image_shape=(16, 12, 3), use_gated_mlp=True, use_query_bias=False,
                         use_key_bias=False, use_mlp_bias=False, use_proj_bias=False,
                         apply_layernorm=True, use_mask_token=False, num_register_tokens=0),
}


def task(family, name, backbone):
    return getattr(M, family + name)(backbone=backbone, preprocessor=None)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "keras_hub_new.json.gz")
    keras.utils.set_random_seed(0)
    cases = []
    for name, (family, config, tasks) in SMALL.items():
        backbone = getattr(M, family + "Backbone")(**config)
        round_trips(backbone)
        cases.append(describe(backbone, "backbone", name))
        for t in tasks:
            model = task(family, t, backbone)
            round_trips(model)
            cases.append(describe(model, "task", f"{name}{t}"))
        print(name, [c["total_params"] for c in cases[-1 - len(tasks):]], flush=True)
    for name, config in DINOV3_CASES.items():
        model = M.DINOV3Backbone(**config)
        round_trips(model)
        cases.append(describe(model, "backbone", name))
        print(name, cases[-1]["total_params"], flush=True)
    for name, model in metaclip_2():
        round_trips(model)
        cases.append(describe(model, "backbone", name))
        print(name, cases[-1]["total_params"], flush=True)
    with gzip.open(out, "wt") as f:
        json.dump(dict(keras=keras.__version__, keras_hub=keras_hub.__version__, models=cases),
                  f, indent=0, sort_keys=True)
    print(f"{len(cases)} models -> {out}")


if __name__ == "__main__":
    main()
