"""Generate tests/data/hf_next.json: qwen3_next (Gated DeltaNet linear attention beside
gated full attention, qwen2_moe's sparse block) as the real transformers builds and runs it.

counts: each case built on the meta device with AutoModel and AutoModelForCausalLM; recorded
are both totals, the active parameters per token (routed-experts modules count top_k / E
of their parameters, as make_hf_moe.py), and for small models `modules` ({path: [class,
params]}).

flops: tiny configs measured with torch.utils.flop_counter on CPU under make_hf_flops.py's
protocol (train mode, fp32, `model(ids, labels=ids).loss` or
`last_hidden_state.float().pow(2).mean()`; experts with `experts_implementation="eager"`,
the grouped_mm count kept as `counter_grouped_mm_*`). Without the fla kernels transformers
runs `torch_chunk_gated_delta_rule` (64-position chunks): sequences of 16 (one chunk) and
150 (three, the last padded) are measured.

cache: tiny configs run `generate` (greedy, N new tokens) on CPU; recorded are the bytes of
every tensor the returned cache holds: k and v of the full-attention layers, the conv and
recurrent states of the linear-attention layers (`storage_bytes`), per layer.

    /work/scratch/hf/bin/python tests/data/make_hf_next.py
"""
import pathlib
import warnings

import torch
import transformers
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM

from hf_fixture import active, build, count, forward_and_backward_flops, head_loss, module_counts, write_records

TINY = dict(vocab_size=1000, hidden_size=128, intermediate_size=256, moe_intermediate_size=64,
            shared_expert_intermediate_size=96, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
            head_dim=32, num_experts=8, num_experts_per_tok=2, linear_num_key_heads=2, linear_num_value_heads=4,
            linear_key_head_dim=32, linear_value_head_dim=24)

CASES = [
    ("qwen3_next-default", {}),
    # the keys of Qwen3-Next-80B-A3B's published config (its sizes are also the type's defaults)
    ("qwen3-next-80b-a3b", dict(vocab_size=151936, hidden_size=2048, intermediate_size=5120, num_hidden_layers=48,
                                num_attention_heads=16, num_key_value_heads=2, head_dim=256,
                                linear_num_key_heads=16, linear_num_value_heads=32, linear_key_head_dim=128,
                                linear_value_head_dim=128, linear_conv_kernel_dim=4, num_experts=512,
                                num_experts_per_tok=10, moe_intermediate_size=512,
                                shared_expert_intermediate_size=512, full_attention_interval=4,
                                max_position_embeddings=262144, partial_rotary_factor=0.25, norm_topk_prob=True,
                                decoder_sparse_step=1, mlp_only_layers=[], tie_word_embeddings=False)),
    ("qwen3_next-tiny", TINY),
    ("qwen3_next-tiny-layer-types", dict(TINY, num_hidden_layers=5, layer_types=[
        "full_attention", "linear_attention", "linear_attention", "full_attention", "linear_attention"],
        mlp_only_layers=[1], decoder_sparse_step=1, attention_bias=True, tie_word_embeddings=True)),
    ("qwen3_next-tiny-dense-interval2", dict(TINY, num_experts=0, full_attention_interval=2,
                                             linear_conv_kernel_dim=3)),
    ("qwen3_next-tiny-all-full", dict(TINY, num_hidden_layers=3, layer_types=["full_attention"] * 3,
                                      decoder_sparse_step=2)),
    ("qwen3_next-tiny-all-linear-equal-heads", dict(TINY, num_hidden_layers=2, full_attention_interval=8,
                                                    linear_num_key_heads=4, linear_num_value_heads=4,
                                                    linear_key_head_dim=16, linear_value_head_dim=16)),
]


def counts():
    rows = []
    for name, kwargs in CASES:
        cfg = AutoConfig.for_model("qwen3_next", **kwargs)
        row = dict(name=name, model_type="qwen3_next", config=dict(model_type="qwen3_next", **kwargs))
        base = build(AutoModel, cfg)
        lm = build(AutoModelForCausalLM, cfg)
        row.update(base_params=count(base), base_class=type(base).__name__, base_active=active(base, cfg),
                   causal_lm_params=count(lm), causal_lm_class=type(lm).__name__, causal_lm_active=active(lm, cfg))
        if sum(1 for _ in base.modules()) < 200:
            row["modules"] = {"base": module_counts(base), "lm": module_counts(lm)}
        rows.append(row)
        print(name, row["base_params"], row["causal_lm_params"], row["causal_lm_active"], flush=True)
    return rows


BATCH = 2
FLOP_TINY = dict(vocab_size=128, hidden_size=64, intermediate_size=96, moe_intermediate_size=32,
                 shared_expert_intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=4, head_dim=16, num_experts=4, num_experts_per_tok=2, linear_num_key_heads=2,
                 linear_num_value_heads=4, linear_key_head_dim=16, linear_value_head_dim=16,
                 layer_types=["linear_attention", "full_attention"])
FLOP_CASES = [
    # (name, config, head, attention, seq): kv heads equal query heads, as in make_hf_flops.py
    ("qwen3_next-tiny", dict(FLOP_TINY, model_type="qwen3_next"), "causal_lm", "sdpa", 16),
    ("qwen3_next-tiny-eager", dict(FLOP_TINY, model_type="qwen3_next"), "causal_lm", "eager", 16),
    ("qwen3_next-three-chunks", dict(FLOP_TINY, model_type="qwen3_next"), "causal_lm", "sdpa", 150),
    ("qwen3_next-dense-base", dict(FLOP_TINY, model_type="qwen3_next", num_experts=0, num_hidden_layers=4,
                                   layer_types=None, linear_num_key_heads=4, linear_key_head_dim=8,
                                   linear_conv_kernel_dim=3), "base", "sdpa", 70),
]


def flops(model, cfg, head, seq):
    model.train()

    def loss():
        torch.manual_seed(1)  # the same ids (and dropout masks) with and without backward
        return head_loss(model, head, torch.randint(0, cfg.vocab_size, (BATCH, seq)))

    return forward_and_backward_flops(loss)


def build_run(config, head, attn, experts=None):
    kw = {k: v for k, v in config.items() if v is not None}
    cfg = AutoConfig.for_model(kw.pop("model_type"), **kw)
    cfg._attn_implementation = attn
    if experts:
        cfg._experts_implementation = experts
    return (AutoModel if head == "base" else AutoModelForCausalLM).from_config(cfg), cfg


def flop_rows():
    rows = []
    for name, config, head, attn, seq in FLOP_CASES:
        config = {k: v for k, v in config.items() if v is not None}
        torch.manual_seed(0)
        model, cfg = build_run(config, head, attn)
        row = dict(name=name, config=config, head=head, attn=attn, batch=BATCH, seq=seq)
        if cfg.num_experts:
            row["counter_grouped_mm_fwd"], row["counter_grouped_mm_fwd_bwd"] = flops(model, cfg, head, seq)
            torch.manual_seed(0)
            model, cfg = build_run(config, head, attn, experts="eager")
        row["params"] = count(model)
        row["flops_fwd"], row["flops_fwd_bwd"] = flops(model, cfg, head, seq)
        rows.append(row)
        print(name, row["params"], row["flops_fwd"], row["flops_fwd_bwd"], flush=True)
    return rows


CACHE_CASES = [
    # (name, config, prompt length, new tokens)
    ("qwen3_next-linear-and-full", dict(TINY, model_type="qwen3_next", vocab_size=128), 12, 7),
    ("qwen3_next-prompt-shorter-than-kernel", dict(TINY, model_type="qwen3_next", vocab_size=128,
                                                   linear_conv_kernel_dim=5), 3, 4),
    ("qwen3_next-long-prompt", dict(TINY, model_type="qwen3_next", vocab_size=128, num_hidden_layers=3,
                                    full_attention_interval=3), 70, 5),
]


def cache_tensors(layer):
    tensors = [getattr(layer, k, None) for k in ("keys", "values")]
    for states in ("conv_states", "recurrent_states"):
        tensors += list(getattr(layer, states, {}).values())
    return [t for t in tensors if isinstance(t, torch.Tensor)]


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
            tensors = cache_tensors(layer)
            layers.append(dict(kind=type(layer).__name__, shapes=[list(t.shape) for t in tensors],
                               dtypes=[str(t.dtype) for t in tensors],
                               storage_bytes=sum(t.untyped_storage().nbytes() for t in tensors)))
        row = dict(name=name, config=config, batch=BATCH, prompt=prompt, new_tokens=new,
                   generated=out.sequences.shape[1] - prompt, layers=layers,
                   storage_bytes=sum(l["storage_bytes"] for l in layers))
        rows.append(row)
        print(name, row["generated"], row["storage_bytes"], flush=True)
    return rows


def main():
    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    write_records(pathlib.Path(__file__).with_name("hf_next.json"), rows=counts(), flops=flop_rows(), caches=cache_rows())


if __name__ == "__main__":
    main()
