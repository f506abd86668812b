"""`.keras` archives of KerasHub models no archbudget reader knows (Qwen3.5, RWKV-7), saved by the real keras-hub with `model.save(path)` from small
configs with random weights, for the fallback that counts such a model from the
archive's `model.weights.h5`.

Beside the archives, keras_hub_archives.json records for each model Keras's own
figures: the totals, and for every top-level layer (`model.layers`, the rows of
`model.summary()`) its name, class, `count_params()`, trainable and non-trainable sizes,
and `shared`: whether every one of its variables belongs to an earlier top-level layer
(a tied LM head reusing the backbone's token embedding), in which case saving_lib saves
it once, under that earlier layer.

usage: KERAS_BACKEND=jax /work/scratch/keras/bin/python tests/data/make_keras_hub_archives.py
  (keras 3.15.1, keras-hub 0.32); writes tests/data/keras_hub_archives/.
"""
import json
import math
import os

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras
import keras_hub

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "keras_hub_archives")
M = keras_hub.models


def size(v):
    return int(math.prod(v.shape))


def qwen3_5():
    # a tied LM head: the CausalLM's head reuses the backbone's token embedding
    backbone = M.Qwen3_5Backbone(vocabulary_size=64, num_layers=4, num_query_heads=2, num_key_value_heads=1,
                                 head_dim=8, hidden_dim=16, intermediate_dim=32, tie_word_embeddings=True,
                                 linear_num_key_heads=2, linear_num_value_heads=2, linear_key_head_dim=8,
                                 linear_value_head_dim=8)
    return M.Qwen3_5CausalLM(backbone=backbone, preprocessor=None)


def rwkv7():
    return M.RWKV7Backbone(hidden_size=16, head_size=8, num_layers=2, vocabulary_size=64,
                           intermediate_dim=32, gate_lora=4, mv_lora=4, aaa_lora=4, decay_lora=4)


def frozen_qwen3_5():
    model = qwen3_5()
    model.backbone.trainable = False
    return model


MODELS = {"qwen3_5_causal_lm": qwen3_5, "rwkv7_backbone": rwkv7, "qwen3_5_frozen_backbone": frozen_qwen3_5}


def describe(model):
    rows, earlier = [], set()
    for layer in model.layers:
        ids = {id(v) for v in layer.weights}
        rows.append(dict(name=layer.name, class_name=type(layer).__name__,
                         params=int(layer.count_params()),
                         trainable=sum(size(v) for v in layer.trainable_weights),
                         non_trainable=sum(size(v) for v in layer.non_trainable_weights),
                         shared=bool(ids) and ids <= earlier))
        earlier |= ids
    tr = sum(size(v) for v in model.trainable_weights)
    nt = sum(size(v) for v in model.non_trainable_weights)
    return dict(class_name=type(model).__name__, total_params=tr + nt, trainable_params=tr,
                non_trainable_params=nt, layers=rows)


def main():
    os.makedirs(OUT, exist_ok=True)
    keras.utils.set_random_seed(0)
    expected = {}
    for name, build in MODELS.items():
        model = build()
        path = os.path.join(OUT, f"{name}.keras")
        model.save(path)
        expected[name] = describe(model)
        print(name, expected[name]["total_params"], os.path.getsize(path), "bytes", flush=True)
    with open(os.path.join(HERE, "keras_hub_archives.json"), "w") as f:
        json.dump(dict(keras=keras.__version__, keras_hub=keras_hub.__version__, models=expected),
                  f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
