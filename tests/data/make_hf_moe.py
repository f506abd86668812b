"""Generate tests/data/hf_moe.json: the mixture-of-experts and MLA types (qwen3_moe,
deepseek_v2, deepseek_v3, glm4_moe, gpt_oss, llama4_text, and llama4's multimodal wrapper) as the real transformers builds
and runs them.

counts: each case is built on the meta device with AutoModel and AutoModelForCausalLM
(llama4: AutoModelForImageTextToText);
recorded are both totals and classes, the persistent and non-persistent buffers, for
small models `modules` ({path: [class, params]}, as make_hf_extra.py), and the active
parameters per token (`base_active`, `causal_lm_active`), computed from the module
structure: every parameter counts, except that each routed-experts module (a module
whose class name ends in `Experts`, holding all E experts' stacked weights) counts
top_k / E of its parameters. An unset top-k (deepseek_v2's default `None`, with which
the model cannot route) counts no routed expert.

flops: tiny configs of each type measured with torch.utils.flop_counter on CPU under the
protocol of make_hf_flops.py (train mode, fp32, loss `model(ids, labels=ids).loss` or
`last_hidden_state.float().pow(2).mean()`); experts run with
`experts_implementation="eager"` (the counter has no rule for grouped_mm; the grouped
path's count is kept as `counter_grouped_mm_*`), as in make_hf_flops.py.

cache: tiny configs run `generate` (greedy, N new tokens) on CPU; recorded are the bytes
of every tensor the returned cache holds (`cache_bytes`), per layer.

    /work/scratch/hf/bin/python tests/data/make_hf_moe.py
"""
import pathlib
import warnings

import torch
import transformers
from torch.utils.flop_counter import FlopCounterMode
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoModelForImageTextToText

from hf_fixture import active, build, count, module_counts, write_records

QWEN3_MOE_TINY = dict(vocab_size=1000, hidden_size=128, intermediate_size=256, moe_intermediate_size=64,
                      num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2, num_experts=8,
                      num_experts_per_tok=2)
DSV3_TINY = dict(vocab_size=1000, hidden_size=128, intermediate_size=256, moe_intermediate_size=64,
                 num_hidden_layers=3, num_attention_heads=4, n_routed_experts=8, num_experts_per_tok=2,
                 n_group=2, topk_group=1, first_k_dense_replace=1, kv_lora_rank=32, q_lora_rank=48,
                 qk_rope_head_dim=16, qk_nope_head_dim=32, v_head_dim=24)
GLM_TINY = dict(vocab_size=1000, hidden_size=128, intermediate_size=256, moe_intermediate_size=64,
                num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2, n_routed_experts=8,
                num_experts_per_tok=2, first_k_dense_replace=1)
GPT_OSS_TINY = dict(vocab_size=1000, hidden_size=128, intermediate_size=64, num_hidden_layers=3,
                    num_attention_heads=4, num_key_value_heads=2, head_dim=32, num_local_experts=8,
                    num_experts_per_tok=2, sliding_window=8)
LLAMA4_TINY = dict(vocab_size=1000, hidden_size=128, intermediate_size=64, intermediate_size_mlp=192,
                   num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2, head_dim=32,
                   num_local_experts=4, num_experts_per_tok=1)
LLAMA4_VISION_TINY = dict(hidden_size=48, intermediate_size=80, num_hidden_layers=2, num_attention_heads=4,
                          image_size=56, patch_size=14, vision_output_dim=40, projector_input_dim=72,
                          projector_output_dim=72)

CASES = [
    ("qwen3_moe-default", "qwen3_moe", {}),
    ("qwen3_moe-tiny", "qwen3_moe", QWEN3_MOE_TINY),
    ("qwen3_moe-tiny-sparse-step", "qwen3_moe", dict(QWEN3_MOE_TINY, num_hidden_layers=5, decoder_sparse_step=2,
                                                     mlp_only_layers=[3], attention_bias=True,
                                                     tie_word_embeddings=True, head_dim=48)),
    ("qwen3_moe-tiny-no-experts", "qwen3_moe", dict(QWEN3_MOE_TINY, num_experts=0)),
    ("qwen3-30b-a3b", "qwen3_moe", dict(vocab_size=151936, hidden_size=2048, intermediate_size=6144,
                                        moe_intermediate_size=768, num_hidden_layers=48, num_attention_heads=32,
                                        num_key_value_heads=4, head_dim=128, num_experts=128,
                                        num_experts_per_tok=8, norm_topk_prob=True, max_position_embeddings=40960)),
    ("qwen3-235b-a22b", "qwen3_moe", dict(vocab_size=151936, hidden_size=4096, intermediate_size=12288,
                                          moe_intermediate_size=1536, num_hidden_layers=94, num_attention_heads=64,
                                          num_key_value_heads=4, head_dim=128, num_experts=128,
                                          num_experts_per_tok=8, norm_topk_prob=True)),
    ("deepseek_v3-default-671b", "deepseek_v3", {}),
    ("deepseek_v3-tiny", "deepseek_v3", DSV3_TINY),
    ("deepseek_v3-tiny-no-q-lora", "deepseek_v3", dict(DSV3_TINY, q_lora_rank=None, first_k_dense_replace=0,
                                                       attention_bias=True, n_shared_experts=2,
                                                       tie_word_embeddings=True)),
    ("deepseek_v3-tiny-kv-heads", "deepseek_v3", dict(DSV3_TINY, num_key_value_heads=2, num_hidden_layers=2,
                                                      first_k_dense_replace=2)),
    ("deepseek_v3-moonlight-16b", "deepseek_v3", dict(vocab_size=163840, hidden_size=2048, intermediate_size=11264,
                                                      moe_intermediate_size=1408, num_hidden_layers=27,
                                                      num_attention_heads=16, num_key_value_heads=16,
                                                      n_shared_experts=2, n_routed_experts=64,
                                                      num_experts_per_tok=6, n_group=1, topk_group=1,
                                                      first_k_dense_replace=1, q_lora_rank=None)),
    ("deepseek_v2-default", "deepseek_v2", {}),
    ("deepseek_v2-lite", "deepseek_v2", dict(vocab_size=102400, hidden_size=2048, intermediate_size=10944,
                                             moe_intermediate_size=1408, num_hidden_layers=27,
                                             num_attention_heads=16, num_key_value_heads=16, n_shared_experts=2,
                                             n_routed_experts=64, num_experts_per_tok=6, kv_lora_rank=512,
                                             q_lora_rank=None, first_k_dense_replace=1)),
    ("deepseek_v2-236b", "deepseek_v2", dict(vocab_size=102400, hidden_size=5120, intermediate_size=12288,
                                             moe_intermediate_size=1536, num_hidden_layers=60,
                                             num_attention_heads=128, num_key_value_heads=128, n_shared_experts=2,
                                             n_routed_experts=160, num_experts_per_tok=6, n_group=8, topk_group=3,
                                             topk_method="group_limited_greedy", q_lora_rank=1536,
                                             first_k_dense_replace=1)),
    ("deepseek_v2-tiny-bias", "deepseek_v2", dict(DSV3_TINY, mlp_bias=True, attention_bias=True,
                                                  tie_word_embeddings=True, n_group=None, topk_group=None)),
    ("deepseek_v2-tiny-no-q-lora", "deepseek_v2", dict(DSV3_TINY, q_lora_rank=None, first_k_dense_replace=0,
                                                       n_group=None, topk_group=None)),
    ("glm4_moe-default", "glm4_moe", {}),
    ("glm4_moe-tiny", "glm4_moe", GLM_TINY),
    ("glm4_moe-tiny-qk-norm", "glm4_moe", dict(GLM_TINY, use_qk_norm=True, attention_bias=True, head_dim=48,
                                               n_shared_experts=2, tie_word_embeddings=True)),
    ("glm-4.5-air", "glm4_moe", dict(vocab_size=151552, hidden_size=4096, intermediate_size=10944,
                                     moe_intermediate_size=1408, num_hidden_layers=46, num_attention_heads=96,
                                     num_key_value_heads=8, head_dim=128, n_routed_experts=128, n_shared_experts=1,
                                     num_experts_per_tok=8, first_k_dense_replace=1, attention_bias=True,
                                     use_qk_norm=False)),
    ("glm-4.5", "glm4_moe", dict(vocab_size=151552, hidden_size=5120, intermediate_size=12288,
                                 moe_intermediate_size=1536, num_hidden_layers=92, num_attention_heads=96,
                                 num_key_value_heads=8, head_dim=128, n_routed_experts=160, n_shared_experts=1,
                                 num_experts_per_tok=8, first_k_dense_replace=3, attention_bias=True,
                                 use_qk_norm=True)),
    ("gpt_oss-default", "gpt_oss", {}),
    ("gpt_oss-tiny", "gpt_oss", GPT_OSS_TINY),
    ("gpt_oss-tiny-no-bias", "gpt_oss", dict({k: v for k, v in GPT_OSS_TINY.items() if k != "head_dim"},
                                             attention_bias=False, tie_word_embeddings=True)),
    ("gpt-oss-20b", "gpt_oss", dict(num_hidden_layers=24, num_local_experts=32, num_experts_per_tok=4,
                                    vocab_size=201088, hidden_size=2880, intermediate_size=2880,
                                    num_attention_heads=64, num_key_value_heads=8, head_dim=64, sliding_window=128)),
    ("gpt-oss-120b", "gpt_oss", dict(num_hidden_layers=36, num_local_experts=128, num_experts_per_tok=4,
                                     vocab_size=201088, hidden_size=2880, intermediate_size=2880,
                                     num_attention_heads=64, num_key_value_heads=8, head_dim=64, sliding_window=128)),
    ("llama4_text-default", "llama4_text", {}),
    ("llama4_text-tiny", "llama4_text", LLAMA4_TINY),
    ("llama4_text-tiny-interleave", "llama4_text", dict(LLAMA4_TINY, interleave_moe_layer_step=2,
                                                        use_qk_norm=False, tie_word_embeddings=True,
                                                        attention_bias=True)),
    ("llama4_text-tiny-moe-layers", "llama4_text", dict(LLAMA4_TINY, moe_layers=[1, 2], head_dim=16,
                                                        no_rope_layers=[1, 0, 0, 1], attention_chunk_size=None)),
    ("llama-4-scout-text", "llama4_text", dict(vocab_size=202048, hidden_size=5120, intermediate_size=8192,
                                               intermediate_size_mlp=16384, num_hidden_layers=48,
                                               num_attention_heads=40, num_key_value_heads=8, head_dim=128,
                                               num_local_experts=16, num_experts_per_tok=1,
                                               interleave_moe_layer_step=1, use_qk_norm=True,
                                               attention_chunk_size=8192)),
    ("llama-4-maverick-text", "llama4_text", dict(vocab_size=202048, hidden_size=5120, intermediate_size=8192,
                                                  intermediate_size_mlp=16384, num_hidden_layers=48,
                                                  num_attention_heads=40, num_key_value_heads=8, head_dim=128,
                                                  num_local_experts=128, num_experts_per_tok=1,
                                                  interleave_moe_layer_step=2, use_qk_norm=False,
                                                  attention_chunk_size=8192)),
    # the multimodal wrapper: vision tower + projector + Llama4ForCausalLM
    ("llama4-default", "llama4", {}),
    ("llama4-tiny", "llama4", dict(text_config=LLAMA4_TINY, vision_config=LLAMA4_VISION_TINY)),
    ("llama4-tiny-text-tied", "llama4", dict(text_config=dict(LLAMA4_TINY, tie_word_embeddings=True),
                                             vision_config=dict(LLAMA4_VISION_TINY, num_hidden_layers=1))),
    ("llama4-tiny-top-tied", "llama4", dict(text_config=LLAMA4_TINY, vision_config=LLAMA4_VISION_TINY,
                                            tie_word_embeddings=True)),
    ("llama-4-scout", "llama4", dict(
        text_config=dict(vocab_size=202048, hidden_size=5120, intermediate_size=8192, intermediate_size_mlp=16384,
                         num_hidden_layers=48, num_attention_heads=40, num_key_value_heads=8, head_dim=128,
                         num_local_experts=16, num_experts_per_tok=1, interleave_moe_layer_step=1,
                         use_qk_norm=True, attention_chunk_size=8192),
        vision_config=dict(hidden_size=1408, intermediate_size=5632, num_hidden_layers=34, num_attention_heads=16,
                           image_size=336, patch_size=14, vision_output_dim=4096, projector_input_dim=4096,
                           projector_output_dim=4096))),
    # the MoE types known before: active parameters only
    ("mixtral-8x7b", "mixtral", dict(vocab_size=32000, hidden_size=4096, intermediate_size=14336,
                                     num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
                                     num_local_experts=8, num_experts_per_tok=2)),
    ("qwen2_moe-default", "qwen2_moe", {}),
    ("qwen2_moe-tiny-sparse-step", "qwen2_moe", dict(QWEN3_MOE_TINY, shared_expert_intermediate_size=96,
                                                     decoder_sparse_step=2)),
]


# SPEC.md: a multimodal wrapper's causal_lm is its ...ForConditionalGeneration class
LM_CLASS = {"llama4": AutoModelForImageTextToText}


def buffers(model):
    return sum(b.numel() for b in model.buffers())


def counts():
    rows = []
    for name, model_type, kwargs in CASES:
        cfg = AutoConfig.for_model(model_type, **kwargs)
        row = dict(name=name, model_type=model_type, config=dict(model_type=model_type, **kwargs))
        base = build(AutoModel, cfg)
        row.update(base_params=count(base), base_class=type(base).__name__, base_active=active(base, cfg),
                   base_buffers=buffers(base))
        small = sum(1 for _ in base.modules()) < 200
        modules = {"base": module_counts(base)} if small else None
        lm = build(LM_CLASS.get(model_type, AutoModelForCausalLM), cfg)
        row.update(causal_lm_params=count(lm), causal_lm_class=type(lm).__name__,
                   causal_lm_active=active(lm, cfg))
        if small:
            modules["lm"] = module_counts(lm)
            row["modules"] = modules
        rows.append(row)
        print(name, row["base_params"], row["causal_lm_params"], row["causal_lm_active"], flush=True)
    return rows


BATCH, SEQ = 2, 16
TINY = dict(vocab_size=128, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4)
FLOP_CASES = [
    # (name, config, head, attention): kv heads equal query heads, as in make_hf_flops.py
    ("qwen3_moe-tiny", dict(TINY, model_type="qwen3_moe", intermediate_size=96, moe_intermediate_size=32,
                            num_experts=4, num_experts_per_tok=2), "causal_lm", "sdpa"),
    ("qwen3_moe-sparse-step-base", dict(TINY, model_type="qwen3_moe", num_hidden_layers=3, intermediate_size=80,
                                        moe_intermediate_size=48, num_experts=6, num_experts_per_tok=3,
                                        decoder_sparse_step=2, norm_topk_prob=True), "base", "sdpa"),
    # MLA: q/k heads of 24, v heads of 16; the CPU's SDPA takes its math path for two head
    # sizes (CUDA's memory-efficient kernel counts differently), so eager
    ("deepseek_v3-tiny", dict(TINY, model_type="deepseek_v3", intermediate_size=96, moe_intermediate_size=32,
                              n_routed_experts=4, num_experts_per_tok=2, n_group=2, topk_group=1,
                              first_k_dense_replace=1, kv_lora_rank=32, q_lora_rank=24, qk_rope_head_dim=8,
                              qk_nope_head_dim=16, v_head_dim=16), "causal_lm", "eager"),
    ("deepseek_v3-no-q-lora-base", dict(TINY, model_type="deepseek_v3", intermediate_size=96,
                                        moe_intermediate_size=32, n_routed_experts=4, num_experts_per_tok=2,
                                        n_group=1, topk_group=1, first_k_dense_replace=0, kv_lora_rank=16,
                                        q_lora_rank=None, qk_rope_head_dim=8, qk_nope_head_dim=8, v_head_dim=8,
                                        n_shared_experts=2), "base", "eager"),
    ("deepseek_v2-tiny", dict(TINY, model_type="deepseek_v2", intermediate_size=96, moe_intermediate_size=32,
                              n_routed_experts=4, num_experts_per_tok=2, first_k_dense_replace=1,
                              kv_lora_rank=32, q_lora_rank=None, qk_rope_head_dim=8, qk_nope_head_dim=16,
                              v_head_dim=16), "causal_lm", "eager"),
    ("glm4_moe-tiny", dict(TINY, model_type="glm4_moe", intermediate_size=96, moe_intermediate_size=32,
                           n_routed_experts=4, num_experts_per_tok=2, first_k_dense_replace=1,
                           use_qk_norm=True, attention_bias=True), "causal_lm", "sdpa"),
    ("gpt_oss-tiny", dict(TINY, model_type="gpt_oss", intermediate_size=48, head_dim=16, num_local_experts=4,
                          num_experts_per_tok=2, sliding_window=8), "causal_lm", "eager"),
    ("llama4_text-tiny", dict(TINY, model_type="llama4_text", intermediate_size=48, intermediate_size_mlp=96,
                              head_dim=16, num_local_experts=4, num_experts_per_tok=1, num_hidden_layers=4),
     "causal_lm", "sdpa"),
    ("llama4_text-interleave-base", dict(TINY, model_type="llama4_text", intermediate_size=48,
                                         intermediate_size_mlp=80, head_dim=16, num_local_experts=3,
                                         num_experts_per_tok=1, interleave_moe_layer_step=2,
                                         use_qk_norm=False), "base", "sdpa"),
]


def build_run(config, head, attn, experts=None):
    kw = dict(config)
    cfg = AutoConfig.for_model(kw.pop("model_type"), **kw)
    cfg._attn_implementation = attn
    if experts:
        cfg._experts_implementation = experts
    model = (AutoModel if head == "base" else AutoModelForCausalLM).from_config(cfg)
    return model, cfg


def loss_of(model, cfg, head):
    ids = torch.randint(0, cfg.vocab_size, (BATCH, SEQ))
    if head == "base":
        return model(input_ids=ids).last_hidden_state.float().pow(2).mean()
    return model(input_ids=ids, labels=ids).loss


def flops(model, cfg, head):
    model.train()
    fc = FlopCounterMode(display=False)
    with fc:
        loss_of(model, cfg, head)
    fwd = fc.get_total_flops()
    fc = FlopCounterMode(display=False)
    with fc:
        loss_of(model, cfg, head).backward()
    return fwd, fc.get_total_flops()


def flop_rows():
    rows = []
    for name, config, head, attn in FLOP_CASES:
        torch.manual_seed(0)
        model, cfg = build_run(config, head, attn)
        row = dict(name=name, config=config, head=head, attn=attn, batch=BATCH, seq=SEQ)
        row["counter_grouped_mm_fwd"], row["counter_grouped_mm_fwd_bwd"] = flops(model, cfg, head)
        torch.manual_seed(0)
        model, cfg = build_run(config, head, attn, experts="eager")
        row["params"] = count(model)
        row["buffers"] = buffers(model)
        row["flops_fwd"], row["flops_fwd_bwd"] = flops(model, cfg, head)
        rows.append(row)
        print(name, row["params"], row["flops_fwd"], row["flops_fwd_bwd"], flush=True)
    return rows


CACHE_CASES = [
    # (name, config, prompt length, new tokens): the cache `generate` returns, per layer
    ("deepseek_v3-mla", dict(TINY, model_type="deepseek_v3", intermediate_size=96, moe_intermediate_size=32,
                             n_routed_experts=4, num_experts_per_tok=2, n_group=2, topk_group=1,
                             first_k_dense_replace=1, kv_lora_rank=32, q_lora_rank=24, qk_rope_head_dim=8,
                             qk_nope_head_dim=16, v_head_dim=16), 12, 7),
    ("gpt_oss-sliding-sinks", dict(TINY, model_type="gpt_oss", intermediate_size=48, head_dim=16,
                                   num_key_value_heads=2, num_local_experts=4, num_experts_per_tok=2,
                                   sliding_window=8), 12, 7),
    ("gpt_oss-window-longer", dict(TINY, model_type="gpt_oss", intermediate_size=48, head_dim=16,
                                   num_key_value_heads=2, num_local_experts=4, num_experts_per_tok=2,
                                   sliding_window=32), 12, 7),
    ("llama4_text-chunked", dict(TINY, model_type="llama4_text", intermediate_size=48, intermediate_size_mlp=96,
                                 head_dim=16, num_key_value_heads=2, num_local_experts=4, num_experts_per_tok=1,
                                 num_hidden_layers=4, attention_chunk_size=8), 12, 7),
    ("qwen3_moe-full", dict(TINY, model_type="qwen3_moe", intermediate_size=96, moe_intermediate_size=32,
                            num_key_value_heads=2, num_experts=4, num_experts_per_tok=2), 12, 7),
    ("qwen3_moe-sliding", dict(TINY, model_type="qwen3_moe", intermediate_size=96, moe_intermediate_size=32,
                               num_key_value_heads=2, num_experts=4, num_experts_per_tok=2,
                               use_sliding_window=True, sliding_window=6), 12, 7),
]


def cache_rows():
    rows = []
    for name, config, prompt, new in CACHE_CASES:
        torch.manual_seed(0)
        kw = dict(config)
        cfg = AutoConfig.for_model(kw.pop("model_type"), **kw)
        model = AutoModelForCausalLM.from_config(cfg).eval()
        ids = torch.randint(1, cfg.vocab_size, (BATCH, prompt))
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new, min_new_tokens=new,
                             do_sample=False, return_dict_in_generate=True, pad_token_id=0)
        layers = []
        for layer in out.past_key_values.layers:
            tensors = [layer.keys, layer.values]
            layers.append(dict(kind=type(layer).__name__, shapes=[list(t.shape) for t in tensors],
                               tensor_bytes=sum(t.numel() * t.element_size() for t in tensors),
                               storage_bytes=sum(t.untyped_storage().nbytes() for t in tensors)))
        row = dict(name=name, config=config, batch=BATCH, prompt=prompt, new_tokens=new,
                   generated=out.sequences.shape[1] - prompt, layers=layers,
                   tensor_bytes=sum(l["tensor_bytes"] for l in layers),
                   storage_bytes=sum(l["storage_bytes"] for l in layers))
        rows.append(row)
        print(name, row["generated"], row["tensor_bytes"], row["storage_bytes"], flush=True)
    return rows


def main():
    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    write_records(pathlib.Path(__file__).with_name("hf_moe.json"), rows=counts(), flops=flop_rows(), caches=cache_rows())


if __name__ == "__main__":
    main()
