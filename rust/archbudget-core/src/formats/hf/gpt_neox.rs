//! gpt_neox (Pythia, GPT-NeoX-20B).
//!
//! Computes: token embedding, N × (LayerNorm → attention, LayerNorm → MLP, summed in
//! parallel when `use_parallel_residual`), final LayerNorm, untied LM head by default.
//! Weights: fused `query_key_value` (3 × hidden) and `dense`, both biased when
//! `attention_bias` (default true); MLP `dense_h_to_4h` / `dense_4h_to_h` always biased.
//! Mirrors: `modeling_gpt_neox.py` of transformers 5.x.
use crate::arch::{HeadKind, Position, TransformerArch};
use crate::error::Result;
use crate::weight::dim;

use super::config::Cfg;
use super::modules::{embedding_row, h_to_4h_mlp, linear, lm_head, norm_row, times, Modules};

pub fn arch(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let hidden = cfg.dim("hidden_size", 6144)?;
    let heads = cfg.dim("num_attention_heads", 64)?;
    cfg.require_divisible(("hidden_size", hidden), ("num_attention_heads", heads))?;
    let bias = cfg.flag("attention_bias", true)?;
    let max_positions = cfg.dim("max_position_embeddings", 2048)?;
    let vocab = cfg.dim("vocab_size", 50432)?;
    let layers = cfg.layers(&["num_hidden_layers"], 44)?;
    let inter = cfg.dim("intermediate_size", 24576)?;
    Ok(TransformerArch {
        head,
        vocab_size: vocab,
        activation: cfg.string("hidden_act", "gelu")?,
        qkv_bias: bias,
        o_bias: bias,
        fused_qkv: true,
        position: Position::Rotary,
        max_positions,
        tie_word_embeddings: cfg.flag("tie_word_embeddings", false)?,
        parallel_attn: cfg.flag("use_parallel_residual", true)?,
        ..TransformerArch::decoder("gpt_neox", hidden, layers, heads, inter)
    })
}

pub fn modules(a: &TransformerArch, m: &mut Modules) -> Result<String> {
    let loc = m.location();
    let root = if a.head.has_lm_head() {
        "gpt_neox."
    } else {
        ""
    };
    let hidden = dim(a.hidden_size, "hidden");
    let ln = a.norm;
    embedding_row(
        m,
        format!("{root}embed_in"),
        "Embedding",
        dim(a.vocab_size, "vocab"),
        a.hidden_size,
    )?;
    for i in 0..a.num_layers {
        let layer = format!("{root}layers.{i}.");
        norm_row(
            m,
            format!("{layer}input_layernorm"),
            "LayerNorm",
            a.hidden_size,
            ln,
        )?;
        norm_row(
            m,
            format!("{layer}post_attention_layernorm"),
            "LayerNorm",
            a.hidden_size,
            ln,
        )?;
        let mut w = Vec::new();
        linear(
            &mut w,
            "query_key_value.",
            hidden.clone(),
            times(3, a.hidden_size, "3×hidden", loc)?,
            a.qkv_bias,
        );
        linear(&mut w, "dense.", hidden.clone(), hidden.clone(), a.o_bias);
        m.add(format!("{layer}attention"), "GPTNeoXAttention", w)?;
        let inter = dim(a.intermediate_size, "intermediate");
        h_to_4h_mlp(
            m,
            format!("{layer}mlp"),
            "GPTNeoXMLP",
            hidden.clone(),
            inter,
            a.mlp_bias,
        )?;
    }
    norm_row(
        m,
        format!("{root}final_layer_norm"),
        "LayerNorm",
        a.hidden_size,
        ln,
    )?;
    if a.head.has_lm_head() {
        lm_head(m, "lm_head", a, "gpt_neox.embed_in.weight")?;
        return Ok("GPTNeoXForCausalLM".to_string());
    }
    Ok("GPTNeoXModel".to_string())
}
