//! hunyuan_v1_dense (`modular_hunyuan_v1_dense.py`): llama with RMSNorms on each head's q
//! and k (`query_layernorm`, `key_layernorm`, one `head_dim` weight each) and a 290,943
//! token vocabulary; no MLP bias.
use super::super::spec::*;
use super::LLAMA;

pub const HUNYUAN_V1_DENSE: TypeSpec = TypeSpec {
    model_type: "hunyuan_v1_dense",
    base_class: "HunYuanDenseV1Model",
    lm_class: "HunYuanDenseV1ForCausalLM",
    defaults: Defaults {
        vocab: 290_943,
        ..LLAMA.defaults
    },
    attention: AttentionSpec {
        class: "HunYuanDenseV1Attention",
        qk_norm: Some(QkNormSpec {
            when: Flag::Fixed(true),
            shape: QkNormShape::SharedPerHead,
            kind: Norm::Rms,
        }),
        ..LLAMA.attention
    },
    mlp: MlpSpec {
        class: "HunYuanDenseV1MLP",
        bias: Flag::Fixed(false),
        ..LLAMA.mlp
    },
    norms: NormSpec {
        class: "HunYuanDenseV1RMSNorm",
        ..LLAMA.norms
    },
    ..LLAMA
};
