//! gptj (`modeling_gptj.py`): gpt-2 names with a parallel block (`ln_1` feeds attention
//! and MLP), unbiased q/k/v/out projections, a biased `fc_in`/`fc_out` MLP, rotary
//! embeddings on the first `rotary_dim` dimensions of each head, a biased LM head.
use super::super::spec::*;
use super::GPT;

pub const GPTJ: TypeSpec = TypeSpec {
    model_type: "gptj",
    base_class: "GPTJModel",
    lm_class: "GPTJForCausalLM",
    defaults: Defaults {
        vocab: 50400,
        hidden: 4096,
        intermediate: 0,
        layers: 28,
        heads: 16,
        activation: "gelu_new",
        ..GPT.defaults
    },
    attention: AttentionSpec {
        class: "GPTJAttention",
        projections: Projections::Separate {
            q: "q_proj",
            k: "k_proj",
            v: "v_proj",
            o: "out_proj",
        },
        qkv_bias: Flag::Fixed(false),
        o_bias: Flag::Fixed(false),
        head_dim: HeadDim::HiddenOverHeads,
        ..GPT.attention
    },
    mlp: MlpSpec {
        class: "GPTJMLP",
        gate: None,
        up: "fc_in",
        down: "fc_out",
        bias: Flag::Fixed(true),
        fused_gate_up: false,
    },
    block: Block::Parallel,
    positions: Positions::Rotary(Rotary::DimKey("rotary_dim", 64)),
    lm_head_bias: true,
    ..GPT
};
