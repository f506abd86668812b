//! ministral3 (`modular_ministral3.py`): mistral's llama with a `head_dim` of 128 and
//! every layer sliding when `sliding_window` is set (null by default); its yarn and
//! llama-4 rotary scaling change no weight.
use super::super::spec::*;
use super::LLAMA;

pub const MINISTRAL3: TypeSpec = TypeSpec {
    model_type: "ministral3",
    base_class: "Ministral3Model",
    lm_class: "Ministral3ForCausalLM",
    defaults: Defaults {
        vocab: 131_072,
        intermediate: 14_336,
        layers: 34,
        kv_heads: Some(8),
        head_dim: Some(128),
        max_positions: 262_144,
        ..LLAMA.defaults
    },
    attention: AttentionSpec {
        class: "Ministral3Attention",
        qkv_bias: Flag::Fixed(false),
        o_bias: Flag::Fixed(false),
        windows: Windows::AllWhenSet,
        ..LLAMA.attention
    },
    mlp: MlpSpec {
        class: "Ministral3MLP",
        bias: Flag::Fixed(false),
        ..LLAMA.mlp
    },
    norms: NormSpec {
        class: "Ministral3RMSNorm",
        ..LLAMA.norms
    },
    ..LLAMA
};

/// ministral (`modular_ministral.py`): mistral's llama with `layer_types`, every layer
/// sliding when `sliding_window` is set (4096 by default); no biases.
pub const MINISTRAL: TypeSpec = TypeSpec {
    model_type: "ministral",
    base_class: "MinistralModel",
    lm_class: "MinistralForCausalLM",
    defaults: Defaults {
        vocab: 32_000,
        layers: 32,
        head_dim: None,
        max_positions: 131_072,
        sliding_window: Some(4096),
        ..MINISTRAL3.defaults
    },
    attention: AttentionSpec {
        class: "MinistralAttention",
        ..MINISTRAL3.attention
    },
    mlp: MlpSpec {
        class: "MinistralMLP",
        ..MINISTRAL3.mlp
    },
    norms: NormSpec {
        class: "MinistralRMSNorm",
        ..MINISTRAL3.norms
    },
    ..MINISTRAL3
};
