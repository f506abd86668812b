"""KerasHub ground truth, more text families: Bloom, ESM, RoformerV2, XLNet and PaliGemma
backbones with their task models (BloomCausalLM; ESMMaskedPLM and ESMProteinClassifier;
RoformerV2TextClassifier and RoformerV2MaskedLM; XLNet has none; PaliGemmaCausalLM), built by the real
keras-hub from small configs with random weights and recorded as make_keras_hub.py
records them (`describe`: `model_json`, totals, the rows of `model.summary()`).

Preset-sized models are built as make_keras_hub_more.py builds them (weights declared
inside a `keras.StatelessScope`, never allocated) from the sizes of the released model,
and each total is checked against the `params` of keras-hub's preset metadata.

usage: KERAS_BACKEND=jax /work/scratch/keras/bin/python tests/data/make_keras_hub_text.py [OUTFILE]
  (keras 3.15.1, keras-hub 0.32); OUTFILE defaults to tests/data/keras_hub_text.json.gz.
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
from make_keras_hub_more import backbone_class, preset_params  # noqa: E402

M = keras_hub.models

BLOOM = dict(vocabulary_size=64, num_layers=2, num_heads=4, hidden_dim=16, intermediate_dim=64)
ESM = dict(vocabulary_size=33, num_layers=2, num_heads=4, hidden_dim=16, intermediate_dim=32)
ROFORMER = dict(vocabulary_size=64, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=24,
                head_size=8)
PALI_GEMMA = dict(vocabulary_size=64, image_size=16, num_layers=2, num_query_heads=4, num_key_value_heads=1,
                  hidden_dim=16, intermediate_dim=32, head_dim=8, vit_patch_size=4, vit_num_heads=2,
                  vit_hidden_dim=8, vit_num_layers=2, vit_intermediate_dim=12)
# name -> (family, small config, task classes)
SMALL = {
    # intermediate_dim 4 × hidden_dim, as transformers' bloom fixes it
    "Bloom": ("Bloom", BLOOM, ["CausalLM"]),
    "Bloom_narrow_mlp": ("Bloom", dict(BLOOM, intermediate_dim=40), ["CausalLM"]),
    "ESM": ("ESM", ESM, ["MaskedPLM", "ProteinClassifier"]),
    "ESM_absolute_prenorm": ("ESM", dict(ESM, position_embedding_type="absolute",
                                         use_pre_layer_norm=True, max_sequence_length=32),
                             ["MaskedPLM"]),
    "RoformerV2": ("RoformerV2", ROFORMER, ["TextClassifier", "MaskedLM"]),
    "RoformerV2_bias": ("RoformerV2", dict(ROFORMER, use_bias=True), ["TextClassifier", "MaskedLM"]),
    "XLNet": ("XLNet", dict(vocabulary_size=64, num_layers=2, num_heads=2, hidden_dim=16,
                            intermediate_dim=24), []),
    "PaliGemma": ("PaliGemma", PALI_GEMMA, ["CausalLM"]),
    "PaliGemma_post_norms": ("PaliGemma", dict(PALI_GEMMA, use_post_ffw_norm=True,
                                               use_post_attention_norm=True), []),
}
# name -> (family, keras-hub preset whose metadata `params` the build must equal, config, task)
PRESETS = {
    # bigscience/bloom-560m
    "Bloom_560m": ("Bloom", "bloom_560m_multi",
                   dict(vocabulary_size=250880, num_layers=24, num_heads=16, hidden_dim=1024,
                        intermediate_dim=4096), "CausalLM"),
    # facebook/esm2_t6_8M_UR50D
    "ESM2_t6_8M": ("ESM", "esm2_t6_8M",
                   dict(vocabulary_size=33, num_layers=6, num_heads=20, hidden_dim=320,
                        intermediate_dim=1280, max_sequence_length=1026), "MaskedPLM"),
    # facebook/esm2_t33_650M_UR50D
    "ESM2_t33_650M": ("ESM", "esm2_t33_650M",
                      dict(vocabulary_size=33, num_layers=33, num_heads=20, hidden_dim=1280,
                           intermediate_dim=5120, max_sequence_length=1026), "MaskedPLM"),
    # google/paligemma-3b-mix-224
    "PaliGemma_3b_224": ("PaliGemma", "pali_gemma_3b_mix_224",
                         dict(vocabulary_size=257152, image_size=224, num_layers=18, num_query_heads=8,
                              num_key_value_heads=1, hidden_dim=2048, intermediate_dim=32768, head_dim=256,
                              vit_patch_size=14, vit_num_heads=16, vit_hidden_dim=1152, vit_num_layers=27,
                              vit_intermediate_dim=4304), "CausalLM"),
}


def task(family, name, backbone, **kwargs):
    cls = getattr(M, family + name)
    if name in ("TextClassifier", "ProteinClassifier"):
        kwargs["num_classes"] = 3
    return cls(backbone=backbone, preprocessor=None, **kwargs)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "keras_hub_text.json.gz")
    keras.utils.set_random_seed(0)
    cases = []
    for name, (family, config, tasks) in SMALL.items():
        keras.backend.clear_session()
        backbone = backbone_class(family)(**config)
        round_trips(backbone)
        cases.append(describe(backbone, "backbone", name))
        for t in tasks:
            model = task(family, t, backbone)
            round_trips(model)
            cases.append(describe(model, "task", f"{name}{t}"))
        print(name, [c["total_params"] for c in cases[-1 - len(tasks):]], flush=True)
    for name, (family, preset, config, t) in PRESETS.items():
        keras.backend.clear_session()
        with keras.StatelessScope(initialize_variables=False):
            backbone = backbone_class(family)(**config)
            model = task(family, t, backbone, compile=False)
            case = describe(model, "preset", name)
        want = preset_params(family, preset)
        assert backbone.count_params() == want, (name, backbone.count_params(), want)
        case["preset"] = preset
        case["backbone_params"] = backbone.count_params()
        cases.append(case)
        print(name, preset, backbone.count_params(), want, case["total_params"], flush=True)
    with gzip.open(out, "wt") as f:
        json.dump(dict(keras=keras.__version__, keras_hub=keras_hub.__version__, models=cases),
                  f, indent=0, sort_keys=True)
    print(f"{len(cases)} models -> {out}")


if __name__ == "__main__":
    main()
