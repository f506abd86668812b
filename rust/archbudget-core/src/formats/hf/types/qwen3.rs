//! qwen3 (`modular_qwen3.py`): llama with RMSNorms on each head's q and k, a fixed
//! `head_dim` of 128, and sliding windows from layer `max_window_layers` on when
//! `use_sliding_window`.
use super::super::spec::*;
use super::LLAMA;

pub const QWEN3: TypeSpec = TypeSpec {
    model_type: "qwen3",
    base_class: "Qwen3Model",
    lm_class: "Qwen3ForCausalLM",
    defaults: Defaults {
        vocab: 151936,
        intermediate: 22016,
        kv_heads: Some(32),
        head_dim: Some(128),
        max_positions: 32768,
        sliding_window: Some(4096),
        ..LLAMA.defaults
    },
    attention: AttentionSpec {
        class: "Qwen3Attention",
        qk_norm: Some(QkNormSpec {
            when: Flag::Fixed(true),
            shape: QkNormShape::SharedPerHead,
            kind: Norm::Rms,
        }),
        windows: Windows::FromLayer,
        ..LLAMA.attention
    },
    mlp: MlpSpec {
        class: "Qwen3MLP",
        bias: Flag::Fixed(false),
        ..LLAMA.mlp
    },
    norms: NormSpec {
        class: "Qwen3RMSNorm",
        ..LLAMA.norms
    },
    ..LLAMA
};
