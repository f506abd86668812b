"""transformers' own count of the keras-hub models in keras_hub_new.json.gz
(make_keras_hub_new.py) that transformers has: each Qwen3_5 / Qwen3_5Moe backbone's
constructor arguments as a `qwen3_5_text` / `qwen3_5_moe_text` config, built on the meta
device as `Qwen3_5ForCausalLM` / `Qwen3_5MoeForCausalLM`, and the MetaCLIP2 backbone as
a `metaclip_2` config (`MetaClip2Model`): all parameters and those one token uses
(hf_fixture.active).

usage: /work/scratch/hf/bin/python tests/data/make_hf_keras_hub_new.py
  (torch 2.15, transformers 5.24) -> tests/data/hf_keras_hub_new.json
"""
import gzip
import json
import os

import transformers
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM

from hf_fixture import active, build, count

HERE = os.path.dirname(os.path.abspath(__file__))
KEYS = {"vocabulary_size": "vocab_size", "num_layers": "num_hidden_layers",
        "num_query_heads": "num_attention_heads", "num_key_value_heads": "num_key_value_heads",
        "head_dim": "head_dim", "hidden_dim": "hidden_size", "intermediate_dim": "intermediate_size",
        "layer_types": "layer_types", "tie_word_embeddings": "tie_word_embeddings",
        "linear_num_key_heads": "linear_num_key_heads",
        "linear_num_value_heads": "linear_num_value_heads",
        "linear_key_head_dim": "linear_key_head_dim",
        "linear_value_head_dim": "linear_value_head_dim",
        "linear_conv_kernel_dim": "linear_conv_kernel_dim", "num_experts": "num_experts",
        "top_k": "num_experts_per_tok", "moe_intermediate_dim": "moe_intermediate_size",
        "shared_expert_intermediate_size": "shared_expert_intermediate_size"}


ENCODER_KEYS = {"hidden_dim": "hidden_size", "num_layers": "num_hidden_layers",
                "num_heads": "num_attention_heads", "intermediate_dim": "intermediate_size",
                "intermediate_activation": "hidden_act", "patch_size": "patch_size",
                "vocabulary_size": "vocab_size", "max_sequence_length": "max_position_embeddings"}


def metaclip_2(config):
    """The `metaclip_2` config of a MetaCLIP2Backbone's constructor arguments."""
    sub = {}
    for side in ("vision", "text"):
        c = config[f"{side}_encoder"]["config"]
        sub[f"{side}_config"] = {ENCODER_KEYS[k]: v for k, v in c.items() if k in ENCODER_KEYS}
    vision = config["vision_encoder"]["config"]
    sub["vision_config"].update(image_size=vision["image_shape"][0],
                                num_channels=vision["image_shape"][2])
    return dict(projection_dim=config["projection_dim"], **sub)


def main():
    with gzip.open(os.path.join(HERE, "keras_hub_new.json.gz"), "rt") as f:
        models = json.load(f)["models"]
    out = {}
    for m in models:
        j = m["model_json"]
        if j["class_name"] == "MetaCLIP2Backbone":
            kw = metaclip_2(j["config"])
            cfg = AutoConfig.for_model("metaclip_2", **kw)
            model = build(AutoModel, cfg)
            out[m["name"]] = dict(model_type="metaclip_2", config=kw,
                                  transformers_class=type(model).__name__, params=count(model),
                                  active_params=count(model))
            print(m["name"], out[m["name"]]["params"])
            continue
        if j["class_name"] not in ("Qwen3_5Backbone", "Qwen3_5MoeBackbone"):
            continue
        model_type = "qwen3_5_moe_text" if "Moe" in j["class_name"] else "qwen3_5_text"
        kw = {KEYS[k]: v for k, v in j["config"].items() if k in KEYS}
        cfg = AutoConfig.for_model(model_type, **kw)
        lm = build(AutoModelForCausalLM, cfg)
        out[m["name"]] = dict(model_type=model_type, config=kw, transformers_class=type(lm).__name__,
                              params=count(lm), active_params=active(lm, cfg))
        print(m["name"], out[m["name"]]["params"], out[m["name"]]["active_params"])
    with open(os.path.join(HERE, "hf_keras_hub_new.json"), "w") as f:
        json.dump(dict(transformers=transformers.__version__, models=out), f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
