"""transformers' own count of the Qwen3.5 text decoders keras-hub builds in
keras_hub_new.json.gz (make_keras_hub_new.py): each Qwen3_5 / Qwen3_5Moe backbone's
constructor arguments as a `qwen3_5_text` / `qwen3_5_moe_text` config, built on the meta
device as `Qwen3_5ForCausalLM` / `Qwen3_5MoeForCausalLM`: all parameters and those one
token uses (hf_fixture.active).

usage: /work/scratch/hf/bin/python tests/data/make_hf_qwen3_5.py
  (torch 2.15, transformers 5.24) -> tests/data/hf_qwen3_5.json
"""
import gzip
import json
import os

import transformers
from transformers import AutoConfig, AutoModelForCausalLM

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


def main():
    with gzip.open(os.path.join(HERE, "keras_hub_new.json.gz"), "rt") as f:
        models = json.load(f)["models"]
    out = {}
    for m in models:
        j = m["model_json"]
        if j["class_name"] not in ("Qwen3_5Backbone", "Qwen3_5MoeBackbone"):
            continue
        model_type = "qwen3_5_moe_text" if "Moe" in j["class_name"] else "qwen3_5_text"
        kw = {KEYS[k]: v for k, v in j["config"].items() if k in KEYS}
        cfg = AutoConfig.for_model(model_type, **kw)
        lm = build(AutoModelForCausalLM, cfg)
        out[m["name"]] = dict(model_type=model_type, config=kw, transformers_class=type(lm).__name__,
                              params=count(lm), active_params=active(lm, cfg))
        print(m["name"], out[m["name"]]["params"], out[m["name"]]["active_params"])
    with open(os.path.join(HERE, "hf_qwen3_5.json"), "w") as f:
        json.dump(dict(transformers=transformers.__version__, models=out), f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
