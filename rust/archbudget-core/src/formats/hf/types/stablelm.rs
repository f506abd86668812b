//! stablelm (`modeling_stablelm.py`): llama with LayerNorms (bias), optional q/k/v bias
//! (`use_qkv_bias`), optional LayerNorms per head on q and k (`qk_layernorm`), a
//! parallel residual when `use_parallel_residual` (one norm per layer), and rotary
//! embeddings on a quarter of each head (`partial_rotary_factor`).
use super::super::spec::*;
use super::LLAMA;

pub const STABLELM: TypeSpec = TypeSpec {
    model_type: "stablelm",
    base_class: "StableLmModel",
    lm_class: "StableLmForCausalLM",
    defaults: Defaults {
        vocab: 50304,
        hidden: 2560,
        intermediate: 6912,
        kv_heads: Some(32),
        max_positions: 4096,
        ..LLAMA.defaults
    },
    attention: AttentionSpec {
        class: "StableLmAttention",
        qkv_bias: Flag::Key("use_qkv_bias", false),
        o_bias: Flag::Fixed(false),
        head_dim: HeadDim::HiddenOverHeads,
        qk_norm: Some(QkNormSpec {
            when: Flag::Key("qk_layernorm", false),
            shape: QkNormShape::EachHead,
            kind: Norm::LayerNorm { bias: false },
        }),
        ..LLAMA.attention
    },
    mlp: MlpSpec {
        class: "StableLmMLP",
        bias: Flag::Fixed(false),
        ..LLAMA.mlp
    },
    norms: NormSpec {
        class: "LayerNorm",
        kind: Norm::LayerNorm { bias: true },
        ..LLAMA.norms
    },
    block: Block::ParallelWhen(Flag::Key("use_parallel_residual", false)),
    positions: Positions::Rotary(Rotary::Factor(0.25)),
    dropout: DropoutKeys {
        embed: None,
        attn: Some(("attention_dropout", 0.0)),
        resid: Some(("hidden_dropout", 0.0)),
    },
    ..LLAMA
};
