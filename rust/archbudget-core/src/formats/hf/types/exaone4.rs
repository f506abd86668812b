//! exaone4 (`modular_exaone4.py`): olmo2's norms on each branch's output with qwen3's
//! per-head q/k RMSNorms, three sliding layers to each full one
//! (`sliding_window_pattern`, default 4), and no rotary embedding on the full layers
//! when the model has sliding ones.
use super::super::spec::*;
use super::LLAMA;

pub const EXAONE4: TypeSpec = TypeSpec {
    model_type: "exaone4",
    base_class: "Exaone4Model",
    lm_class: "Exaone4ForCausalLM",
    defaults: Defaults {
        vocab: 102_400,
        intermediate: 16_384,
        kv_heads: Some(32),
        sliding_window: Some(4096),
        ..LLAMA.defaults
    },
    attention: AttentionSpec {
        class: "Exaone4Attention",
        qkv_bias: Flag::Fixed(false),
        o_bias: Flag::Fixed(false),
        qk_norm: Some(QkNormSpec {
            when: Flag::Fixed(true),
            shape: QkNormShape::SharedPerHead,
            kind: Norm::Rms,
        }),
        windows: Windows::PatternFullNoRope {
            key: "sliding_window_pattern",
            every: 4,
        },
        ..LLAMA.attention
    },
    mlp: MlpSpec {
        class: "Exaone4MLP",
        bias: Flag::Fixed(false),
        ..LLAMA.mlp
    },
    norms: NormSpec {
        class: "Exaone4RMSNorm",
        placement: Placement::PostBranch,
        names: &["post_attention_layernorm", "post_feedforward_layernorm"],
        ..LLAMA.norms
    },
    ..LLAMA
};
