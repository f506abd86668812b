//! starcoder2 (`modular_starcoder2.py`): llama's attention with every projection biased
//! (`use_bias`), a plain `c_fc`/`c_proj` MLP, LayerNorms with bias, and every layer
//! sliding when `sliding_window` is set.
use super::super::spec::*;
use super::LLAMA;

pub const STARCODER2: TypeSpec = TypeSpec {
    model_type: "starcoder2",
    base_class: "Starcoder2Model",
    lm_class: "Starcoder2ForCausalLM",
    defaults: Defaults {
        vocab: 49152,
        hidden: 3072,
        intermediate: 12288,
        layers: 30,
        heads: 24,
        kv_heads: Some(2),
        max_positions: 4096,
        tie: true,
        activation: "gelu_pytorch_tanh",
        ..LLAMA.defaults
    },
    attention: AttentionSpec {
        class: "Starcoder2Attention",
        qkv_bias: Flag::Key("use_bias", true),
        o_bias: Flag::Key("use_bias", true),
        windows: Windows::AllWhenSet,
        ..LLAMA.attention
    },
    mlp: MlpSpec {
        class: "Starcoder2MLP",
        gate: None,
        up: "c_fc",
        down: "c_proj",
        bias: Flag::Key("use_bias", true),
        fused_gate_up: false,
    },
    norms: NormSpec {
        class: "LayerNorm",
        kind: Norm::LayerNorm { bias: true },
        ..LLAMA.norms
    },
    dropout: DropoutKeys {
        embed: Some(("embedding_dropout", 0.0)),
        attn: Some(("attention_dropout", 0.0)),
        resid: Some(("residual_dropout", 0.0)),
    },
    ..LLAMA
};
