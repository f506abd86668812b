//! vaultgemma (`modular_vaultgemma.py`): gemma2 without its post-branch norms (an
//! `input_layernorm` and a `pre_feedforward_layernorm` per layer), a scaled embedding,
//! sliding and full layers alternating from a sliding first one.
use super::super::spec::*;
use super::LLAMA;

pub const VAULTGEMMA: TypeSpec = TypeSpec {
    model_type: "vaultgemma",
    base_class: "VaultGemmaModel",
    lm_class: "VaultGemmaForCausalLM",
    embed_class: "VaultGemmaTextScaledWordEmbedding",
    keys: &Keys {
        activation: "hidden_activation",
        ..LLAMA_KEYS
    },
    defaults: Defaults {
        vocab: 256_000,
        hidden: 2304,
        intermediate: 9216,
        layers: 26,
        heads: 8,
        kv_heads: Some(4),
        head_dim: Some(256),
        max_positions: 8192,
        sliding_window: Some(4096),
        tie: true,
        activation: "gelu_pytorch_tanh",
    },
    attention: AttentionSpec {
        class: "VaultGemmaAttention",
        windows: Windows::Pattern {
            key: None,
            every: 2,
        },
        ..LLAMA.attention
    },
    mlp: MlpSpec {
        class: "VaultGemmaMLP",
        bias: Flag::Fixed(false),
        ..LLAMA.mlp
    },
    norms: NormSpec {
        class: "VaultGemmaRMSNorm",
        names: &["input_layernorm", "pre_feedforward_layernorm"],
        ..LLAMA.norms
    },
    ..LLAMA
};
