//! smollm3 (`modular_smollm3.py`): llama without rotary embeddings in every fourth layer
//! (`no_rope_layers`, `no_rope_layer_interval`); with `use_sliding_window` those NoPE
//! layers slide.
use super::super::spec::*;
use super::LLAMA;

pub const SMOLLM3: TypeSpec = TypeSpec {
    model_type: "smollm3",
    base_class: "SmolLM3Model",
    lm_class: "SmolLM3ForCausalLM",
    defaults: Defaults {
        vocab: 128256,
        hidden: 2048,
        layers: 36,
        heads: 16,
        kv_heads: Some(4),
        max_positions: 32768,
        tie: true,
        ..LLAMA.defaults
    },
    attention: AttentionSpec {
        class: "SmolLM3Attention",
        windows: Windows::NoRopeLayers,
        ..LLAMA.attention
    },
    mlp: MlpSpec {
        class: "SmolLM3MLP",
        ..LLAMA.mlp
    },
    norms: NormSpec {
        class: "SmolLM3RMSNorm",
        ..LLAMA.norms
    },
    ..LLAMA
};
