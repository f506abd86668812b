"""FLOPs of small transformers configs whose structures `memory` lowers beyond the
oracle's gpt2/llama/bert cases, measured with torch.utils.flop_counter.FlopCounterMode
on CPU (FLOPs do not depend on the device) under the protocol of
../shared/oracle/gpu_memory.py: `model.train()`, fp32, the loss `model(input_ids,
labels=input_ids).loss` for LM heads, `last_hidden_state.float().pow(2).mean()` for base
models (vit: on `pixel_values`; t5's `T5Model` also takes `decoder_input_ids=input_ids`;
its LM head, `seq2seq`, is `T5ForConditionalGeneration` with `labels=input_ids`); `flops_fwd` counts forward + loss, `flops_fwd_bwd` adds
`loss.backward()`.

MoE models run their experts through `grouped_mm`, which the counter has no rule for:
their reference figures are measured with `experts_implementation="eager"` (the same
products, one `mm` per expert, all counted); the grouped path's own count is kept beside
them as `counter_grouped_mm_*`.

The configs keep as many kv heads as query heads (falcon's new architecture copies them
out to all heads): with grouped kv heads in fp32, SDPA
on CUDA takes its math path (4 bmm-units backward, what `memory` models) where the CPU
kernel counts 5.

t5 adds its relative position bias to the scores: SDPA takes it as a float `attn_mask`
that requires grad, which on CUDA runs the memory-efficient kernel (5 bmm-units
backward, what `memory` models for SDPA) and on CPU the math path (4, as eager): its
cases are measured and checked with `attn = "eager"` (the CPU counts of both are equal).
So are the cases with attention dropout (falcon's ALiBi, gpt2): SDPA runs a fused kernel
on CUDA (5 units) but the math path on CPU once dropout is on; without dropout the CPU
kernel counts 5 units as CUDA's does, and those cases run SDPA.

Writes hf_flops.json next to this file; the Rust tests read only the JSON. Run with a
Python that has torch and transformers (5.17 made the committed file); without them it
exits without writing anything.
"""
import json
import os
import sys

try:
    import torch
    import transformers
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoModelForSeq2SeqLM
except ImportError:
    print("torch and transformers are needed to measure FLOPs; nothing written")
    sys.exit(0)

BATCH, SEQ = 2, 16

CASES = [
    ("mixtral-tiny", {"model_type": "mixtral", "vocab_size": 128, "hidden_size": 64,
                      "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4,
                      "num_key_value_heads": 4, "num_local_experts": 4, "num_experts_per_tok": 2},
     "causal_lm"),
    ("mixtral-top1-base", {"model_type": "mixtral", "vocab_size": 96, "hidden_size": 48,
                           "intermediate_size": 80, "num_hidden_layers": 1, "num_attention_heads": 3,
                           "num_key_value_heads": 3, "num_local_experts": 3, "num_experts_per_tok": 1},
     "base"),
    ("qwen2_moe-tiny", {"model_type": "qwen2_moe", "vocab_size": 128, "hidden_size": 64,
                        "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4,
                        "num_key_value_heads": 4, "num_experts": 4, "num_experts_per_tok": 2,
                        "moe_intermediate_size": 48, "shared_expert_intermediate_size": 80},
     "causal_lm"),
    ("qwen2_moe-sparse-step", {"model_type": "qwen2_moe", "vocab_size": 128, "hidden_size": 64,
                               "intermediate_size": 96, "num_hidden_layers": 3, "num_attention_heads": 4,
                               "num_key_value_heads": 4, "num_experts": 6, "num_experts_per_tok": 3,
                               "moe_intermediate_size": 32, "shared_expert_intermediate_size": 64,
                               "decoder_sparse_step": 2, "norm_topk_prob": True},
     "base"),
    ("gpt_neox-parallel", {"model_type": "gpt_neox", "vocab_size": 128, "hidden_size": 64,
                           "intermediate_size": 160, "num_hidden_layers": 2, "num_attention_heads": 4,
                           "use_parallel_residual": True},
     "causal_lm"),
    ("gpt_neox-parallel-base", {"model_type": "gpt_neox", "vocab_size": 96, "hidden_size": 48,
                                "intermediate_size": 96, "num_hidden_layers": 1, "num_attention_heads": 2},
     "base"),
    ("falcon-old-parallel", {"model_type": "falcon", "vocab_size": 128, "hidden_size": 64,
                             "num_hidden_layers": 2, "num_attention_heads": 4, "multi_query": False},
     "causal_lm"),
    ("falcon-new-2ln", {"model_type": "falcon", "vocab_size": 128, "hidden_size": 64,
                        "num_hidden_layers": 2, "num_attention_heads": 4, "num_kv_heads": 2,
                        "new_decoder_architecture": True, "bias": True, "ffn_hidden_size": 96},
     "causal_lm"),
    ("falcon-new-1ln-base", {"model_type": "falcon", "vocab_size": 128, "hidden_size": 64,
                             "num_hidden_layers": 2, "num_attention_heads": 4, "num_kv_heads": 1,
                             "new_decoder_architecture": True, "num_ln_in_parallel_attn": 1},
     "base"),
    ("falcon-sequential", {"model_type": "falcon", "vocab_size": 128, "hidden_size": 64,
                           "num_hidden_layers": 2, "num_attention_heads": 4, "multi_query": False,
                           "parallel_attn": False},
     "causal_lm"),
    ("opt-proj", {"model_type": "opt", "vocab_size": 128, "hidden_size": 64, "word_embed_proj_dim": 32,
                  "ffn_dim": 96, "num_hidden_layers": 2, "num_attention_heads": 4},
     "causal_lm"),
    ("opt-proj-postnorm-base", {"model_type": "opt", "vocab_size": 128, "hidden_size": 64,
                                "word_embed_proj_dim": 48, "ffn_dim": 80, "num_hidden_layers": 2,
                                "num_attention_heads": 4, "do_layer_norm_before": False},
     "base"),
    ("vit-tiny", {"model_type": "vit", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
                  "intermediate_size": 96, "image_size": 32, "patch_size": 8},
     "base"),
    ("vit-rect-pooler", {"model_type": "vit", "hidden_size": 48, "num_hidden_layers": 1,
                         "num_attention_heads": 3, "intermediate_size": 80, "image_size": [32, 16],
                         "patch_size": [8, 4], "num_channels": 1, "pooler_output_size": 24,
                         "qkv_bias": False},
     "base"),
    ("falcon-alibi", {"model_type": "falcon", "vocab_size": 128, "hidden_size": 64,
                      "num_hidden_layers": 2, "num_attention_heads": 4, "multi_query": False,
                      "alibi": True, "parallel_attn": False, "attention_dropout": 0.1},
     "causal_lm", "eager"),
    ("falcon-alibi-parallel-base", {"model_type": "falcon", "vocab_size": 96, "hidden_size": 48,
                                    "num_hidden_layers": 2, "num_attention_heads": 3,
                                    "multi_query": False, "alibi": True},
     "base"),
    ("gpt2-cross-unused", {"model_type": "gpt2", "vocab_size": 128, "n_embd": 64, "n_layer": 2,
                           "n_head": 4, "n_positions": 32, "add_cross_attention": True},
     "causal_lm", "eager"),
    ("t5-relu", {"model_type": "t5", "decoder_start_token_id": 0, "pad_token_id": 0, "vocab_size": 128, "d_model": 64, "d_kv": 16, "d_ff": 96,
                 "num_layers": 2, "num_heads": 4},
     "seq2seq", "eager"),
    ("t5-gated-untied", {"model_type": "t5", "decoder_start_token_id": 0, "pad_token_id": 0, "vocab_size": 96, "d_model": 48, "d_kv": 8, "d_ff": 80,
                         "num_layers": 2, "num_decoder_layers": 1, "num_heads": 3,
                         "feed_forward_proj": "gated-gelu", "tie_word_embeddings": False},
     "seq2seq", "eager"),
    ("t5-base", {"model_type": "t5", "decoder_start_token_id": 0, "pad_token_id": 0, "vocab_size": 128, "d_model": 64, "d_kv": 16, "d_ff": 96,
                 "num_layers": 1, "num_decoder_layers": 2, "num_heads": 4},
     "base", "eager"),
]


def build(config, head, attn="sdpa", experts=None):
    kw = dict(config)
    cfg = AutoConfig.for_model(kw.pop("model_type"), **kw)
    cfg._attn_implementation = attn
    if experts:
        cfg._experts_implementation = experts
    cls = {"causal_lm": AutoModelForCausalLM, "base": AutoModel, "seq2seq": AutoModelForSeq2SeqLM}[head]
    model = cls.from_config(cfg)
    model.train()
    return model, cfg


def loss_of(model, cfg, head):
    if getattr(cfg, "model_type", "") == "vit":
        h, w = cfg.image_size if isinstance(cfg.image_size, (list, tuple)) else (cfg.image_size,) * 2
        x = torch.randn(BATCH, cfg.num_channels, h, w)
        return model(pixel_values=x).last_hidden_state.float().pow(2).mean()
    ids = torch.randint(0, cfg.vocab_size, (BATCH, SEQ))
    if head == "base":
        # an encoder-decoder's bare model needs decoder inputs: the same ids
        extra = {"decoder_input_ids": ids} if cfg.is_encoder_decoder else {}
        return model(input_ids=ids, **extra).last_hidden_state.float().pow(2).mean()
    return model(input_ids=ids, labels=ids).loss


def flops(model, cfg, head):
    fc = FlopCounterMode(display=False)
    with fc:
        loss_of(model, cfg, head)
    fwd = fc.get_total_flops()
    fc = FlopCounterMode(display=False)
    with fc:
        loss_of(model, cfg, head).backward()
    return fwd, fc.get_total_flops()


def main():
    torch.manual_seed(0)
    rows = []
    for name, config, head, *attn in CASES:
        attn = attn[0] if attn else "sdpa"
        model, cfg = build(config, head, attn)
        row = {"name": name, "config": config, "head": head, "attn": attn, "batch": BATCH,
               "seq": SEQ}
        if getattr(cfg, "num_experts_per_tok", None):
            row["counter_grouped_mm_fwd"], row["counter_grouped_mm_fwd_bwd"] = flops(model, cfg, head)
            model, cfg = build(config, head, attn, experts="eager")
        row["params"] = sum(p.numel() for p in model.parameters())
        row["flops_fwd"], row["flops_fwd_bwd"] = flops(model, cfg, head)
        rows.append(row)
        print(name, row["params"], row["flops_fwd"], row["flops_fwd_bwd"])
    env = {"torch": torch.__version__, "transformers": transformers.__version__}
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hf_flops.json")
    with open(out, "w") as f:
        json.dump({"env": env, "cases": rows}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
