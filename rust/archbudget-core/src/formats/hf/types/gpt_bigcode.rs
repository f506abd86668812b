//! gpt_bigcode (SantaCoder, StarCoder 1; `modeling_gpt_bigcode.py`): gpt-2 with
//! multi-query attention (`multi_query`, default on: one fused `c_attn` of hidden +
//! 2·head_dim outputs) as an `nn.Linear`, learned positions, tied embeddings.
use super::super::spec::*;
use super::GPT;

pub const GPT_BIGCODE: TypeSpec = TypeSpec {
    model_type: "gpt_bigcode",
    base_class: "GPTBigCodeModel",
    lm_class: "GPTBigCodeForCausalLM",
    defaults: Defaults {
        vocab: 50257,
        hidden: 768,
        intermediate: 0,
        layers: 12,
        heads: 12,
        max_positions: 1024,
        tie: true,
        activation: "gelu_pytorch_tanh",
        ..GPT.defaults
    },
    attention: AttentionSpec {
        class: "GPTBigCodeAttention",
        projections: Projections::Fused {
            qkv: "c_attn",
            o: "c_proj",
        },
        qkv_bias: Flag::Fixed(true),
        o_bias: Flag::Fixed(true),
        kv_heads: KvHeads::MultiQueryFlag,
        head_dim: HeadDim::HiddenOverHeads,
        ..GPT.attention
    },
    mlp: MlpSpec {
        class: "GPTBigCodeMLP",
        gate: None,
        up: "c_fc",
        down: "c_proj",
        bias: Flag::Fixed(true),
        fused_gate_up: false,
    },
    positions: Positions::Learned("wpe"),
    dropout: DropoutKeys {
        embed: Some(("embd_pdrop", 0.1)),
        attn: Some(("attn_pdrop", 0.1)),
        resid: Some(("resid_pdrop", 0.1)),
    },
    ..GPT
};
