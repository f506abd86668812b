//! gemma3_text (`modular_gemma3.py`): gemma2's sandwich norms (four RMSNorms per layer)
//! and scaled embedding, qwen3's per-head q/k RMSNorms, and five sliding layers to each
//! full one (`sliding_window_pattern`, default 6).
use super::super::spec::*;
use super::LLAMA;

pub const GEMMA3_TEXT: TypeSpec = TypeSpec {
    model_type: "gemma3_text",
    base_class: "Gemma3TextModel",
    lm_class: "Gemma3ForCausalLM",
    embed_class: "Gemma3TextScaledWordEmbedding",
    keys: &Keys {
        activation: "hidden_activation",
        ..LLAMA_KEYS
    },
    defaults: Defaults {
        vocab: 262_208,
        hidden: 2304,
        intermediate: 9216,
        layers: 26,
        heads: 8,
        kv_heads: Some(4),
        head_dim: Some(256),
        max_positions: 131_072,
        sliding_window: Some(4096),
        tie: true,
        activation: "gelu_pytorch_tanh",
    },
    attention: AttentionSpec {
        class: "Gemma3Attention",
        qk_norm: Some(QkNormSpec {
            when: Flag::Fixed(true),
            shape: QkNormShape::SharedPerHead,
            kind: Norm::Rms,
        }),
        windows: Windows::Pattern {
            key: Some("sliding_window_pattern"),
            every: 6,
        },
        ..LLAMA.attention
    },
    mlp: MlpSpec {
        class: "Gemma3MLP",
        bias: Flag::Fixed(false),
        ..LLAMA.mlp
    },
    norms: NormSpec {
        class: "Gemma3RMSNorm",
        placement: Placement::Sandwich,
        names: &[
            "input_layernorm",
            "post_attention_layernorm",
            "pre_feedforward_layernorm",
            "post_feedforward_layernorm",
        ],
        ..LLAMA.norms
    },
    ..LLAMA
};
