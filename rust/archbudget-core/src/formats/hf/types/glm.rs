//! glm (`modular_glm.py`): llama with biased q/k/v (`attention_bias`, default true) and an
//! unbiased output, gate and up fused into one `gate_up_proj`, half of each head rotated
//! (`partial_rotary_factor` 0.5). glm4: glm with each branch's output normed too
//! (`post_self_attn_layernorm`, `post_mlp_layernorm`: four RMSNorms per layer).
use super::super::spec::*;
use super::LLAMA;

pub const GLM: TypeSpec = TypeSpec {
    model_type: "glm",
    base_class: "GlmModel",
    lm_class: "GlmForCausalLM",
    defaults: Defaults {
        vocab: 151_552,
        intermediate: 13_696,
        layers: 40,
        kv_heads: Some(2),
        head_dim: Some(128),
        max_positions: 131_072,
        ..LLAMA.defaults
    },
    attention: AttentionSpec {
        class: "GlmAttention",
        qkv_bias: Flag::Key("attention_bias", true),
        o_bias: Flag::Fixed(false),
        ..LLAMA.attention
    },
    mlp: MlpSpec {
        class: "GlmMLP",
        gate: None,
        up: "gate_up_proj",
        bias: Flag::Fixed(false),
        fused_gate_up: true,
        ..LLAMA.mlp
    },
    norms: NormSpec {
        class: "GlmRMSNorm",
        ..LLAMA.norms
    },
    positions: Positions::Rotary(Rotary::Factor(0.5)),
    ..LLAMA
};

pub const GLM4: TypeSpec = TypeSpec {
    model_type: "glm4",
    base_class: "Glm4Model",
    lm_class: "Glm4ForCausalLM",
    attention: AttentionSpec {
        class: "Glm4Attention",
        ..GLM.attention
    },
    mlp: MlpSpec {
        class: "Glm4MLP",
        ..GLM.mlp
    },
    norms: NormSpec {
        class: "Glm4RMSNorm",
        placement: Placement::Sandwich,
        names: &[
            "input_layernorm",
            "post_self_attn_layernorm",
            "post_attention_layernorm",
            "post_mlp_layernorm",
        ],
        ..LLAMA.norms
    },
    ..GLM
};
