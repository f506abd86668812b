"""Generate tests/data/hf_reach.json: the decoder types added for reach as transformers 5.24
builds them: the llama differences ernie4_5, seed_oss, granite, ministral3, arcee,
vaultgemma and exaone4, and the Qwen3.5 text decoders qwen3_5_text and qwen3_5_moe_text
(qwen3_next's hybrid linear attention, dense or sparse MLPs); the sparse decoders olmoe
and granitemoe; roberta's copies under other names, xlm-roberta, camembert and
data2vec-text.

- `rows`: each type's default config, the sizes of a published checkpoint, and tiny
  configs turning every option the config class has (biases, tied embeddings, head_dim
  overrides, sliding windows and layer_types); both heads' totals and classes on the
  meta device, the active parameters per token (hf_fixture.active), and `modules`
  {path: [class, params]} for small models.
- `flops`: tiny configs' forward and forward+backward FLOPs under
  torch.utils.flop_counter on CPU with make_hf_types.py's protocol (train mode, fp32,
  eager attention and experts, `model(ids, labels=ids).loss` or the base model's
  `last_hidden_state.float().pow(2).mean()`); the qwen3_5 types with make_hf_next.py's
  protocol (its `build_run` and `flops`: experts run eagerly, one 64-position chunk of
  the torch delta rule).

    /work/scratch/hf/bin/python tests/data/make_hf_reach.py   # needs torch, transformers
"""
import pathlib
import sys
import warnings

try:
    import torch
    import transformers
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM
except ImportError:
    print("torch and transformers are needed; nothing written")
    sys.exit(0)

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from hf_fixture import active, build, config_of, count, forward_and_backward_flops, head_loss, module_counts, write_records  # noqa: E402
from make_hf_next import build_run, flops as hybrid_flops  # noqa: E402

TINY = dict(vocab_size=300, pad_token_id=0, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2)
QWEN3_5_TINY = dict(vocab_size=1000, hidden_size=128, intermediate_size=256, num_hidden_layers=4,
                    num_attention_heads=4, num_key_value_heads=2, head_dim=32, linear_num_key_heads=2,
                    linear_num_value_heads=4, linear_key_head_dim=32, linear_value_head_dim=24)
QWEN3_5_MOE_TINY = dict({k: v for k, v in QWEN3_5_TINY.items() if k != "intermediate_size"},
                        moe_intermediate_size=64, shared_expert_intermediate_size=96, num_experts=8,
                        num_experts_per_tok=2)
ENCODER_TINY = dict(vocab_size=300, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                    num_attention_heads=4, max_position_embeddings=40)

CASES = [
    ("ernie4_5-default", "ernie4_5", {}),
    ("ernie-4.5-0.3b", "ernie4_5", dict(vocab_size=103424, hidden_size=1024, intermediate_size=3072,
                                        num_hidden_layers=18, num_attention_heads=16, num_key_value_heads=2,
                                        head_dim=128, max_position_embeddings=131072, tie_word_embeddings=True)),
    ("ernie4_5-tiny-bias-untied", "ernie4_5", dict(TINY, use_bias=True, tie_word_embeddings=False)),
    ("ernie4_5-tiny-head-dim", "ernie4_5", dict(TINY, head_dim=None)),
    ("seed_oss-default", "seed_oss", {}),
    ("seed_oss-tiny", "seed_oss", dict(TINY)),
    ("seed_oss-tiny-out-mlp-bias", "seed_oss", dict(TINY, attention_bias=False, attention_out_bias=True,
                                                    mlp_bias=True, tie_word_embeddings=True, head_dim=8)),
    ("granite-default", "granite", {}),
    ("granite-3.3-2b", "granite", dict(vocab_size=49159, hidden_size=2048, intermediate_size=8192,
                                       num_hidden_layers=40, num_attention_heads=32, num_key_value_heads=8,
                                       max_position_embeddings=131072, tie_word_embeddings=True,
                                       embedding_multiplier=12.0, logits_scaling=8.0, residual_multiplier=0.22,
                                       attention_multiplier=0.015625)),
    ("granite-tiny-bias", "granite", dict(TINY, attention_bias=True, mlp_bias=True)),
    ("granite-tiny-head-dim-tied", "granite", dict(TINY, head_dim=8, tie_word_embeddings=True)),
    ("ministral3-default", "ministral3", {}),
    ("ministral3-tiny-sliding", "ministral3", dict(TINY, sliding_window=8)),
    ("ministral3-tiny-head-dim-tied", "ministral3", dict(TINY, head_dim=8, tie_word_embeddings=True)),
    ("arcee-default", "arcee", {}),
    ("arcee-tiny-bias", "arcee", dict(TINY, attention_bias=True, mlp_bias=True)),
    ("arcee-tiny-head-dim-tied", "arcee", dict(TINY, head_dim=8, tie_word_embeddings=True)),
    ("vaultgemma-default", "vaultgemma", {}),
    ("vaultgemma-tiny-bias-untied", "vaultgemma", dict(TINY, head_dim=16, attention_bias=True,
                                                       tie_word_embeddings=False, sliding_window=8)),
    ("vaultgemma-tiny-layer-types", "vaultgemma", dict(TINY, num_hidden_layers=3, head_dim=8, sliding_window=4,
                                                       layer_types=["full_attention", "full_attention",
                                                                    "sliding_attention"])),
    ("exaone4-default", "exaone4", {}),
    ("exaone-4.0-1.2b", "exaone4", dict(vocab_size=102400, hidden_size=2048, intermediate_size=4096,
                                        num_hidden_layers=30, num_attention_heads=32, num_key_value_heads=8,
                                        head_dim=64, max_position_embeddings=65536, tie_word_embeddings=True,
                                        sliding_window=None, layer_types=["full_attention"] * 30)),
    ("exaone4-tiny-pattern", "exaone4", dict(TINY, num_hidden_layers=4, sliding_window=8, sliding_window_pattern=2)),
    ("exaone4-tiny-head-dim-tied", "exaone4", dict(TINY, head_dim=8, tie_word_embeddings=True)),
    ("qwen3_5_text-default", "qwen3_5_text", {}),
    ("qwen3_5_text-tiny", "qwen3_5_text", dict(QWEN3_5_TINY)),
    ("qwen3_5_text-tiny-layer-types-bias-tied", "qwen3_5_text", dict(
        QWEN3_5_TINY, num_hidden_layers=3, layer_types=["full_attention", "linear_attention", "full_attention"],
        attention_bias=True, tie_word_embeddings=True)),
    ("qwen3_5_text-tiny-interval-kernel", "qwen3_5_text", dict(
        QWEN3_5_TINY, num_hidden_layers=4, full_attention_interval=2, linear_conv_kernel_dim=3,
        partial_rotary_factor=0.5, head_dim=16, linear_num_key_heads=4, linear_num_value_heads=4)),
    ("qwen3_5_moe_text-default", "qwen3_5_moe_text", {}),
    ("qwen3_5_moe_text-tiny", "qwen3_5_moe_text", dict(QWEN3_5_MOE_TINY)),
    ("qwen3_5_moe_text-tiny-layer-types-tied", "qwen3_5_moe_text", dict(
        QWEN3_5_MOE_TINY, num_hidden_layers=2, layer_types=["linear_attention", "full_attention"],
        tie_word_embeddings=True, attention_bias=True, num_experts=6, num_experts_per_tok=3,
        shared_expert_intermediate_size=40)),
    ("glm-default", "glm", {}),
    ("glm-tiny-unbiased-tied", "glm", dict(TINY, attention_bias=False, tie_word_embeddings=True)),
    ("glm-tiny-head-dim-rotary", "glm", dict(TINY, head_dim=8, partial_rotary_factor=1.0)),
    ("glm4-default", "glm4", {}),
    ("glm-4-32b-0414", "glm4", dict(vocab_size=151552, hidden_size=6144, intermediate_size=23040,
                                    num_hidden_layers=61, num_attention_heads=48, num_key_value_heads=2,
                                    head_dim=128, max_position_embeddings=32768, partial_rotary_factor=0.5)),
    ("glm4-tiny-unbiased-tied", "glm4", dict(TINY, attention_bias=False, tie_word_embeddings=True)),
    ("glm4-tiny-head-dim", "glm4", dict(TINY, head_dim=8)),
    ("olmoe-default", "olmoe", {}),
    ("olmoe-tiny-gqa-bias", "olmoe", dict(TINY, num_experts=4, num_experts_per_tok=2, attention_bias=True,
                                          norm_topk_prob=True)),
    ("olmoe-tiny-tied", "olmoe", dict(TINY, num_key_value_heads=4, num_experts=6, num_experts_per_tok=1,
                                      tie_word_embeddings=True)),
    ("granitemoe-default", "granitemoe", {}),
    ("granite-3.0-1b-a400m", "granitemoe", dict(vocab_size=49155, hidden_size=1024, intermediate_size=512,
                                                num_hidden_layers=24, num_attention_heads=16, num_key_value_heads=8,
                                                num_local_experts=32, num_experts_per_tok=8,
                                                max_position_embeddings=4096, tie_word_embeddings=True,
                                                embedding_multiplier=12.0, logits_scaling=6.0,
                                                residual_multiplier=0.22, attention_multiplier=0.015625)),
    ("granitemoe-tiny-bias", "granitemoe", dict(TINY, num_local_experts=4, num_experts_per_tok=2,
                                                attention_bias=True)),
    ("xlm-roberta-default", "xlm-roberta", {}),
    ("xlm-roberta-base", "xlm-roberta", dict(vocab_size=250002, max_position_embeddings=514, type_vocab_size=1)),
    ("xlm-roberta-large", "xlm-roberta", dict(vocab_size=250002, hidden_size=1024, intermediate_size=4096,
                                              num_hidden_layers=24, num_attention_heads=16,
                                              max_position_embeddings=514, type_vocab_size=1)),
    ("xlm-roberta-tiny-untied", "xlm-roberta", dict(ENCODER_TINY, tie_word_embeddings=False)),
    ("camembert-default", "camembert", {}),
    ("camembert-base", "camembert", dict(vocab_size=32005, max_position_embeddings=514, type_vocab_size=1)),
    ("camembert-tiny-untied", "camembert", dict(ENCODER_TINY, tie_word_embeddings=False, type_vocab_size=1)),
    ("data2vec-text-default", "data2vec-text", {}),
    ("data2vec-text-base", "data2vec-text", dict(vocab_size=50265, max_position_embeddings=514, type_vocab_size=1)),
    ("data2vec-text-tiny-untied", "data2vec-text", dict(ENCODER_TINY, tie_word_embeddings=False)),
]

# (name, config, head): tiny configs for FLOPs.
FLOPS = [
    ("ernie4_5-flops", dict(model_type="ernie4_5", **TINY, use_bias=True), "causal_lm"),
    ("seed_oss-flops", dict(model_type="seed_oss", **TINY, head_dim=16), "causal_lm"),
    ("granite-flops-base", dict(model_type="granite", **TINY, embedding_multiplier=12.0, logits_scaling=8.0,
                                residual_multiplier=0.22), "base"),
    ("granite-flops", dict(model_type="granite", **TINY, logits_scaling=8.0), "causal_lm"),
    ("ministral3-flops", dict(model_type="ministral3", **TINY, head_dim=16, sliding_window=8), "causal_lm"),
    ("arcee-flops", dict(model_type="arcee", **TINY), "causal_lm"),
    ("vaultgemma-flops", dict(model_type="vaultgemma", **TINY, head_dim=16, sliding_window=8), "causal_lm"),
    ("exaone4-flops", dict(TINY, model_type="exaone4", num_hidden_layers=4, sliding_window=8), "causal_lm"),
    ("glm-flops", dict(model_type="glm", **TINY), "causal_lm"),
    ("glm4-flops", dict(model_type="glm4", **TINY, head_dim=8), "causal_lm"),
    ("olmoe-flops", dict(model_type="olmoe", **TINY, num_experts=4, num_experts_per_tok=2), "causal_lm"),
    ("granitemoe-flops", dict(model_type="granitemoe", **TINY, num_local_experts=4, num_experts_per_tok=2),
     "causal_lm"),
    ("xlm-roberta-flops-base", dict(ENCODER_TINY, model_type="xlm-roberta", hidden_dropout_prob=0.0,
                                    attention_probs_dropout_prob=0.0), "base"),
    ("data2vec-text-flops", dict(ENCODER_TINY, model_type="data2vec-text", hidden_dropout_prob=0.0,
                                 attention_probs_dropout_prob=0.0), "causal_lm"),
]
BATCH, SEQ = 2, 16

QWEN3_5_FLOP_TINY = dict(vocab_size=128, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=4, head_dim=16, linear_num_key_heads=2,
                         linear_num_value_heads=4, linear_key_head_dim=16, linear_value_head_dim=16,
                         layer_types=["linear_attention", "full_attention"])
# (name, config, head, attention, seq)
HYBRID_FLOPS = [
    ("qwen3_5_text-flops", dict(QWEN3_5_FLOP_TINY, model_type="qwen3_5_text"), "causal_lm", "sdpa", 16),
    ("qwen3_5_text-flops-eager-base", dict(QWEN3_5_FLOP_TINY, model_type="qwen3_5_text"), "base", "eager", 16),
    ("qwen3_5_moe_text-flops", dict(QWEN3_5_FLOP_TINY, model_type="qwen3_5_moe_text", moe_intermediate_size=32,
                                    shared_expert_intermediate_size=48, num_experts=4, num_experts_per_tok=2),
     "causal_lm", "sdpa", 16),
]


def flop_rows():
    torch.manual_seed(0)
    rows = []
    for name, config, head in FLOPS:
        cfg = config_of(config)
        cfg._attn_implementation = "eager"
        # the experts' products as the counter sees them (it misses grouped_mm's)
        cfg._experts_implementation = "eager"
        model = (AutoModel if head == "base" else AutoModelForCausalLM).from_config(cfg)
        model.train()
        ids = torch.randint(0, cfg.vocab_size, (BATCH, SEQ))
        counts = forward_and_backward_flops(lambda: head_loss(model, head, ids))
        rows.append(dict(name=name, config=config, head=head, attn="eager", batch=BATCH, seq=SEQ,
                         params=count(model), flops_fwd=counts[0], flops_fwd_bwd=counts[1]))
        print(name, rows[-1]["params"], counts, flush=True)
    return rows


def hybrid_flop_rows():
    rows = []
    for name, config, head, attn, seq in HYBRID_FLOPS:
        torch.manual_seed(0)
        model, cfg = build_run(config, head, attn, experts="eager")
        row = dict(name=name, config=config, head=head, attn=attn, batch=BATCH, seq=seq, params=count(model))
        row["flops_fwd"], row["flops_fwd_bwd"] = hybrid_flops(model, cfg, head, seq)
        rows.append(row)
        print(name, row["params"], row["flops_fwd"], row["flops_fwd_bwd"], flush=True)
    return rows


def count_rows():
    """Both heads' totals, classes and active parameters of each case, and per-module counts
    of the small ones."""
    rows = []
    for name, model_type, kwargs in CASES:
        cfg = AutoConfig.for_model(model_type, **kwargs)
        row = dict(name=name, model_type=model_type, config=dict(model_type=model_type, **kwargs))
        base, lm = build(AutoModel, cfg), build(AutoModelForCausalLM, cfg)
        row.update(base_params=count(base), base_class=type(base).__name__, base_active=active(base, cfg),
                   causal_lm_params=count(lm), causal_lm_class=type(lm).__name__, causal_lm_active=active(lm, cfg))
        if sum(1 for _ in base.modules()) < 200:
            row["modules"] = {"base": module_counts(base), "lm": module_counts(lm)}
        rows.append(row)
        print(name, row["base_params"], row["causal_lm_params"], row["causal_lm_active"], flush=True)
    return rows


def main():
    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    write_records(pathlib.Path(__file__).with_name("hf_reach.json"), rows=count_rows(),
                  flops=flop_rows() + hybrid_flop_rows())


if __name__ == "__main__":
    main()
