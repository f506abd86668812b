"""KerasHub ground truth: text backbones and their task models (CausalLM, TextClassifier,
MaskedLM, Seq2SeqLM) built by the real keras-hub from small configs with random weights, plus a few
real preset-sized configs (gpt2_base_en, bert_base_en, t5_small_multi, bart_base_en,
whisper_tiny_en) built the same way.

Each model is recorded as make_keras_extra.py's `describe()` records a Keras model:
`model_json` (the text of `model.to_json()`: the constructor arguments under
`registered_name: keras_hub>...`, a task nesting its backbone), the totals and the rows of
`model.summary()` (every layer's `count_params()`, trainable and non-trainable sizes,
output shape as str(list(shape)) or 'None' when `layer.output` is not one tensor).

usage: KERAS_BACKEND=jax /work/scratch/keras/bin/python tests/data/make_keras_hub.py [OUTFILE]
  (keras 3.15.1, keras-hub 0.32); OUTFILE defaults to tests/data/keras_hub.json.gz.
"""
import gzip
import json
import math
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras
import keras_hub

HERE = os.path.dirname(os.path.abspath(__file__))
M = keras_hub.models


def size(w):
    return int(math.prod(w.shape))


def describe(model, kind, name):
    rows = []
    for layer in model.layers:
        try:
            shape = layer.output.shape
            shape = list(shape) if not isinstance(shape, list) else shape
        except Exception:
            shape = None
        rows.append(dict(name=layer.name, class_name=type(layer).__name__, output_shape=str(shape),
                         params=int(layer.count_params()),
                         trainable=sum(size(w) for w in layer.trainable_weights),
                         non_trainable=sum(size(w) for w in layer.non_trainable_weights)))
    tr = sum(size(w) for w in model.trainable_weights)
    nt = sum(size(w) for w in model.non_trainable_weights)
    return dict(kind=kind, name=name, model_json=json.loads(model.to_json()),
                total_params=tr + nt, trainable_params=tr, non_trainable_params=nt, layers=rows)


# family -> (backbone class, small config, task classes); each task is built on the backbone
DECODER_TASKS = ["CausalLM"]
ENCODER_TASKS = ["TextClassifier", "MaskedLM"]
SEQ2SEQ_TASKS = ["Seq2SeqLM"]
SMALL = {
    "GPT2": (dict(vocabulary_size=50, num_layers=2, num_heads=2, hidden_dim=8, intermediate_dim=16,
                  max_sequence_length=12), DECODER_TASKS),
    "Llama": (dict(vocabulary_size=64, num_layers=2, num_query_heads=4, num_key_value_heads=2,
                   hidden_dim=16, intermediate_dim=24), DECODER_TASKS),
    "Llama3": (dict(vocabulary_size=64, num_layers=2, num_query_heads=4, num_key_value_heads=1,
                    hidden_dim=16, intermediate_dim=40), DECODER_TASKS),
    "Mistral": (dict(vocabulary_size=64, num_layers=2, num_query_heads=4, num_key_value_heads=2,
                     hidden_dim=16, intermediate_dim=24, sliding_window=8), DECODER_TASKS),
    "Mixtral": (dict(vocabulary_size=64, num_layers=2, num_query_heads=4, num_key_value_heads=2,
                     hidden_dim=16, intermediate_dim=24, num_experts=4, top_k=2), DECODER_TASKS),
    "Gemma": (dict(vocabulary_size=64, num_layers=2, num_query_heads=4, num_key_value_heads=1,
                   hidden_dim=16, intermediate_dim=48, head_dim=8), DECODER_TASKS),
    "Gemma2like": (dict(vocabulary_size=64, num_layers=2, num_query_heads=4, num_key_value_heads=2,
                        hidden_dim=16, intermediate_dim=48, head_dim=8, use_post_ffw_norm=True,
                        use_post_attention_norm=True, final_logit_soft_cap=30.0,
                        attention_logit_soft_cap=50.0, use_sliding_window_attention=True,
                        sliding_window_size=8), DECODER_TASKS),
    "Gemma3": (dict(vocabulary_size=64, image_size=16, num_layers=3, num_query_heads=4,
                    num_key_value_heads=2, hidden_dim=16, intermediate_dim=48, head_dim=8,
                    use_post_ffw_norm=True, use_post_attention_norm=True,
                    use_sliding_window_attention=True, sliding_window_size=8), DECODER_TASKS),
    "Qwen": (dict(vocabulary_size=64, num_layers=2, num_query_heads=4, num_key_value_heads=2,
                  hidden_dim=16, intermediate_dim=24), DECODER_TASKS),
    "Qwen3": (dict(vocabulary_size=64, num_layers=2, num_query_heads=4, num_key_value_heads=2,
                   head_dim=8, hidden_dim=16, intermediate_dim=24), DECODER_TASKS),
    "Phi3": (dict(vocabulary_size=64, num_layers=2, num_query_heads=4, num_key_value_heads=4,
                  hidden_dim=16, intermediate_dim=24, max_sequence_length=32), DECODER_TASKS),
    "OPT": (dict(vocabulary_size=64, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=24,
                 max_sequence_length=32), DECODER_TASKS),
    "GPTNeoX": (dict(vocabulary_size=64, num_layers=2, num_heads=2, hidden_dim=16,
                     intermediate_dim=24, max_sequence_length=32), DECODER_TASKS),
    "Bert": (dict(vocabulary_size=64, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=24,
                  max_sequence_length=32), ENCODER_TASKS),
    "Roberta": (dict(vocabulary_size=64, num_layers=2, num_heads=2, hidden_dim=16,
                     intermediate_dim=24, max_sequence_length=32), ENCODER_TASKS),
    "DistilBert": (dict(vocabulary_size=64, num_layers=2, num_heads=2, hidden_dim=16,
                        intermediate_dim=24, max_sequence_length=32), ENCODER_TASKS),
    "Albert": (dict(vocabulary_size=64, num_layers=4, num_heads=2, embedding_dim=8, hidden_dim=16,
                    intermediate_dim=24, num_groups=2, num_inner_repetitions=1,
                    max_sequence_length=32), ENCODER_TASKS),
    "Electra": (dict(vocab_size=64, num_layers=2, num_heads=2, embedding_dim=8, hidden_dim=16,
                     intermediate_dim=24, max_sequence_length=32), []),
    "DebertaV3": (dict(vocabulary_size=64, num_layers=2, num_heads=2, hidden_dim=16,
                       intermediate_dim=24, max_sequence_length=32, bucket_size=8), ENCODER_TASKS),
    "FNet": (dict(vocabulary_size=64, num_layers=2, hidden_dim=16, intermediate_dim=24,
                  max_sequence_length=32), ENCODER_TASKS),
    # keras-hub's defaults: gated relu, tied embedding
    "T5": (dict(vocabulary_size=64, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=24),
           SEQ2SEQ_TASKS),
    # flan-t5 style: gated gelu, head width set apart from hidden_dim / num_heads, untied head
    "T5_gelu_untied": (dict(vocabulary_size=64, num_layers=3, num_heads=4, hidden_dim=16,
                            intermediate_dim=24, key_value_dim=6, activation="gelu",
                            use_gated_activation=True, tie_embedding_weights=False), SEQ2SEQ_TASKS),
    # the original t5: plain relu feedforward
    "T5_relu": (dict(vocabulary_size=64, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=24,
                     use_gated_activation=False), SEQ2SEQ_TASKS),
    "Bart": (dict(vocabulary_size=64, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=24,
                  max_sequence_length=32), SEQ2SEQ_TASKS),
    # keras-hub has no Whisper task model
    "Whisper": (dict(vocabulary_size=64, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=24,
                     num_mels=8, max_encoder_sequence_length=32, max_decoder_sequence_length=12), []),
    "Whisper_3_layers": (dict(vocabulary_size=64, num_layers=3, num_heads=2, hidden_dim=16,
                              intermediate_dim=24), []),
}
# real preset configs (keras-hub's presets' config.json), built with random weights
PRESETS = {
    "GPT2_base_en": ("GPT2", dict(vocabulary_size=50257, num_layers=12, num_heads=12, hidden_dim=768,
                                  intermediate_dim=3072, max_sequence_length=1024), "CausalLM"),
    "Bert_base_en_uncased": ("Bert", dict(vocabulary_size=30522, num_layers=12, num_heads=12,
                                          hidden_dim=768, intermediate_dim=3072,
                                          max_sequence_length=512), "TextClassifier"),
    # transformers' t5-small: the original t5 (relu, ungated), tied
    "T5_small_multi": ("T5", dict(vocabulary_size=32128, num_layers=6, num_heads=8, hidden_dim=512,
                                  intermediate_dim=2048, key_value_dim=64, activation="relu",
                                  use_gated_activation=False), "Seq2SeqLM"),
    "Bart_base_en": ("Bart", dict(vocabulary_size=50265, num_layers=6, num_heads=12, hidden_dim=768,
                                  intermediate_dim=3072, max_sequence_length=1024), "Seq2SeqLM"),
    "Whisper_tiny_en": ("Whisper", dict(vocabulary_size=51864, num_layers=4, num_heads=6, hidden_dim=384,
                                        intermediate_dim=1536, num_mels=80, max_encoder_sequence_length=3000,
                                        max_decoder_sequence_length=448), None),
}


def backbone_class(family):
    return getattr(M, family.split("_")[0].replace("Gemma2like", "Gemma") + "Backbone")


def round_trips(model):
    """The JSON must describe the model it came from: keras-hub 0.32's LlamaBackbone
    leaves `tie_word_embeddings` out of its config, so a tied Llama rebuilds untied and
    is not a case here."""
    rebuilt = keras.models.model_from_json(model.to_json())
    assert rebuilt.count_params() == model.count_params(), model.name


def task(family, cls, backbone):
    cls = getattr(M, family.split("_")[0].replace("Gemma2like", "Gemma") + cls)
    if cls.__name__.endswith("TextClassifier"):
        return cls(backbone=backbone, preprocessor=None, num_classes=3)
    return cls(backbone=backbone, preprocessor=None)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "keras_hub.json.gz")
    keras.utils.set_random_seed(0)
    cases = []
    for family, (config, tasks) in SMALL.items():
        backbone = backbone_class(family)(**config)
        round_trips(backbone)
        cases.append(describe(backbone, "backbone", family))
        for t in tasks:
            model = task(family, t, backbone)
            round_trips(model)
            cases.append(describe(model, "task", f"{family}{t}"))
        print(family, [c["total_params"] for c in cases[-1 - len(tasks):]], flush=True)
    for name, (family, config, t) in PRESETS.items():
        backbone = backbone_class(family)(**config)
        cases.append(describe(task(family, t, backbone) if t else backbone, "preset", name))
        print(name, cases[-1]["total_params"], flush=True)
    with gzip.open(out, "wt") as f:
        json.dump(dict(keras=keras.__version__, keras_hub=keras_hub.__version__, models=cases),
                  f, indent=0, sort_keys=True)
    print(f"{len(cases)} models -> {out}")


if __name__ == "__main__":
    main()
