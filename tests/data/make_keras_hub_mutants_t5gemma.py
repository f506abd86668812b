"""KerasHub T5Gemma and T5Gemma2 (text model) unlike the fixtures, as a held-out set would
hold them: each small T5GemmaBackbone / T5Gemma2Backbone of tests/data/keras_hub_text2.json.gz
with one constructor argument changed, by make_keras_hub_mutants.py's `mutations` (flags
flipped, vocabulary, dropout) and by the changes below, which reach every other constructor
option (layer counts with their layer types, widths, heads, head sizes, windows, softcaps,
the query scale, activation, rotary wavelengths, q/k norms); built by the real keras-hub from
its constructor and recorded with `describe`, each with its Seq2SeqLM. A change keras-hub
refuses is listed under `build_failures` with its error.

usage: KERAS_BACKEND=jax /work/scratch/keras/bin/python tests/data/make_keras_hub_mutants_t5gemma.py
  (keras 3.15.1, keras-hub 0.32); writes tests/data/keras_hub_mutants_t5gemma.json.gz.
"""
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
from make_keras_hub import describe  # noqa: E402
from make_keras_hub_mutants import build, mutations  # noqa: E402

CLASSES = ("T5GemmaBackbone", "T5Gemma2Backbone")
# fixtures of more than this many parameters are not mutated (the released sizes)
SMALL = 1_000_000


def more_layers(config, stack, kind):
    return {f"{stack}_num_layers": config[f"{stack}_num_layers"] + 1,
            f"{stack}_layer_types": config[f"{stack}_layer_types"] + [kind]}


def options(config):
    """(label, change) pairs reaching the constructor options `mutations` does not."""
    out = [
        ("encoder_num_layers+1", more_layers(config, "encoder", "full_attention")),
        ("decoder_num_layers+1", more_layers(config, "decoder", "sliding_attention")),
        ("sliding_window=4", {"sliding_window": 4}),
        ("softcaps", {"attn_logit_softcapping": 50.0, "final_logit_softcapping": 30.0}),
        ("query_pre_attn_scalar=64", {"query_pre_attn_scalar": 64.0}),
        ("hidden_activation=gelu", {"hidden_activation": "gelu"}),
        ("decoder_head_dim=4", {"decoder_head_dim": 4}),
        ("encoder_num_key_value_heads=4", {"encoder_num_key_value_heads": 4}),
        ("intermediate_dims", {"encoder_intermediate_dim": 40, "decoder_intermediate_dim": 20}),
        ("rope_max_wavelength=1000", {"rope_max_wavelength": 1000.0}),
        ("all_full", {"encoder_layer_types": ["full_attention"] * config["encoder_num_layers"],
                      "decoder_layer_types": ["full_attention"] * config["decoder_num_layers"]}),
    ]
    out.append(("decoder_hidden_dim=24", {"decoder_hidden_dim": 24, "decoder_num_attention_heads": 3,
                                          "decoder_num_key_value_heads": 1}))
    if "use_query_key_norm" in config:
        out += [("global_rope_scaling_factor=8", {"global_rope_scaling_factor": 8.0}),
                ("encoder_rope_max_wavelength=500", {"encoder_rope_max_wavelength": 500.0})]
    return out


def fixture_backbones():
    seen, found = set(), []
    for m in json.loads(gzip.open(os.path.join(HERE, "keras_hub_text2.json.gz"), "rt").read())["models"]:
        model_json = m["model_json"]
        if model_json["class_name"] in CLASSES and m["total_params"] < SMALL:
            key = json.dumps(model_json, sort_keys=True)
            if key not in seen:
                seen.add(key)
                found.append((m["name"], model_json))
    return found


def main():
    out = os.path.join(HERE, "keras_hub_mutants_t5gemma.json.gz")
    rng = random.Random(7)
    models, failures = [], []
    for name, model_json in fixture_backbones():
        task_class = getattr(keras_hub.models, model_json["class_name"].replace("Backbone", "Seq2SeqLM"))
        for label, change in mutations(model_json["config"], rng) + options(model_json["config"]):
            try:
                backbone = build(model_json, change)
                models.append(describe(backbone, "mutant", f"{name}[{label}]"))
                task = task_class(backbone=backbone, preprocessor=None)
                models.append(describe(task, "mutant", f"{name}[{label}]Seq2SeqLM"))
            except Exception as e:  # keras-hub refuses the change: recorded, not a fixture
                failures.append((name, label, str(e)[:80]))
    with gzip.open(out, "wt") as f:
        json.dump({"keras": keras.__version__, "keras_hub": keras_hub.__version__,
                   "models": models, "build_failures": failures}, f)
    print(f"{len(models)} built, {len(failures)} refused by keras-hub: {out}")
    for f in failures:
        print(*f)


if __name__ == "__main__":
    main()
