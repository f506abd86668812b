//! cohere (Command-R; `modeling_cohere.py`): a parallel block under one bias-free
//! LayerNorm (`CohereLayerNorm`), optional per-head LayerNorms on q and k
//! (`use_qk_norm`: a `(heads, head_dim)` weight), tied embeddings and logits scaled by
//! `logit_scale`. cohere2 (Command R7B): cohere without q/k norms and with three
//! sliding layers to each full one (`sliding_window_pattern`).
use super::super::spec::*;
use super::LLAMA;

pub const COHERE: TypeSpec = TypeSpec {
    model_type: "cohere",
    base_class: "CohereModel",
    lm_class: "CohereForCausalLM",
    defaults: Defaults {
        vocab: 256000,
        hidden: 8192,
        intermediate: 22528,
        layers: 40,
        heads: 64,
        max_positions: 8192,
        tie: true,
        ..LLAMA.defaults
    },
    attention: AttentionSpec {
        class: "CohereAttention",
        qk_norm: Some(QkNormSpec {
            when: Flag::Key("use_qk_norm", false),
            shape: QkNormShape::EachHead,
            kind: Norm::LayerNorm { bias: false },
        }),
        ..LLAMA.attention
    },
    mlp: MlpSpec {
        class: "CohereMLP",
        bias: Flag::Fixed(false),
        ..LLAMA.mlp
    },
    norms: NormSpec {
        class: "CohereLayerNorm",
        kind: Norm::LayerNorm { bias: false },
        names: &["input_layernorm"],
        ..LLAMA.norms
    },
    block: Block::Parallel,
    logit_scale: true,
    ..LLAMA
};

pub const COHERE2: TypeSpec = TypeSpec {
    model_type: "cohere2",
    base_class: "Cohere2Model",
    lm_class: "Cohere2ForCausalLM",
    defaults: Defaults {
        sliding_window: Some(4096),
        ..COHERE.defaults
    },
    attention: AttentionSpec {
        class: "Cohere2Attention",
        qk_norm: None,
        windows: Windows::Pattern {
            key: Some("sliding_window_pattern"),
            every: 4,
        },
        ..COHERE.attention
    },
    mlp: MlpSpec {
        class: "Cohere2MLP",
        ..COHERE.mlp
    },
    norms: NormSpec {
        class: "Cohere2LayerNorm",
        ..COHERE.norms
    },
    ..COHERE
};
