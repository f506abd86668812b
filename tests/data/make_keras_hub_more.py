"""KerasHub ground truth, more families: QwenMoe, Qwen3Moe, SmolLM3, GptOss, Falcon,
XLMRoberta and Xception backbones with their task models (CausalLM; XLMRoberta:
TextClassifier and MaskedLM; Xception: ImageClassifier), built by the real keras-hub from small configs with random weights, recorded
as make_keras_hub.py records them (`describe`: `model_json`, totals, the rows of
`model.summary()`).

Preset-sized models are built too, from the transformers config.json of the released
model (tests/data/hf_real, examples/) through keras-hub's own converter
(`keras_hub.src.utils.transformers.convert_<family>.convert_backbone_config`), or from the
sizes of keras-hub's preset where no config.json is stored here; their weights are
declared inside a `keras.StatelessScope(initialize_variables=False)`, which never
allocates them, so a 30B model costs its layer objects only. Each preset's total is checked against the `params` of
keras-hub's preset metadata (`<family>_presets.py`) before it is written.

usage: KERAS_BACKEND=jax /work/scratch/keras/bin/python tests/data/make_keras_hub_more.py [OUTFILE]
  (keras 3.15.1, keras-hub 0.32); OUTFILE defaults to tests/data/keras_hub_more.json.gz.
"""
import gzip
import importlib
import inspect
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
ROOT = os.path.dirname(os.path.dirname(HERE))

CAUSAL = ["CausalLM"]
ENCODER = ["TextClassifier", "MaskedLM"]
SMOLLM3 = dict(vocabulary_size=64, hidden_dim=16, intermediate_dim=24, num_layers=4,
               num_attention_heads=4, num_key_value_heads=2, attention_bias=False,
               attention_dropout=0.0, rope_layer_enabled_list=[True, True, True, False],
               layer_types=["full_attention"] * 4, mlp_bias=False, layer_norm_epsilon=1e-6,
               max_position_embeddings=64, rope_theta=10000.0, partial_rotary_factor=1.0)
# name -> (family, small config, task classes)
SMALL = {
    "QwenMoe": ("QwenMoe", dict(vocabulary_size=64, num_layers=2, num_query_heads=4,
                                num_key_value_heads=2, hidden_dim=16, intermediate_dim=32,
                                moe_intermediate_dim=8, shared_expert_intermediate_dim=24,
                                num_experts=4, top_k=2), CAUSAL),
    # decoder_sparse_step 2: keras-hub builds every layer with the dense MLP (its decoder
    # is never given its layer index, so the step test sees layer 0 in every layer)
    "QwenMoe_dense": ("QwenMoe", dict(vocabulary_size=64, num_layers=2, num_query_heads=4,
                                      num_key_value_heads=2, hidden_dim=16, intermediate_dim=32,
                                      moe_intermediate_dim=8, shared_expert_intermediate_dim=24,
                                      num_experts=4, top_k=2, decoder_sparse_step=2,
                                      tie_word_embeddings=True), []),
    "Qwen3Moe": ("Qwen3Moe", dict(vocabulary_size=64, num_layers=3, num_query_heads=4,
                                  num_key_value_heads=2, head_dim=8, hidden_dim=16,
                                  intermediate_dim=32, moe_intermediate_dim=8, num_experts=4,
                                  top_k=2, mlp_only_layers=[1]), CAUSAL),
    "Qwen3Moe_step2": ("Qwen3Moe", dict(vocabulary_size=64, num_layers=4, num_query_heads=4,
                                        num_key_value_heads=2, hidden_dim=16, intermediate_dim=32,
                                        moe_intermediate_dim=8, num_experts=4, top_k=2,
                                        decoder_sparse_step=2, tie_word_embeddings=True), []),
    "SmolLM3": ("SmolLM3", SMOLLM3, CAUSAL),
    "SmolLM3_bias": ("SmolLM3", dict(SMOLLM3, attention_bias=True, mlp_bias=True), []),
    "GptOss": ("GptOss", dict(vocabulary_size=64, num_layers=3, num_query_heads=4,
                              num_key_value_heads=2, hidden_dim=16, intermediate_dim=24,
                              num_experts=4, top_k=2, sliding_window=8, head_dim=8), CAUSAL),
    "Falcon": ("Falcon", dict(vocabulary_size=64, num_layers=2, num_attention_heads=2,
                              hidden_dim=16, intermediate_dim=40), CAUSAL),
    "XLMRoberta": ("XLMRoberta", dict(vocabulary_size=64, num_layers=2, num_heads=2, hidden_dim=16,
                                      intermediate_dim=24, max_sequence_length=32), ENCODER),
    # a CNN: first, middle (one keeping its channels: an identity residual) and last blocks
    "Xception": ("Xception", dict(stackwise_conv_filters=[[4, 8], [16, 16], [16, 16], [24, 32]],
                                  stackwise_pooling=[False, True, False, False],
                                  image_shape=(32, 32, 3)), ["ImageClassifier"]),
}


def hf_config(path):
    with open(os.path.join(ROOT, path)) as f:
        return json.load(f)


def converted(family, module, path, **missing):
    """keras-hub's own translation of a released model's transformers config.json (with
    the `missing` keys a shortened copy here leaves out; none of them sizes a weight)."""
    convert = importlib.import_module(f"keras_hub.src.utils.transformers.convert_{module}")
    config = convert.convert_backbone_config({**missing, **hf_config(path)})
    accepted = inspect.signature(backbone_class(family).__init__).parameters
    return {k: v for k, v in config.items() if k in accepted}


# name -> (family, keras-hub preset whose metadata `params` the build must equal, config,
# task); configs come from the released model's config.json where one is stored here
def presets():
    return {
        "QwenMoe_a2_7b": ("QwenMoe", "qwen1.5_moe_2.7b_en",
                          converted("QwenMoe", "qwen_moe",
                                    "tests/data/hf_real/Qwen__Qwen1.5-MoE-A2.7B-Chat.json"),
                          "CausalLM"),
        "Qwen3Moe_30b_a3b": ("Qwen3Moe", "qwen3_moe_30b_a3b_en",
                             converted("Qwen3Moe", "qwen3_moe", "examples/qwen3-30b-a3b.json",
                                       rope_theta=1e6, decoder_sparse_step=1, rms_norm_eps=1e-6,
                                       sliding_window=None, router_aux_loss_coef=0.001),
                             "CausalLM"),
        "GptOss_20b": ("GptOss", "gpt_oss_20b_en",
                       converted("GptOss", "gpt_oss", "tests/data/hf_real/openai__gpt-oss-20b.json"),
                       "CausalLM"),
        # HuggingFaceTB/SmolLM3-3B: a NoPE layer every fourth
        "SmolLM3_3b": ("SmolLM3", "smollm3_3b_en",
                       dict(SMOLLM3, vocabulary_size=128256, hidden_dim=2048, intermediate_dim=11008,
                            num_layers=36, num_attention_heads=16, num_key_value_heads=4,
                            rope_layer_enabled_list=[i % 4 != 3 for i in range(36)],
                            layer_types=["full_attention"] * 36, max_position_embeddings=65536,
                            rope_theta=5000000.0), "CausalLM"),
        # tiiuae/falcon-rw-1b
        "Falcon_rw_1b": ("Falcon", "falcon_refinedweb_1b_en",
                         dict(vocabulary_size=50304, num_layers=24, num_attention_heads=32,
                              hidden_dim=2048, intermediate_dim=8192), "CausalLM"),
        # keras-hub's xception_41_imagenet (Keras Applications' Xception)
        "Xception_41": ("Xception", "xception_41_imagenet",
                        dict(stackwise_conv_filters=[[32, 64], [128, 128], [256, 256], [728, 728]]
                             + [[728, 728, 728]] * 8 + [[728, 1024], [1536, 2048]],
                             stackwise_pooling=[False, True, True, True] + [False] * 8 + [True, False],
                             image_shape=(299, 299, 3)), "ImageClassifier"),
        # FacebookAI/xlm-roberta-base
        "XLMRoberta_base": ("XLMRoberta", "xlm_roberta_base_multi",
                            dict(vocabulary_size=250002, num_layers=12, num_heads=12, hidden_dim=768,
                                 intermediate_dim=3072, max_sequence_length=512), "MaskedLM"),
    }


def backbone_class(family):
    return getattr(M, family + "Backbone")


def task(family, name, backbone, **kwargs):
    cls = getattr(M, family + name)
    if name in ("TextClassifier", "ImageClassifier"):
        kwargs["num_classes"] = 3
    return cls(backbone=backbone, preprocessor=None, **kwargs)


def preset_params(family, preset):
    package = backbone_class(family).__module__.rsplit(".", 1)[0]
    module = importlib.import_module(f"{package}.{package.rsplit('.', 1)[1]}_presets")
    return module.backbone_presets[preset]["metadata"]["params"]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "keras_hub_more.json.gz")
    keras.utils.set_random_seed(0)
    cases = []
    for name, (family, config, tasks) in SMALL.items():
        # fresh auto-names (a task's `input_layer`) for each model, as a user's session has
        keras.backend.clear_session()
        backbone = backbone_class(family)(**config)
        round_trips(backbone)
        cases.append(describe(backbone, "backbone", name))
        for t in tasks:
            model = task(family, t, backbone)
            round_trips(model)
            cases.append(describe(model, "task", f"{name}{t}"))
        print(name, [c["total_params"] for c in cases[-1 - len(tasks):]], flush=True)
    for name, (family, preset, config, t) in presets().items():
        keras.backend.clear_session()
        with keras.StatelessScope(initialize_variables=False):
            backbone = backbone_class(family)(**config)
            # compiling makes optimizer variables, which a stateless scope refuses
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
