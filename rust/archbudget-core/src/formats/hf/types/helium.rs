//! helium (`modular_helium.py`): llama with a 128-wide `head_dim`, 20 heads over a 2560
//! width and RMSNorms of eps 1e-8; `attention_bias` on q/k/v only (o_proj has none).
//! Its o_proj is `hidden × hidden`, the q width only where heads × head_dim equals the
//! width, as in every published config.
use super::super::spec::*;
use super::LLAMA;

pub const HELIUM: TypeSpec = TypeSpec {
    model_type: "helium",
    base_class: "HeliumModel",
    lm_class: "HeliumForCausalLM",
    defaults: Defaults {
        vocab: 48_000,
        hidden: 2560,
        intermediate: 7040,
        layers: 24,
        heads: 20,
        kv_heads: Some(20),
        head_dim: Some(128),
        max_positions: 4096,
        ..LLAMA.defaults
    },
    attention: AttentionSpec {
        class: "HeliumAttention",
        o_bias: Flag::Fixed(false),
        ..LLAMA.attention
    },
    mlp: MlpSpec {
        class: "HeliumMLP",
        ..LLAMA.mlp
    },
    norms: NormSpec {
        class: "HeliumRMSNorm",
        ..LLAMA.norms
    },
    ..LLAMA
};
