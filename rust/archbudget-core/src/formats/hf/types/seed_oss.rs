//! seed_oss (`modular_seed_oss.py`): llama with biased q/k/v by default, its own flag for
//! the output projection's bias (`attention_out_bias`), and dropout on each branch's
//! output (`residual_dropout`, 0.1 by default, as is `attention_dropout`).
use super::super::spec::*;
use super::LLAMA;

pub const SEED_OSS: TypeSpec = TypeSpec {
    model_type: "seed_oss",
    base_class: "SeedOssModel",
    lm_class: "SeedOssForCausalLM",
    defaults: Defaults {
        vocab: 155_136,
        intermediate: 27_648,
        layers: 64,
        heads: 80,
        kv_heads: Some(8),
        head_dim: Some(128),
        max_positions: 524_288,
        ..LLAMA.defaults
    },
    attention: AttentionSpec {
        class: "SeedOssAttention",
        qkv_bias: Flag::Key("attention_bias", true),
        o_bias: Flag::Key("attention_out_bias", false),
        ..LLAMA.attention
    },
    mlp: MlpSpec {
        class: "SeedOssMLP",
        ..LLAMA.mlp
    },
    norms: NormSpec {
        class: "SeedOssRMSNorm",
        ..LLAMA.norms
    },
    dropout: DropoutKeys {
        embed: None,
        attn: Some(("attention_dropout", 0.1)),
        resid: Some(("residual_dropout", 0.1)),
    },
    ..LLAMA
};
