//! granite (`modular_granite.py`): llama whose embedding, residual, attention and logit
//! multipliers scale activations and change no weight.
use super::super::spec::*;
use super::LLAMA;

pub const GRANITE: TypeSpec = TypeSpec {
    model_type: "granite",
    base_class: "GraniteModel",
    lm_class: "GraniteForCausalLM",
    attention: AttentionSpec {
        class: "GraniteAttention",
        ..LLAMA.attention
    },
    mlp: MlpSpec {
        class: "GraniteMLP",
        ..LLAMA.mlp
    },
    norms: NormSpec {
        class: "GraniteRMSNorm",
        ..LLAMA.norms
    },
    ..LLAMA
};
