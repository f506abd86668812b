"""KerasHub ground truth, the text families keras-hub 0.32 added last: Gemma3n (its text
model: AltUp, Laurel, per-layer embeddings, KV-shared layers) with Gemma3nCausalLM,
T5Gemma and T5Gemma2 (its text model) with their Seq2SeqLM, Moonshine with
MoonshineAudioToText, RWKV7 with RWKV7CausalLM, and VideoPrism's video encoder, built by
the real keras-hub from small configs with random weights (the constructor options that
change a weight) and recorded as make_keras_hub.py records them
(`describe`: `model_json`, totals, the rows of `model.summary()`).

Each model is built in a fresh session (`keras.backend.clear_session()`), as a user's
script builds one, so the auto-named layers (`dropout`, `rms_normalization_1`) are
named as the reader names them.

Preset-sized models are built as make_keras_hub_more.py builds them (weights declared
inside a `keras.StatelessScope`, never allocated) from the sizes of the released model,
and each total is checked against the `params` of keras-hub's preset metadata.

usage: KERAS_BACKEND=jax /work/scratch/keras/bin/python tests/data/make_keras_hub_text2.py [OUTFILE]
  (keras 3.15.1, keras-hub 0.32); OUTFILE defaults to tests/data/keras_hub_text2.json.gz.
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
from make_keras_hub_more import preset_params  # noqa: E402
from make_keras_hub_archives import OUT as ARCHIVES, describe as describe_archive  # noqa: E402

M = keras_hub.models

GEMMA3N = dict(text_vocab_size=64, text_hidden_size=16, num_hidden_layers=3, pad_token_id=0,
               num_attention_heads=4, num_key_value_heads=2, head_dim=8,
               intermediate_size=[32, 32, 24], hidden_activation="gelu_approximate",
               layer_types=["sliding_attention", "full_attention", "sliding_attention"],
               sliding_window=8, rope_theta=10000.0, max_position_embeddings=32,
               vocab_size_per_layer_input=40, hidden_size_per_layer_input=4, altup_num_inputs=3,
               laurel_rank=2)
T5GEMMA = dict(vocabulary_size=64, encoder_hidden_dim=16, encoder_intermediate_dim=24,
               encoder_num_layers=2, encoder_num_attention_heads=4, encoder_num_key_value_heads=2,
               encoder_head_dim=8, encoder_layer_types=["sliding_attention", "full_attention"],
               decoder_hidden_dim=16, decoder_intermediate_dim=24, decoder_num_layers=2,
               decoder_num_attention_heads=4, decoder_num_key_value_heads=2, decoder_head_dim=8,
               decoder_layer_types=["sliding_attention", "full_attention"], sliding_window=8)
MOONSHINE = dict(vocabulary_size=64, filter_dim=16, encoder_num_layers=2, decoder_num_layers=2,
                 hidden_dim=16, intermediate_dim=32, encoder_num_heads=2, decoder_num_heads=2)
RWKV7 = dict(hidden_size=16, head_size=4, num_layers=3, vocabulary_size=64, intermediate_dim=32,
             gate_lora=4, mv_lora=3, aaa_lora=5, decay_lora=6)
# name -> (family, small config, task classes)
SMALL = {
    "Gemma3n": ("Gemma3n", GEMMA3N, ["CausalLM"]),
    # KV-shared last layers, attention biases, two AltUp inputs, no correction scale
    "Gemma3n_shared_kv": ("Gemma3n", dict(GEMMA3N, num_kv_shared_layers=2, attention_bias=True,
                                          altup_num_inputs=2, altup_correct_scale=False,
                                          laurel_rank=3, final_logit_soft_cap=30.0),
                          ["CausalLM"]),
    "T5Gemma": ("T5Gemma", T5GEMMA, ["Seq2SeqLM"]),
    # untied head, biases, a narrower decoder reading a wider encoder, more decoder layers
    "T5Gemma_untied": ("T5Gemma", dict(T5GEMMA, tie_word_embeddings=False, attention_bias=True,
                                       decoder_hidden_dim=12, decoder_num_layers=3,
                                       decoder_layer_types=["sliding_attention"] * 3,
                                       cross_attention_hidden_size=16, encoder_num_layers=1,
                                       encoder_layer_types=["full_attention"]),
                       ["Seq2SeqLM"]),
    # text only: q/k norms, the decoder's merged self- and cross-attention
    "T5Gemma2": ("T5Gemma2", T5GEMMA, ["Seq2SeqLM"]),
    "T5Gemma2_options": ("T5Gemma2", dict(T5GEMMA, use_query_key_norm=False, attention_bias=True,
                                          tie_word_embeddings=False, decoder_num_layers=1,
                                          decoder_layer_types=["full_attention"]),
                         ["Seq2SeqLM"]),
    "Moonshine": ("Moonshine", MOONSHINE, ["AudioToText"]),
    # SwiGLU in the encoder, not the decoder; biases; head_dim 6 padded to 8; other rotary
    # and MLP widths
    "Moonshine_options": ("Moonshine", dict(MOONSHINE, filter_dim=24, hidden_dim=24,
                                            encoder_num_heads=4, decoder_num_heads=3,
                                            encoder_use_swiglu_activation=True,
                                            decoder_use_swiglu_activation=False,
                                            attention_bias=True, pad_head_dim_to_multiple_of=8,
                                            partial_rotary_factor=0.5,
                                            feedforward_expansion_factor=2, encoder_num_layers=1,
                                            decoder_num_layers=3),
                          ["AudioToText"]),
    "RWKV7": ("RWKV7", RWKV7, ["CausalLM"]),
    # keras-hub's default low-rank widths, one block
    "RWKV7_defaults": ("RWKV7", dict(hidden_size=32, head_size=8, num_layers=1,
                                     vocabulary_size=64, intermediate_dim=48), ["CausalLM"]),
    # the video encoder: frames, patches, spatial and temporal encoders
    "VideoPrism": ("VideoPrism", dict(num_frames=2, patch_size=4, hidden_dim=16, intermediate_dim=24,
                                      num_heads=2, num_spatial_layers=2, num_temporal_layers=1,
                                      num_auxiliary_layers=0, image_shape=(16, 16, 3)), []),
    "VideoPrism_wide": ("VideoPrism", dict(num_frames=3, patch_size=4, hidden_dim=24,
                                           intermediate_dim=40, num_heads=3, num_spatial_layers=1,
                                           num_temporal_layers=2, num_auxiliary_layers=0,
                                           image_shape=(12, 20, 2), attention_logit_soft_cap=5.0),
                        []),
}


def presets():
    """name -> (family, preset, config, task): sizes of released models."""
    t5gemma = dict(vocabulary_size=256000, encoder_num_layers=8, decoder_num_layers=8,
                   encoder_layer_types=["sliding_attention", "full_attention"] * 4,
                   decoder_layer_types=["sliding_attention", "full_attention"] * 4,
                   sliding_window=4096)
    for stack in ("encoder", "decoder"):
        t5gemma.update({f"{stack}_hidden_dim": 512, f"{stack}_intermediate_dim": 1024,
                        f"{stack}_num_attention_heads": 8, f"{stack}_num_key_value_heads": 8,
                        f"{stack}_head_dim": 64})
    moonshine = dict(vocabulary_size=32768, filter_dim=288, encoder_num_layers=6,
                     decoder_num_layers=6, hidden_dim=288, intermediate_dim=1152,
                     encoder_num_heads=8, decoder_num_heads=8)
    return {
        "t5gemma_s_s_ul2": ("T5Gemma", "t5gemma_s_s_ul2", t5gemma, None),
        "moonshine_tiny_en": ("Moonshine", "moonshine_tiny_en", moonshine, None),
        "moonshine_base_en": ("Moonshine", "moonshine_base_en",
                              dict(moonshine, filter_dim=416, hidden_dim=416, intermediate_dim=1664,
                                   encoder_num_layers=8, decoder_num_layers=8), None),
    }


def unknown_archive():
    """RWKV-7 is read from its config now; the `.keras` route for a class no reader knows is
    shown on EdRec (saved as make_keras_hub_archives.py saves its archives)."""
    keras.backend.clear_session()
    model = M.EdRecBackbone(vocab_size=64, num_layers_enc=1, num_layers_dec=1, hidden_dim=16,
                            intermediate_dim=32, num_heads=2)
    name = "edrec_backbone"
    model.save(os.path.join(ARCHIVES, f"{name}.keras"))
    with open(os.path.join(HERE, "keras_hub_archives_text2.json"), "w") as f:
        json.dump(dict(keras=keras.__version__, keras_hub=keras_hub.__version__,
                       models={name: describe_archive(model)}), f, indent=1, sort_keys=True)
    print(name, model.count_params(), flush=True)


def task(family, name, backbone):
    return getattr(M, family + name)(backbone=backbone, preprocessor=None)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "keras_hub_text2.json.gz")
    keras.utils.set_random_seed(0)
    cases = []
    for name, (family, config, tasks) in SMALL.items():
        for t in [None] + tasks:
            # a fresh session per model: auto-named layers start from their first name
            keras.backend.clear_session()
            backbone = getattr(M, family + "Backbone")(**config)
            model = backbone if t is None else task(family, t, backbone)
            round_trips(model)
            cases.append(describe(model, "backbone" if t is None else "task",
                                  name + (t or "")))
        print(name, [c["total_params"] for c in cases[-1 - len(tasks):]], flush=True)
    for name, (family, preset, config, t) in presets().items():
        keras.backend.clear_session()
        with keras.StatelessScope(initialize_variables=False):
            backbone = getattr(M, family + "Backbone")(**config)
            model = backbone if t is None else task(family, t, backbone)
            case = describe(model, "preset", name)
        want = preset_params(family, preset)
        # keras-hub's Moonshine metadata counts the trainable weights: it leaves out the
        # rotary embeddings' non-trainable `inv_freq` (2 × 11 in moonshine_tiny_en)
        got = case["trainable_params" if family == "Moonshine" else "total_params"]
        assert got == want, (name, got, want)
        cases.append(case)
        print(name, case["total_params"], "= preset", preset, flush=True)
    with gzip.open(out, "wt") as f:
        json.dump(dict(keras=keras.__version__, keras_hub=keras_hub.__version__, models=cases),
                  f, indent=0, sort_keys=True)
    print(f"{len(cases)} models -> {out}")
    unknown_archive()


if __name__ == "__main__":
    main()
