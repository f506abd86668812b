"""Generate tests/data/hf_gemma4.json: transformers' gemma4_text measured with the real
transformers (5.24).
- `rows`: totals and classes of AutoModel (`Gemma4TextModel`) and AutoModelForCausalLM
  (`Gemma4ForCausalLM`) on the meta device, the active parameters per token of those with
  experts (`base_active`, `causal_lm_active`: all but the `num_experts - top_k_experts`
  experts a token skips) and, for small models, `modules` {path: [class, params]};
- `flops`: tiny configs' parameters, buffer elements and forward and forward+backward FLOPs
  under torch.utils.flop_counter on CPU (`train()`, fp32, eager attention, eager experts:
  the counter has no rule for grouped_mm; the LM's own loss, or
  `last_hidden_state.float().pow(2).mean()` for the bare model);
- `cache`: the bytes of the `DynamicCache` after `generate` (greedy, PROMPT + NEW_TOKENS
  tokens): the KV-shared layers store none;
- `keras_hub_twins`: the config archbudget makes of each text-only keras-hub
  Gemma4Backbone without an attention soft cap of tests/data/keras_hub_gemma4.json.gz and keras_hub_mutants_gemma4.json.gz
  whose twin transformers builds as keras-hub does (formats/keras_hub/gemma4.rs), with
  the count of its `Gemma4TextModel`.

    /work/scratch/hf/bin/python tests/data/make_hf_gemma4.py   # needs torch, transformers
"""
import gzip
import json
import pathlib
import sys
import warnings

try:
    import torch
    import transformers
    from transformers import AutoModel, AutoModelForCausalLM
except ImportError:
    print("torch and transformers are needed; nothing written")
    sys.exit(0)

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from hf_fixture import build, config_of, count, count_rows, forward_and_backward_flops, head_loss, write_records  # noqa: E402

T = "gemma4_text"
SMALL = dict(vocab_size=128, hidden_size=32, intermediate_size=48, num_hidden_layers=6, num_attention_heads=4,
             num_key_value_heads=2, head_dim=8, global_head_dim=16, vocab_size_per_layer_input=128,
             hidden_size_per_layer_input=8, num_kv_shared_layers=2, sliding_window=4,
             layer_types=["sliding_attention", "sliding_attention", "full_attention"] * 2)
MOE = dict(SMALL, hidden_size_per_layer_input=0, num_kv_shared_layers=0, enable_moe_block=True, num_experts=4,
           top_k_experts=2, moe_intermediate_size=12, attention_k_eq_v=True, num_global_key_value_heads=1,
           final_logit_softcapping=30.0)
CASES = [
    ("gemma4-e2b-default", T, {}),
    ("gemma4-e4b", T, dict(hidden_size=2560, intermediate_size=10240, num_hidden_layers=42, num_key_value_heads=2,
                           num_kv_shared_layers=18, final_logit_softcapping=30.0)),
    ("gemma4-26b-a4b", T, dict(hidden_size=2816, intermediate_size=2112, num_hidden_layers=30, num_attention_heads=16,
                               num_key_value_heads=8, hidden_size_per_layer_input=0, enable_moe_block=True,
                               num_experts=128, top_k_experts=8, moe_intermediate_size=704, attention_k_eq_v=True,
                               num_global_key_value_heads=2, sliding_window=1024, final_logit_softcapping=30.0)),
    ("gemma4-31b", T, dict(hidden_size=5376, intermediate_size=21504, num_hidden_layers=60, num_attention_heads=32,
                           num_key_value_heads=16, hidden_size_per_layer_input=0, attention_k_eq_v=True,
                           num_global_key_value_heads=4, sliding_window=1024, final_logit_softcapping=30.0)),
    ("gemma4-small", T, SMALL),
    ("gemma4-small-double-wide-untied-biased", T, dict(SMALL, use_double_wide_mlp=True, tie_word_embeddings=False,
                                                       attention_bias=True, num_kv_shared_layers=3)),
    ("gemma4-small-moe-k-eq-v", T, MOE),
    ("gemma4-small-k-eq-v-no-global-heads", T, dict(SMALL, attention_k_eq_v=True, num_kv_shared_layers=0,
                                                    layer_types=["sliding_attention", "full_attention"] * 3)),
    ("gemma4-small-bidirectional", T, dict(SMALL, use_bidirectional_attention="all", num_kv_shared_layers=0)),
]
FLOPS = [
    ("gemma4-flops-lm-per-layer-shared", dict(SMALL, model_type=T), "causal_lm"),
    ("gemma4-flops-base-moe", dict(MOE, model_type=T), "base"),
    ("gemma4-flops-lm-double-wide-biased", dict(SMALL, model_type=T, use_double_wide_mlp=True, attention_bias=True,
                                                tie_word_embeddings=False, final_logit_softcapping=30.0,
                                                num_kv_shared_layers=3), "causal_lm"),
    ("gemma4-flops-lm-moe-shared", dict(MOE, model_type=T, num_kv_shared_layers=2, hidden_size_per_layer_input=4),
     "causal_lm"),
]
CACHE = [
    ("gemma4-cache-shared", dict(SMALL, model_type=T, sliding_window=64)),
    ("gemma4-cache-k-eq-v", dict(MOE, model_type=T, sliding_window=64)),
]
BATCH, SEQ = 2, 16
CACHE_BATCH, PROMPT, NEW_TOKENS = 2, 7, 5


def with_active(rows):
    """The active parameters of the rows with experts (gemma4 names its top-k
    `top_k_experts`, which hf_fixture.active does not read)."""
    for row in rows:
        config = row["config"]
        if not config.get("enable_moe_block"):
            continue
        cfg = config_of(config)
        for key, auto in (("base", AutoModel), ("causal_lm", AutoModelForCausalLM)):
            model = build(auto, cfg)
            idle = sum(count(m) * (m.num_experts - cfg.top_k_experts) // m.num_experts
                       for m in model.modules() if type(m).__name__ == "Gemma4TextExperts")
            row[f"{key}_active"] = count(model) - idle
        print(row["name"], "active", row["base_active"], row["causal_lm_active"], flush=True)
    return rows


def flop_rows():
    torch.manual_seed(0)
    rows = []
    for name, config, head in FLOPS:
        cfg = config_of(config)
        cfg._attn_implementation = "eager"
        cfg._experts_implementation = "eager"
        model = (AutoModel if head == "base" else AutoModelForCausalLM).from_config(cfg)
        model.train()
        ids = torch.randint(0, cfg.vocab_size, (BATCH, SEQ))
        counts = forward_and_backward_flops(lambda: head_loss(model, head, ids))
        rows.append(dict(name=name, config=config, head=head, attn="eager", batch=BATCH, seq=SEQ,
                         params=count(model), buffers=sum(b.numel() for b in model.buffers()),
                         flops_fwd=counts[0], flops_fwd_bwd=counts[1]))
        print(name, rows[-1]["params"], rows[-1]["buffers"], counts, flush=True)
    return rows


def storage(t):
    return 0 if t is None else t.untyped_storage().nbytes()


def cache_rows():
    torch.manual_seed(0)
    rows = []
    for name, config in CACHE:
        cfg = config_of(config)
        model = AutoModelForCausalLM.from_config(cfg).eval()
        ids = torch.randint(3, cfg.vocab_size, (CACHE_BATCH, PROMPT))
        with torch.no_grad():
            out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=NEW_TOKENS,
                                 min_new_tokens=NEW_TOKENS, do_sample=False, return_dict_in_generate=True)
        layers = [storage(getattr(layer, "keys", None)) + storage(getattr(layer, "values", None))
                  for layer in out.past_key_values.layers]
        rows.append(dict(name=name, config=config, batch=CACHE_BATCH, prompt=PROMPT, new_tokens=NEW_TOKENS,
                         layer_bytes=layers, cache_bytes=sum(layers)))
        print(name, layers, flush=True)
    return rows


# keras activation names transformers spells otherwise
ACTIVATIONS = {"gelu_approximate": "gelu_pytorch_tanh", "swish": "silu"}


def layer_types(c):
    n = c["num_layers"]
    if c.get("layer_types") is not None:
        return ["full_attention" if t == "full_attention" else "sliding_attention" for t in c["layer_types"]]
    p = c.get("sliding_window_pattern", 6)
    return ["full_attention" if i % p == p - 1 else "sliding_attention" for i in range(n)]


def twin(c):
    """gemma4.rs's `hf_config`: keras-hub's arguments under transformers' names."""
    global_kv = c.get("num_global_key_value_heads")
    out = dict(model_type=T, vocab_size=c["vocabulary_size"], hidden_size=c["hidden_dim"],
               intermediate_size=c["intermediate_dim"], num_hidden_layers=c["num_layers"],
               num_attention_heads=c["num_query_heads"], num_key_value_heads=c["num_key_value_heads"],
               head_dim=c["head_dim"], global_head_dim=c.get("global_head_dim") or c["head_dim"],
               hidden_activation="gelu_pytorch_tanh", layer_types=layer_types(c),
               sliding_window=c.get("sliding_window_size", 512), rms_norm_eps=c.get("layer_norm_epsilon", 1e-6),
               attention_dropout=c.get("dropout", 0), attention_k_eq_v=global_kv is not None,
               num_global_key_value_heads=global_kv,
               hidden_size_per_layer_input=c.get("hidden_size_per_layer_input") or 0,
               vocab_size_per_layer_input=c.get("vocab_size_per_layer_input") or c["vocabulary_size"],
               num_kv_shared_layers=c.get("num_kv_shared_layers", 0),
               use_double_wide_mlp=c.get("use_double_wide_mlp", False),
               enable_moe_block=c.get("enable_moe_block", False), num_experts=c.get("num_experts"),
               top_k_experts=c.get("num_experts_per_token", 8) if c.get("enable_moe_block") else None,
               moe_intermediate_size=c.get("expert_intermediate_dim"),
               final_logit_softcapping=c.get("final_logit_soft_cap"),
               use_bidirectional_attention="all" if c.get("use_bidirectional_attention") else None,
               tie_word_embeddings=True)
    return out


def runs_as_keras_hub(c):
    """transformers builds the same layers: the last layer is full (transformers forces
    it), and every KV-shared layer has an earlier unshared layer of its kind."""
    types, shared = c["layer_types"], c["num_kv_shared_layers"]
    first = len(types) - shared
    if types[-1] != "full_attention":
        return False
    return shared == 0 or (first > 0 and set(types[first:]) <= set(types[:first]))


def keras_hub_twins():
    rows = []
    for fixture in ("keras_hub_gemma4.json.gz", "keras_hub_mutants_gemma4.json.gz"):
        data = json.loads(gzip.open(pathlib.Path(__file__).with_name(fixture)).read())
        for m in data["models"]:
            mj = m["model_json"]
            if mj.get("registered_name") != "keras_hub>Gemma4Backbone":
                continue
            c = mj["config"]
            if (c.get("vision_encoder") or c.get("audio_encoder") or c.get("is_embedding_model")
                    or c.get("attention_logit_soft_cap") is not None):
                continue
            config = twin(c)
            if not runs_as_keras_hub(config):
                continue
            model = build(AutoModel, config_of({k: v for k, v in config.items() if v is not None}))
            rows.append(dict(name=m["name"], fixture=fixture, config=config, params=count(model),
                             keras_params=m["total_params"]))
            print(m["name"], rows[-1]["params"], m["total_params"], flush=True)
    return rows


def main():
    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    write_records(pathlib.Path(__file__).with_name("hf_gemma4.json"), rows=with_active(count_rows(CASES, AutoModelForCausalLM)),
                  flops=flop_rows(), cache=cache_rows(), keras_hub_twins=keras_hub_twins())


if __name__ == "__main__":
    main()
