//! olmo2 (`modular_olmo2.py`): llama with its norms moved onto each branch's output
//! (`post_attention_layernorm`, `post_feedforward_layernorm`, none on the input) and
//! RMSNorms over the whole q and k projections. olmo3: olmo2 with three sliding layers
//! to each full one.
use super::super::spec::*;
use super::LLAMA;

pub const OLMO2: TypeSpec = TypeSpec {
    model_type: "olmo2",
    base_class: "Olmo2Model",
    lm_class: "Olmo2ForCausalLM",
    defaults: Defaults {
        vocab: 50304,
        ..LLAMA.defaults
    },
    attention: AttentionSpec {
        class: "Olmo2Attention",
        qk_norm: Some(QkNormSpec {
            when: Flag::Fixed(true),
            shape: QkNormShape::WholeProjection,
            kind: Norm::Rms,
        }),
        ..LLAMA.attention
    },
    mlp: MlpSpec {
        class: "Olmo2MLP",
        bias: Flag::Fixed(false),
        ..LLAMA.mlp
    },
    norms: NormSpec {
        class: "Olmo2RMSNorm",
        placement: Placement::PostBranch,
        names: &["post_attention_layernorm", "post_feedforward_layernorm"],
        ..LLAMA.norms
    },
    ..LLAMA
};

pub const OLMO3: TypeSpec = TypeSpec {
    model_type: "olmo3",
    base_class: "Olmo3Model",
    lm_class: "Olmo3ForCausalLM",
    defaults: Defaults {
        sliding_window: Some(4096),
        ..OLMO2.defaults
    },
    attention: AttentionSpec {
        class: "Olmo3Attention",
        windows: Windows::Pattern {
            key: None,
            every: 4,
        },
        ..OLMO2.attention
    },
    mlp: MlpSpec {
        class: "Olmo3MLP",
        ..OLMO2.mlp
    },
    norms: NormSpec {
        class: "Olmo3RMSNorm",
        ..OLMO2.norms
    },
    ..OLMO2
};
