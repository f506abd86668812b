//! phi (phi-1, phi-1.5, phi-2; `modeling_phi.py`): a parallel block (one LayerNorm,
//! attention and a plain `fc1`/`fc2` MLP on the same input), every projection biased,
//! the output projection named `dense`, optional LayerNorms on q and k
//! (`qk_layernorm`), rotary embeddings on half of each head, a biased LM head.
use super::super::spec::*;
use super::LLAMA;

pub const PHI: TypeSpec = TypeSpec {
    model_type: "phi",
    base_class: "PhiModel",
    lm_class: "PhiForCausalLM",
    defaults: Defaults {
        vocab: 51200,
        hidden: 2048,
        intermediate: 8192,
        layers: 24,
        activation: "gelu_new",
        ..LLAMA.defaults
    },
    attention: AttentionSpec {
        class: "PhiAttention",
        projections: Projections::Separate {
            q: "q_proj",
            k: "k_proj",
            v: "v_proj",
            o: "dense",
        },
        qkv_bias: Flag::Fixed(true),
        o_bias: Flag::Fixed(true),
        qk_norm: Some(QkNormSpec {
            when: Flag::Key("qk_layernorm", false),
            shape: QkNormShape::SharedHiddenOverHeads,
            kind: Norm::LayerNorm { bias: true },
        }),
        ..LLAMA.attention
    },
    mlp: MlpSpec {
        class: "PhiMLP",
        gate: None,
        up: "fc1",
        down: "fc2",
        bias: Flag::Fixed(true),
        fused_gate_up: false,
    },
    norms: NormSpec {
        class: "LayerNorm",
        kind: Norm::LayerNorm { bias: true },
        placement: Placement::Pre,
        names: &["input_layernorm"],
        final_name: "final_layernorm",
    },
    block: Block::Parallel,
    positions: Positions::Rotary(Rotary::Factor(0.5)),
    lm_head_bias: true,
    dropout: DropoutKeys {
        embed: Some(("embd_pdrop", 0.0)),
        attn: Some(("attention_dropout", 0.0)),
        resid: Some(("resid_pdrop", 0.0)),
    },
    ..LLAMA
};
