//! opt.
//!
//! Computes: token embedding of width `word_embed_proj_dim` (projected in and out when it
//! differs from hidden), learned positions with OPT's offset of 2 rows, N × (attention,
//! LayerNorm, fc1, fc2, LayerNorm), final LayerNorm (unless `do_layer_norm_before` is
//! false or `_remove_final_layer_norm`), LM head tied to the token embedding by default.
//! Weights: q/k/v/out_proj and fc1/fc2 biased when `enable_bias`; norms have no
//! parameters when `layer_norm_elementwise_affine` is false.
//! Mirrors: `modeling_opt.py` (`OPTDecoder`, `OPTLearnedPositionalEmbedding`) of
//! transformers 5.x.
use crate::arch::{HeadKind, NormKind, Position, TransformerArch};
use crate::error::{add, Result};
use crate::weight::dim;

use super::config::Cfg;
use super::modules::{embedding_row, linear, lm_head, norm_row, Modules};

/// `OPTLearnedPositionalEmbedding` holds `max_position_embeddings + 2` rows.
const POSITION_OFFSET: u64 = 2;

pub fn arch(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let hidden = cfg.dim("hidden_size", 768)?;
    let heads = cfg.dim("num_attention_heads", 12)?;
    cfg.require_divisible(("hidden_size", hidden), ("num_attention_heads", heads))?;
    let bias = cfg.flag("enable_bias", true)?;
    let pre_norm = cfg.flag("do_layer_norm_before", true)?;
    let max_positions = cfg.dim("max_position_embeddings", 2048)?;
    let norm = if cfg.flag("layer_norm_elementwise_affine", true)? {
        NormKind::LayerNorm { bias: true }
    } else {
        NormKind::LayerNormNoAffine
    };
    let vocab = cfg.dim("vocab_size", 50272)?;
    let embed = cfg.dim("word_embed_proj_dim", hidden)?;
    let layers = cfg.layers(&["num_hidden_layers"], 12)?;
    let inter = cfg.dim("ffn_dim", 3072)?;
    Ok(TransformerArch {
        head,
        vocab_size: vocab,
        embed_dim: embed,
        activation: cfg.string("activation_function", "relu")?,
        norm,
        final_norm: pre_norm && !cfg.flag("_remove_final_layer_norm", false)?,
        pre_norm,
        qkv_bias: bias,
        o_bias: bias,
        mlp_bias: bias,
        position: Position::Learned {
            rows: add(max_positions, POSITION_OFFSET, cfg.location, "positions")?,
        },
        max_positions,
        tie_word_embeddings: cfg.flag("tie_word_embeddings", true)?,
        ..TransformerArch::decoder("opt", hidden, layers, heads, inter)
    })
}

pub fn modules(a: &TransformerArch, m: &mut Modules) -> Result<String> {
    let root = if a.head.has_lm_head() {
        "model.decoder."
    } else {
        "decoder."
    };
    let hidden = dim(a.hidden_size, "hidden");
    let proj = dim(a.embed_dim, "word_embed_proj_dim");
    embedding_row(
        m,
        format!("{root}embed_tokens"),
        "Embedding",
        dim(a.vocab_size, "vocab"),
        a.embed_dim,
    )?;
    if let Position::Learned { rows } = a.position {
        let class = "OPTLearnedPositionalEmbedding";
        embedding_row(
            m,
            format!("{root}embed_positions"),
            class,
            dim(rows, "positions+2"),
            a.hidden_size,
        )?;
    }
    if a.embed_dim != a.hidden_size {
        let mut w = Vec::new();
        linear(&mut w, "", hidden.clone(), proj.clone(), false);
        m.add(format!("{root}project_out"), "Linear", w)?;
        let mut w = Vec::new();
        linear(&mut w, "", proj, hidden.clone(), false);
        m.add(format!("{root}project_in"), "Linear", w)?;
    }
    if a.final_norm {
        norm_row(
            m,
            format!("{root}final_layer_norm"),
            "LayerNorm",
            a.hidden_size,
            a.norm,
        )?;
    }
    for i in 0..a.num_layers {
        let layer = format!("{root}layers.{i}.");
        let mut w = Vec::new();
        for name in ["k_proj.", "v_proj.", "q_proj."] {
            linear(&mut w, name, hidden.clone(), hidden.clone(), a.qkv_bias);
        }
        linear(
            &mut w,
            "out_proj.",
            hidden.clone(),
            hidden.clone(),
            a.o_bias,
        );
        m.add(format!("{layer}self_attn"), "OPTAttention", w)?;
        norm_row(
            m,
            format!("{layer}self_attn_layer_norm"),
            "LayerNorm",
            a.hidden_size,
            a.norm,
        )?;
        let ffn = dim(a.intermediate_size, "ffn_dim");
        let mut w = Vec::new();
        linear(&mut w, "", hidden.clone(), ffn.clone(), a.mlp_bias);
        m.add(format!("{layer}fc1"), "Linear", w)?;
        let mut w = Vec::new();
        linear(&mut w, "", ffn, hidden.clone(), a.mlp_bias);
        m.add(format!("{layer}fc2"), "Linear", w)?;
        norm_row(
            m,
            format!("{layer}final_layer_norm"),
            "LayerNorm",
            a.hidden_size,
            a.norm,
        )?;
    }
    if a.head.has_lm_head() {
        lm_head(m, "lm_head", a, "model.decoder.embed_tokens.weight")?;
        return Ok("OPTForCausalLM".to_string());
    }
    Ok("OPTModel".to_string())
}
