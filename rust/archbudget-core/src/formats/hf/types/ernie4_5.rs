//! ernie4_5 (`modular_ernie4_5.py`): llama with one `use_bias` flag for every attention
//! and MLP projection, a `head_dim` of 128 and tied embeddings by default (its
//! interleaved rotary halves change no weight).
use super::super::spec::*;
use super::LLAMA;

pub const ERNIE4_5: TypeSpec = TypeSpec {
    model_type: "ernie4_5",
    base_class: "Ernie4_5Model",
    lm_class: "Ernie4_5ForCausalLM",
    defaults: Defaults {
        vocab: 103_424,
        hidden: 1024,
        intermediate: 3072,
        layers: 18,
        heads: 16,
        kv_heads: Some(2),
        head_dim: Some(128),
        max_positions: 131_072,
        tie: true,
        ..LLAMA.defaults
    },
    attention: AttentionSpec {
        class: "Ernie4_5Attention",
        qkv_bias: Flag::Key("use_bias", false),
        o_bias: Flag::Key("use_bias", false),
        ..LLAMA.attention
    },
    mlp: MlpSpec {
        class: "Ernie4_5MLP",
        bias: Flag::Key("use_bias", false),
        ..LLAMA.mlp
    },
    norms: NormSpec {
        class: "Ernie4_5RMSNorm",
        ..LLAMA.norms
    },
    ..LLAMA
};
