//! arcee (`modular_arcee.py`): llama with a plain (ungated) `up_proj -> relu2 ->
//! down_proj` MLP.
use super::super::spec::*;
use super::LLAMA;

pub const ARCEE: TypeSpec = TypeSpec {
    model_type: "arcee",
    base_class: "ArceeModel",
    lm_class: "ArceeForCausalLM",
    defaults: Defaults {
        hidden: 2560,
        intermediate: 18_432,
        max_positions: 4096,
        activation: "relu2",
        ..LLAMA.defaults
    },
    attention: AttentionSpec {
        class: "ArceeAttention",
        ..LLAMA.attention
    },
    mlp: MlpSpec {
        class: "ArceeMLP",
        gate: None,
        ..LLAMA.mlp
    },
    norms: NormSpec {
        class: "ArceeRMSNorm",
        ..LLAMA.norms
    },
    ..LLAMA
};
