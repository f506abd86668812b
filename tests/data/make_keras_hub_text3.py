"""KerasHub ground truth for the text families keras-hub 0.32 has that no earlier fixture
reads: PARSeq (scene text recognition: a keras-hub image encoder, the permuted decoder and
its head) with PARSeqCausalLM, and BLIP2 (a ViT vision encoder, the Q-Former, an OPT
language model with BLIP2CausalLM or a Flan-T5 one with BLIP2Seq2SeqLM), built by the real keras-hub from small configs with random
weights (the constructor options that change a weight, the encoder's included) and
recorded as make_keras_hub.py records them (`describe`: `model_json`, totals, the rows of
`model.summary()`).

Each model is built in a fresh session (`keras.backend.clear_session()`), as a user's
script builds one, so the auto-named layers (`dense`) are named as the reader names them.

The released sizes are built as make_keras_hub_more.py builds it (weights declared inside a
`keras.StatelessScope`, never allocated) and each total is checked against the `params` of
keras-hub's preset metadata.

usage: KERAS_BACKEND=jax /work/scratch/keras/bin/python tests/data/make_keras_hub_text3.py [OUTFILE]
  (keras 3.15.1, keras-hub 0.32); OUTFILE defaults to tests/data/keras_hub_text3.json.gz.
"""
import contextlib
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
from make_keras_hub_more import preset_params  # noqa: E402

M = keras_hub.models
# the language models BLIP2Backbone takes (keras-hub exports them under no public name)
from keras_hub.src.models.blip2.blip2_custom_opt import BLIP2CustomOPT  # noqa: E402
from keras_hub.src.models.blip2.blip2_flan_t5_lm import BLIP2FlanT5  # noqa: E402

VIT = dict(image_shape=(16, 32, 3), patch_size=(4, 8), num_layers=2, num_heads=2, hidden_dim=16,
           mlp_dim=32, use_class_token=False)
PARSEQ = dict(vocabulary_size=20, max_label_length=6, decoder_hidden_dim=16, num_decoder_layers=2,
              num_decoder_heads=2, decoder_mlp_dim=24)
# name -> (encoder config, backbone config)
PARSEQ_SMALL = {
    "PARSeq": (VIT, PARSEQ),
    # the encoder's options (class token, no biases, square patches), a head count that does
    # not divide the width (keras-hub floors the key width), one decoder layer
    "PARSeq_options": (dict(VIT, image_shape=(16, 24, 1), patch_size=4, use_class_token=True,
                            use_mha_bias=False, use_mlp_bias=False, use_patch_bias=False,
                            num_heads=3, num_layers=1),
                       dict(PARSEQ, num_decoder_heads=3, num_decoder_layers=1, decoder_mlp_dim=40,
                            vocabulary_size=33, max_label_length=11, dropout_rate=0.0)),
    # a wider model, more decoder layers than encoder layers
    "PARSeq_deep": (dict(VIT, hidden_dim=24, num_heads=4, mlp_dim=48, num_layers=1),
                    dict(PARSEQ, decoder_hidden_dim=24, num_decoder_layers=3,
                         num_decoder_heads=4, decoder_mlp_dim=48)),
}
# the released parseq: the ViT-S encoder of keras-hub's PARSeqCausalLM example
PARSEQ_PRESET = (dict(image_shape=(32, 128, 3), patch_size=(4, 8), num_layers=12, num_heads=6,
                      hidden_dim=384, mlp_dim=1536, use_class_token=False),
                 dict(vocabulary_size=97, max_label_length=25, decoder_hidden_dim=384,
                      num_decoder_layers=1, num_decoder_heads=12, decoder_mlp_dim=1536))

BLIP2_VISION = dict(image_size=16, patch_size=4, num_layers=2, num_heads=2, hidden_dim=16,
                    intermediate_dim=32, use_patch_bias=True, use_class_token=True,
                    use_mha_bias=True, use_mlp_bias=True, dropout_rate=0.0,
                    layer_norm_epsilon=1e-6, initializer_range=0.02)
QFORMER = dict(num_query_tokens=4, num_layers=2, num_heads=2, hidden_dim=12, intermediate_dim=20,
               vision_dim=16, cross_attention_frequency=2, dropout=0.0, layer_norm_epsilon=1e-12)
OPT = dict(vocabulary_size=30, num_layers=2, num_heads=2, hidden_dim=8, intermediate_dim=24,
           dropout=0.0, max_sequence_length=10)
FLAN_T5 = dict(vocabulary_size=30, num_layers=2, num_heads=2, hidden_dim=8, intermediate_dim=24)
# name -> (vision encoder, Q-Former, language model class, its config, task class)
BLIP2_SMALL = {
    "BLIP2_opt": (BLIP2_VISION, QFORMER, "BLIP2CustomOPT", OPT, "BLIP2CausalLM"),
    # a rectangular image, no class token, no biases; cross-attention in every layer, a head
    # count that does not divide the Q-Former's width; one OPT layer
    "BLIP2_opt_options": (dict(BLIP2_VISION, image_size=(16, 24), patch_size=(4, 8),
                               use_class_token=False, use_patch_bias=False, use_mha_bias=False,
                               use_mlp_bias=False, hidden_dim=20, num_heads=4),
                          dict(QFORMER, vision_dim=20, num_layers=3, num_heads=5,
                               cross_attention_frequency=1, num_query_tokens=3),
                          "BLIP2CustomOPT", dict(OPT, num_layers=1, max_sequence_length=7),
                          "BLIP2CausalLM"),
    "BLIP2_flan_t5": (BLIP2_VISION, QFORMER, "BLIP2FlanT5", FLAN_T5, "BLIP2Seq2SeqLM"),
    # T5's own key width, cross-attention every third Q-Former layer
    "BLIP2_flan_t5_options": (BLIP2_VISION, dict(QFORMER, num_layers=4, cross_attention_frequency=3),
                              "BLIP2FlanT5", dict(FLAN_T5, key_value_dim=6, num_layers=1),
                              "BLIP2Seq2SeqLM"),
}
# the released sizes: EVA ViT-g, the BERT-base-sized Q-Former, OPT-2.7B (its vocabulary
# padded to 50304, as transformers' blip2-opt-2.7b pads it) / Flan-T5-XL
BLIP2_VISION_G = dict(BLIP2_VISION, image_size=224, patch_size=14, num_layers=39, num_heads=16,
                      hidden_dim=1408, intermediate_dim=6144)
QFORMER_BASE = dict(QFORMER, num_query_tokens=32, num_layers=12, num_heads=12, hidden_dim=768,
                    intermediate_dim=3072, vision_dim=1408, cross_attention_frequency=2)
# (the Flan-T5 metadata counts the `lm_head` its Seq2SeqLM builds: recorded as that task)
BLIP2_PRESETS = {
    "blip2_opt_2.7b": (BLIP2_VISION_G, QFORMER_BASE, "BLIP2CustomOPT",
                       dict(vocabulary_size=50304, num_layers=32, num_heads=32, hidden_dim=2560,
                            intermediate_dim=10240, dropout=0.0, max_sequence_length=2048), None),
    "blip2_flan_t5_xl": (BLIP2_VISION_G, QFORMER_BASE, "BLIP2FlanT5",
                         dict(vocabulary_size=32128, num_layers=24, num_heads=32, hidden_dim=2048,
                              intermediate_dim=5120, key_value_dim=64), "BLIP2Seq2SeqLM"),
}


def blip2(vision, qformer, lm_class, lm):
    lm_classes = {"BLIP2CustomOPT": BLIP2CustomOPT, "BLIP2FlanT5": BLIP2FlanT5}
    language_model = lm_classes[lm_class](**lm, num_query_tokens=qformer["num_query_tokens"],
                                          qformer_hidden_dim=qformer["hidden_dim"])
    return M.BLIP2Backbone(vision_encoder=M.BLIP2VisionEncoder(**vision),
                           qformer=M.BLIP2QFormer(**qformer), language_model=language_model)


@contextlib.contextmanager
def uncompiled(cls):
    """`cls` without the `compile` its constructor calls (the optimizer's variables it
    creates are refused in a StatelessScope; the model's weights are the constructor's),
    patched on the class itself so that its JSON names the registered class."""
    compile_ = cls.compile
    cls.compile = lambda self, *args, **kwargs: None
    try:
        yield cls
    finally:
        cls.compile = compile_


def parseq(encoder, config):
    return M.PARSeqBackbone(image_encoder=M.ViTBackbone(**encoder, name="encoder"), **config)


def parseq_task(backbone):
    """PARSeqCausalLM compiles with its tokenizer's pad id, so it needs its preprocessor
    (no weights)."""
    tokenizer = M.PARSeqTokenizer(max_label_length=backbone.max_label_length)
    preprocessor = M.PARSeqCausalLMPreprocessor(tokenizer=tokenizer)
    return M.PARSeqCausalLM(backbone=backbone, preprocessor=preprocessor)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "keras_hub_text3.json.gz")
    keras.utils.set_random_seed(0)
    cases = []
    for name, (encoder, config) in PARSEQ_SMALL.items():
        for with_task in (False, True):
            keras.backend.clear_session()
            backbone = parseq(encoder, config)
            model = parseq_task(backbone) if with_task else backbone
            round_trips(model)
            cases.append(describe(model, "task" if with_task else "backbone",
                                  name + ("CausalLM" if with_task else "")))
            print(cases[-1]["name"], cases[-1]["total_params"], flush=True)
    for name, (vision, qformer, lm_class, lm, task) in BLIP2_SMALL.items():
        for with_task in (False, True):
            keras.backend.clear_session()
            backbone = blip2(vision, qformer, lm_class, lm)
            model = getattr(M, task)(backbone=backbone, preprocessor=None) if with_task else backbone
            round_trips(model)
            cases.append(describe(model, "task" if with_task else "backbone",
                                  name + (task if with_task else "")))
            print(cases[-1]["name"], cases[-1]["total_params"], flush=True)
    for name, (vision, qformer, lm_class, lm, task) in BLIP2_PRESETS.items():
        keras.backend.clear_session()
        with keras.StatelessScope(initialize_variables=False):
            model = blip2(vision, qformer, lm_class, lm)
            if task:
                with uncompiled(getattr(M, task)) as cls:
                    model = cls(backbone=model, preprocessor=None)
            case = describe(model, "preset", name)
        want = preset_params("BLIP2", name)
        print(name, case["total_params"], "preset", want, flush=True)
        assert case["total_params"] == want, (name, case["total_params"], want)
        cases.append(case)
    keras.backend.clear_session()
    with keras.StatelessScope(initialize_variables=False):
        case = describe(parseq(*PARSEQ_PRESET), "preset", "parseq")
    want = preset_params("PARSeq", "parseq")
    assert case["total_params"] == want, (case["total_params"], want)
    cases.append(case)
    print("parseq", case["total_params"], "= preset", flush=True)
    with gzip.open(out, "wt") as f:
        json.dump(dict(keras=keras.__version__, keras_hub=keras_hub.__version__, models=cases),
                  f, indent=0, sort_keys=True)
    print(f"{len(cases)} models -> {out}")


if __name__ == "__main__":
    main()
