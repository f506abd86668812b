//! One declarative spec per decoder type ([`TypeSpec`]), each written as its
//! difference from [`LLAMA`], the llama decoder in building blocks.
mod arcee;
mod cohere;
mod ernie4_5;
mod exaone4;
mod gemma3;
mod glm;
mod gpt_bigcode;
mod gptj;
mod granite;
mod helium;
mod hunyuan;
mod ministral;
mod olmo;
pub mod olmoe;
mod phi;
pub mod phimoe;
mod qwen3;
pub mod qwen3_5;
pub mod qwen3_next;
pub mod qwen3_vl;
mod seed_oss;
mod smollm3;
mod stablelm;
mod starcoder2;
mod vaultgemma;

use super::spec::*;

/// Every type described here, found by `model_type`.
const SPECS: &[&TypeSpec] = &[
    &qwen3::QWEN3,
    &gemma3::GEMMA3_TEXT,
    &olmo::OLMO2,
    &olmo::OLMO3,
    &smollm3::SMOLLM3,
    &starcoder2::STARCODER2,
    &stablelm::STABLELM,
    &phi::PHI,
    &gptj::GPTJ,
    &gpt_bigcode::GPT_BIGCODE,
    &cohere::COHERE,
    &cohere::COHERE2,
    &ernie4_5::ERNIE4_5,
    &seed_oss::SEED_OSS,
    &granite::GRANITE,
    &ministral::MINISTRAL3,
    &arcee::ARCEE,
    &vaultgemma::VAULTGEMMA,
    &exaone4::EXAONE4,
    &glm::GLM,
    &glm::GLM4,
    &qwen3_vl::QWEN3_VL_TEXT,
    &helium::HELIUM,
    &hunyuan::HUNYUAN_V1_DENSE,
    &ministral::MINISTRAL,
];

pub fn spec(model_type: &str) -> Option<&'static TypeSpec> {
    SPECS.iter().copied().find(|s| s.model_type == model_type)
}

#[cfg(test)]
pub fn model_types() -> impl Iterator<Item = &'static str> {
    SPECS.iter().map(|s| s.model_type)
}

/// llama (`modeling_llama.py`): pre-norm RMSNorm blocks, GQA with separate projections,
/// rotary embeddings, a gated SiLU MLP. Not registered (llama.rs reads llama); the base
/// the other specs name their differences from.
const LLAMA: TypeSpec = TypeSpec {
    model_type: "llama",
    base_class: "LlamaModel",
    lm_class: "LlamaForCausalLM",
    embed_class: "Embedding",
    keys: &LLAMA_KEYS,
    defaults: Defaults {
        vocab: 32000,
        hidden: 4096,
        intermediate: 11008,
        layers: 32,
        heads: 32,
        kv_heads: None,
        head_dim: None,
        max_positions: 2048,
        sliding_window: None,
        tie: false,
        activation: "silu",
    },
    paths: LLAMA_PATHS,
    attention: AttentionSpec {
        class: "LlamaAttention",
        projections: Projections::Separate {
            q: "q_proj",
            k: "k_proj",
            v: "v_proj",
            o: "o_proj",
        },
        qkv_bias: Flag::Key("attention_bias", false),
        o_bias: Flag::Key("attention_bias", false),
        kv_heads: KvHeads::Key,
        head_dim: HeadDim::Key,
        qk_norm: None,
        windows: Windows::None,
    },
    mlp: MlpSpec {
        class: "LlamaMLP",
        gate: Some("gate_proj"),
        up: "up_proj",
        down: "down_proj",
        bias: Flag::Key("mlp_bias", false),
        fused_gate_up: false,
    },
    norms: NormSpec {
        class: "LlamaRMSNorm",
        kind: Norm::Rms,
        placement: Placement::Pre,
        names: &["input_layernorm", "post_attention_layernorm"],
        final_name: "norm",
    },
    block: Block::Sequential,
    positions: Positions::Rotary(Rotary::Full),
    lm_head_bias: false,
    logit_scale: false,
    dropout: DropoutKeys {
        embed: None,
        attn: Some(("attention_dropout", 0.0)),
        resid: None,
    },
};

/// The gpt-2 style decoder gptj and gpt_bigcode start from: `transformer.h.{i}`,
/// `ln_1`/`ln_2`/`ln_f` LayerNorms with bias, a plain biased MLP.
const GPT: TypeSpec = TypeSpec {
    keys: &GPT_KEYS,
    paths: GPT_PATHS,
    norms: NormSpec {
        class: "LayerNorm",
        kind: Norm::LayerNorm { bias: true },
        placement: Placement::Pre,
        names: &["ln_1", "ln_2"],
        final_name: "ln_f",
    },
    dropout: DropoutKeys {
        embed: Some(("embd_pdrop", 0.0)),
        attn: Some(("attn_pdrop", 0.0)),
        resid: Some(("resid_pdrop", 0.0)),
    },
    ..LLAMA
};
