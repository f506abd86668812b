"""KerasHub ground truth for the text families keras-hub 0.32 has that no earlier fixture
reads: PARSeq (scene text recognition: a keras-hub image encoder, the permuted decoder and
its head) with PARSeqCausalLM, built by the real keras-hub from small configs with random
weights (the constructor options that change a weight, the encoder's included) and
recorded as make_keras_hub.py records them (`describe`: `model_json`, totals, the rows of
`model.summary()`).

Each model is built in a fresh session (`keras.backend.clear_session()`), as a user's
script builds one, so the auto-named layers (`dense`) are named as the reader names them.

The released size is built as make_keras_hub_more.py builds it (weights declared inside a
`keras.StatelessScope`, never allocated) and its total is checked against the `params` of
keras-hub's preset metadata.

usage: KERAS_BACKEND=jax /work/scratch/keras/bin/python tests/data/make_keras_hub_text3.py [OUTFILE]
  (keras 3.15.1, keras-hub 0.32); OUTFILE defaults to tests/data/keras_hub_text3.json.gz.
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
from make_keras_hub_more import preset_params  # noqa: E402

M = keras_hub.models

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
