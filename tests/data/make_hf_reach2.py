"""Generate tests/data/hf_reach2.json: the types added in the second reach pass as
transformers 5.24 builds them: the Qwen3-VL text decoders qwen3_vl_text (dense) and
qwen3_vl_moe_text (sparse), which transformers builds only as bare models; the llama
differences helium, hunyuan_v1_dense and ministral; the sparse decoders granitemoeshared,
phimoe, dots1, glm4_moe_lite (latent attention) and flex_olmo.

- `rows`: each type's default config and tiny configs turning every option its config
  class has (biases, tied embeddings, head_dim overrides, sliding layers and
  layer_types, dense and sparse layers); totals and classes of the bare model, and of the
  causal LM where the type has one, on the meta device, the active parameters per token
  (hf_fixture.active), and `modules` {path: [class, params]} for small models.
- `flops`: tiny configs' forward and forward+backward FLOPs under torch.utils.flop_counter
  with make_hf_reach.py's protocol (train mode, fp32, eager attention and experts).

    /work/scratch/hf/bin/python tests/data/make_hf_reach2.py   # needs torch, transformers
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
from hf_fixture import active, build, count, module_counts, write_records  # noqa: E402
from make_hf_reach import TINY  # noqa: E402
import make_hf_reach  # noqa: E402

MOE_TINY = dict(TINY, moe_intermediate_size=32, num_experts=4, num_experts_per_tok=2)

CASES = [
    ("qwen3_vl_text-default", "qwen3_vl_text", {}),
    ("qwen3-vl-4b-text", "qwen3_vl_text", dict(vocab_size=151936, hidden_size=2560, intermediate_size=9728,
                                               num_hidden_layers=36, num_attention_heads=32, num_key_value_heads=8,
                                               head_dim=128, max_position_embeddings=262144)),
    ("qwen3_vl_text-tiny-bias", "qwen3_vl_text", dict(TINY, head_dim=16, attention_bias=True)),
    ("qwen3_vl_text-tiny-kv-null", "qwen3_vl_text", dict(TINY, head_dim=8, num_key_value_heads=None)),
    ("qwen3_vl_moe_text-default", "qwen3_vl_moe_text", {}),
    ("qwen3_vl_moe_text-tiny", "qwen3_vl_moe_text", dict(MOE_TINY)),
    ("qwen3_vl_moe_text-tiny-dense-layers-bias", "qwen3_vl_moe_text", dict(
        MOE_TINY, num_hidden_layers=4, decoder_sparse_step=2, mlp_only_layers=[3], attention_bias=True,
        head_dim=8)),
    ("qwen3_vl_moe_text-tiny-no-experts", "qwen3_vl_moe_text", dict(MOE_TINY, num_experts=0)),
    ("helium-default", "helium", {}),
    ("helium-tiny-bias-tied", "helium", dict(TINY, head_dim=16, attention_bias=True, mlp_bias=True,
                                             tie_word_embeddings=True)),
    ("helium-tiny-gqa", "helium", dict(TINY, head_dim=16, num_key_value_heads=1)),
    # the default config's head_dim of None fails in HunYuanDenseV1Attention: every
    # published config sets it
    ("hunyuan_v1_dense-default-head-dim", "hunyuan_v1_dense", dict(head_dim=128)),
    ("hunyuan_v1_dense-tiny-bias-tied", "hunyuan_v1_dense", dict(TINY, head_dim=16, attention_bias=True,
                                                                 tie_word_embeddings=True)),
    ("hunyuan_v1_dense-tiny-head-dim", "hunyuan_v1_dense", dict(TINY, head_dim=8)),
    # as hunyuan_v1_dense, the default head_dim of None fails in MinistralAttention
    ("ministral-8b", "ministral", dict(vocab_size=131072, intermediate_size=12288, num_hidden_layers=36,
                                       head_dim=128, max_position_embeddings=32768, sliding_window=32768)),
    ("ministral-tiny-full", "ministral", dict(TINY, head_dim=16, sliding_window=None, tie_word_embeddings=True)),
    ("ministral-tiny-layer-types", "ministral", dict(TINY, num_hidden_layers=3, head_dim=8, sliding_window=4,
                                                     layer_types=["sliding_attention", "full_attention",
                                                                  "sliding_attention"])),
    ("granitemoeshared-default", "granitemoeshared", {}),
    ("granitemoeshared-tiny-shared", "granitemoeshared", dict(TINY, num_local_experts=4, num_experts_per_tok=2,
                                                              shared_intermediate_size=48)),
    ("granitemoeshared-tiny-shared-bias-tied", "granitemoeshared", dict(
        TINY, num_local_experts=6, num_experts_per_tok=1, shared_intermediate_size=40, attention_bias=True,
        tie_word_embeddings=True, embedding_multiplier=12.0, logits_scaling=8.0)),
    ("phimoe-default", "phimoe", {}),
    ("phimoe-tiny", "phimoe", dict(TINY, num_local_experts=4, num_experts_per_tok=2)),
    ("phimoe-tiny-bias-tied", "phimoe", dict(TINY, num_local_experts=4, num_experts_per_tok=2, attention_bias=True,
                                             lm_head_bias=True, tie_word_embeddings=True, sliding_window=8)),
    ("phimoe-tiny-lm-bias", "phimoe", dict(TINY, num_local_experts=3, num_experts_per_tok=1, lm_head_bias=True)),
    # dots1's default config leaves the expert counts and top-k null, which builds no model
    ("dots.llm1", "dots1", dict(hidden_size=4096, num_hidden_layers=62, num_attention_heads=32, n_shared_experts=2,
                                n_routed_experts=128, num_experts_per_tok=6, first_k_dense_replace=1,
                                norm_topk_prob=True, routed_scaling_factor=2.5, max_position_embeddings=32768)),
    ("dots1-tiny-dense-first-bias", "dots1", dict(MOE_TINY, num_hidden_layers=3, n_shared_experts=1,
                                                  n_routed_experts=4, first_k_dense_replace=1, attention_bias=True,
                                                  head_dim=8)),
    ("dots1-tiny-sliding-tied", "dots1", dict(MOE_TINY, num_hidden_layers=3, n_shared_experts=2, n_routed_experts=6,
                                              num_experts_per_tok=3, sliding_window=8, max_window_layers=1,
                                              tie_word_embeddings=True, n_group=2, topk_group=1)),
    ("glm4_moe_lite-default", "glm4_moe_lite", {}),
    ("glm4_moe_lite-tiny", "glm4_moe_lite", dict(TINY, num_hidden_layers=3, moe_intermediate_size=32, n_routed_experts=4,
                                                 num_experts_per_tok=2, kv_lora_rank=16, q_lora_rank=24,
                                                 qk_rope_head_dim=8, qk_nope_head_dim=16, v_head_dim=12)),
    ("glm4_moe_lite-tiny-no-q-lora-layer-types-bias", "glm4_moe_lite", dict(
        TINY, num_hidden_layers=3, moe_intermediate_size=32, n_routed_experts=4, num_experts_per_tok=2,
        n_shared_experts=2, kv_lora_rank=16, q_lora_rank=None, qk_rope_head_dim=8, qk_nope_head_dim=8,
        v_head_dim=16, attention_bias=True, tie_word_embeddings=True,
        mlp_layer_types=["sparse", "dense", "sparse"])),
    ("flex_olmo-default", "flex_olmo", {}),
    ("flex_olmo-tiny", "flex_olmo", dict(TINY, num_experts=4, num_experts_per_tok=2)),
    ("flex_olmo-tiny-bias-tied-norm", "flex_olmo", dict(TINY, num_experts=3, num_experts_per_tok=1,
                                                        attention_bias=True, tie_word_embeddings=True,
                                                        norm_topk_prob=True, num_key_value_heads=1)),
]

FLOPS = [
    ("qwen3_vl_text-flops-base", dict(model_type="qwen3_vl_text", **TINY, head_dim=16), "base"),
    ("qwen3_vl_moe_text-flops-base", dict(model_type="qwen3_vl_moe_text", **MOE_TINY), "base"),
    ("helium-flops", dict(model_type="helium", **TINY, head_dim=16), "causal_lm"),
    ("hunyuan_v1_dense-flops", dict(model_type="hunyuan_v1_dense", **TINY, head_dim=16), "causal_lm"),
    ("ministral-flops", dict(model_type="ministral", **TINY, head_dim=16, sliding_window=8), "causal_lm"),
    ("granitemoeshared-flops", dict(model_type="granitemoeshared", **TINY, num_local_experts=4,
                                    num_experts_per_tok=2, shared_intermediate_size=48), "causal_lm"),
    ("phimoe-flops", dict(model_type="phimoe", **TINY, num_local_experts=4, num_experts_per_tok=2,
                          lm_head_bias=True), "causal_lm"),
    ("dots1-flops", dict(model_type="dots1", **MOE_TINY, n_shared_experts=1, n_routed_experts=4,
                         first_k_dense_replace=1), "causal_lm"),
    # latent attention repeats k and v by heads / num_key_value_heads: one per head
    ("glm4_moe_lite-flops", dict(TINY, model_type="glm4_moe_lite", num_key_value_heads=4, moe_intermediate_size=32,
                                 n_routed_experts=4,
                                 num_experts_per_tok=2, kv_lora_rank=16, q_lora_rank=24, qk_rope_head_dim=8,
                                 qk_nope_head_dim=16, v_head_dim=12), "causal_lm"),
    ("flex_olmo-flops", dict(model_type="flex_olmo", **TINY, num_experts=4, num_experts_per_tok=2), "causal_lm"),
]


def has_causal_lm(cfg):
    return type(cfg) in AutoModelForCausalLM._model_mapping


def count_rows():
    """Totals, classes and active parameters of the bare model (and the causal LM where
    the type has one), and per-module counts of the small ones."""
    rows = []
    for name, model_type, kwargs in CASES:
        cfg = AutoConfig.for_model(model_type, **kwargs)
        row = dict(name=name, model_type=model_type, config=dict(model_type=model_type, **kwargs))
        base = build(AutoModel, cfg)
        row.update(base_params=count(base), base_class=type(base).__name__, base_active=active(base, cfg))
        small = sum(1 for _ in base.modules()) < 200
        modules = {"base": module_counts(base)}
        if has_causal_lm(cfg):
            lm = build(AutoModelForCausalLM, cfg)
            row.update(causal_lm_params=count(lm), causal_lm_class=type(lm).__name__,
                       causal_lm_active=active(lm, cfg))
            modules["lm"] = module_counts(lm)
        if small:
            row["modules"] = modules
        rows.append(row)
        print(name, row["base_params"], row.get("causal_lm_params"), flush=True)
    return rows


def main():
    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    make_hf_reach.FLOPS[:] = FLOPS
    write_records(pathlib.Path(__file__).with_name("hf_reach2.json"), rows=count_rows(),
                  flops=make_hf_reach.flop_rows())


if __name__ == "__main__":
    main()
