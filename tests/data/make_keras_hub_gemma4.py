"""KerasHub ground truth for Gemma 4: Gemma4Backbone (its text model, its vision and audio
encoders) with Gemma4CausalLM, and Gemma4VisionEncoder alone, built
by the real keras-hub from small configs with random weights, one per set of constructor
options that changes a weight or a row (global head width and K=V global heads, KV-shared
last layers with the double-wide MLP, per-layer token inputs, the MoE block beside the
dense MLP, a kind of layer with no unshared source, all layers shared as the assistant's
backbone, the embedding model's head; the vision encoder's clipped linears, K/V heads and
standardisation; the audio encoder's subsampling convolutions and output projection),
recorded as make_keras_hub.py records them
(`describe`: `model_json`, totals, the rows of `model.summary()`).

Each model is built in a fresh session (`keras.backend.clear_session()`), as a user's
script builds one. keras-hub's preset metadata gives Gemma 4's sizes rounded (5.1B, 7.9B,
26B), so no preset-sized build is checked against it here.

usage: KERAS_BACKEND=jax /work/scratch/keras/bin/python tests/data/make_keras_hub_gemma4.py [OUTFILE]
  (keras 3.15.1, keras-hub 0.32); OUTFILE defaults to tests/data/keras_hub_gemma4.json.gz.
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
# keras-hub 0.32 exports no Gemma4AudioEncoder; it is registered (keras_hub>Gemma4AudioEncoder)
from keras_hub.src.models.gemma4.gemma4_audio_encoder import Gemma4AudioEncoder  # noqa: E402

M = keras_hub.models

GEMMA4 = dict(vocabulary_size=64, image_size=16, num_layers=4, num_query_heads=4,
              num_key_value_heads=2, hidden_dim=16, intermediate_dim=32, head_dim=8,
              sliding_window_pattern=2, sliding_window_size=8)
VISION = dict(image_size=16, patch_size=4, pool_size=2, num_heads=2, hidden_dim=8, num_layers=2,
              intermediate_dim=16, head_dim=4, output_dim=16, position_embedding_size=10)
# the encoder's options: no clip bounds, fewer K/V heads, standardisation, its defaults
VISION_OPTIONS = dict(VISION, use_clipped_linears=False, num_key_value_heads=1, standardize=True,
                      num_layers=1)
AUDIO = dict(input_feat_size=16, hidden_size=8, num_heads=2, num_layers=1, chunk_size=4,
             context_left=5, conv_kernel_size=3, sscp_conv_channels=(6, 4), output_proj_dims=12,
             output_dim=16)
# no intermediate projection, other convolution shapes, two conformers
AUDIO_OPTIONS = dict(AUDIO, output_proj_dims=None, sscp_kernel_sizes=((3, 5), (3, 3)),
                     sscp_stride_sizes=((2, 3), (1, 2)), sscp_conv_channels=(5, 3), num_layers=2,
                     conv_kernel_size=4, input_feat_size=20)
# name -> (small config, task classes); `vision`, `audio`: the encoders' configs

SMALL = {
    "Gemma4": (GEMMA4, ["CausalLM"]),
    # E2B/E4B-style: per-layer token inputs, KV-shared last layers with a double-wide MLP
    "Gemma4_per_layer": (dict(GEMMA4, hidden_size_per_layer_input=4, vocab_size_per_layer_input=40,
                              num_kv_shared_layers=2, use_double_wide_mlp=True), ["CausalLM"]),
    # per-layer inputs without a vocabulary of their own, one layer, the default pattern
    "Gemma4_one_layer": (dict(GEMMA4, num_layers=1, hidden_size_per_layer_input=3,
                              sliding_window_pattern=6), ["CausalLM"]),
    # 26B-A4B-style: MoE beside the dense MLP, wider global heads, K=V global heads, an
    # explicit layer pattern, partial rotary, soft caps, dropout
    "Gemma4_moe": (dict(GEMMA4, enable_moe_block=True, num_experts=4, expert_intermediate_dim=8,
                        num_experts_per_token=2, global_head_dim=16, num_global_key_value_heads=1,
                        num_layers=3, sliding_window_pattern=6,
                        layer_types=["sliding_attention", "full_attention", "full_attention"],
                        global_rope_partial_rotary_factor=0.25, attention_logit_soft_cap=50.0,
                        final_logit_soft_cap=30.0, dropout=0.1), ["CausalLM"]),
    # 31B-style: dense, wider global heads with K=V, no sliding window
    "Gemma4_global": (dict(GEMMA4, global_head_dim=12, num_global_key_value_heads=2,
                           num_query_heads=2, num_layers=3, use_sliding_window_attention=False),
                      ["CausalLM"]),
    # the global kind has no unshared layer to borrow from: layer 3 keeps its projections;
    # shared global layers with K=V heads
    "Gemma4_lone_kind": (dict(GEMMA4, sliding_window_pattern=4, num_kv_shared_layers=2,
                              use_double_wide_mlp=True), ["CausalLM"]),
    "Gemma4_shared_global": (dict(GEMMA4, num_layers=6, num_kv_shared_layers=3,
                                  num_global_key_value_heads=1, global_head_dim=16,
                                  hidden_size_per_layer_input=2), ["CausalLM"]),
    # the assistant's backbone: every layer borrows K/V from the target model
    "Gemma4_all_shared": (dict(GEMMA4, num_layers=2, num_kv_shared_layers=2), ["CausalLM"]),
    # with a vision encoder; with per-layer inputs (vision positions read the padding id),
    # KV sharing and a vision encoder of other options
    "Gemma4_vision": (dict(GEMMA4, num_layers=2, vision=VISION), ["CausalLM"]),
    "Gemma4_vision_per_layer": (dict(GEMMA4, hidden_size_per_layer_input=4, num_kv_shared_layers=1,
                                     use_vision_bidirectional_attention=True,
                                     vision=VISION_OPTIONS), ["CausalLM"]),
    # with an audio encoder (its mask tied into the graph); E2B-style: vision, audio and
    # per-layer inputs
    "Gemma4_audio": (dict(GEMMA4, num_layers=2, num_audio_tokens_per_clip=5, audio=AUDIO),
                     ["CausalLM"]),
    "Gemma4_multimodal": (dict(GEMMA4, hidden_size_per_layer_input=4, num_kv_shared_layers=2,
                               use_double_wide_mlp=True, vision=VISION, audio=AUDIO_OPTIONS),
                          ["CausalLM"]),
    # the embedding model: mean pooling and two projections on the final norm
    "Gemma4_embedding": (dict(GEMMA4, is_embedding_model=True, pooling_intermediate_dim=24,
                              embedding_dim=12, use_bidirectional_attention=True), []),
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "keras_hub_gemma4.json.gz")
    keras.utils.set_random_seed(0)
    cases = []
    for name, config in [("Gemma4VisionEncoder", VISION),
                         ("Gemma4VisionEncoder_options", VISION_OPTIONS)]:
        keras.backend.clear_session()
        encoder = M.Gemma4VisionEncoder(**config)
        round_trips(encoder)
        cases.append(describe(encoder, "backbone", name))
        print(name, cases[-1]["total_params"], flush=True)
    for name, (config, tasks) in SMALL.items():
        for t in [None] + tasks:
            keras.backend.clear_session()
            config = dict(config)
            vision = config.pop("vision", None)
            audio = config.pop("audio", None)
            if vision is not None:
                config["vision_encoder"] = M.Gemma4VisionEncoder(**vision)
            if audio is not None:
                config["audio_encoder"] = Gemma4AudioEncoder(**audio)
            backbone = M.Gemma4Backbone(**config)
            model = backbone if t is None else getattr(M, "Gemma4" + t)(
                backbone=backbone, preprocessor=None)
            round_trips(model)
            cases.append(describe(model, "backbone" if t is None else "task", name + (t or "")))
        print(name, [c["total_params"] for c in cases[-1 - len(tasks):]], flush=True)
    with gzip.open(out, "wt") as f:
        json.dump(dict(keras=keras.__version__, keras_hub=keras_hub.__version__, models=cases),
                  f, indent=0, sort_keys=True)
    print(f"{len(cases)} models -> {out}")


if __name__ == "__main__":
    main()
