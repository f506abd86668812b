//! bart: t5's encoder-decoder layout (`t5.rs`) with what differs.
//!
//! Computes: a shared token embedding (`BartScaledWordEmbedding`, times
//! `sqrt(d_model)` when `scale_embedding`), in each stack learned positions
//! (`BartLearnedPositionalEmbedding`: `max_position_embeddings + 2` rows, the ids offset
//! by 2) added to it and a `layernorm_embedding`, then post-norm blocks (sub-layer →
//! dropout → residual add → LayerNorm): self-attention, in the decoder cross-attention,
//! `fc1` → activation → `fc2`; no final norm. `BartForConditionalGeneration` adds the
//! LM head and a `final_logits_bias` buffer `[1, vocab]` added to the logits.
//! Weights: biased q/k/v/out_proj `d_model → d_model` and fc1/fc2, LayerNorms with bias.
//! Ties (transformers 5.x `_tied_weights_keys`, applied when `tie_word_embeddings`,
//! default true): both stacks' `embed_tokens` and the LM head share `model.shared`;
//! untied, each stack has its own table and the LM head its own matrix.
//! Mirrors: `modeling_bart.py` of transformers 5.24.
use crate::arch::{ArchKind, HeadKind, Position, TransformerArch};
use crate::error::{add, Result};
use crate::weight::dim;

use super::config::Cfg;
use super::modules::{embedding_row, linear, lm_head, norm_row, Modules};

/// `BartLearnedPositionalEmbedding` holds `max_position_embeddings + 2` rows.
const POSITION_OFFSET: u64 = 2;

pub fn arch(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let d_model = cfg.dim("d_model", 1024)?;
    let heads = cfg.dim("encoder_attention_heads", 16)?;
    let inter = cfg.dim("encoder_ffn_dim", 4096)?;
    // one width per stack is what every bart checkpoint has and what the arch holds
    for (key, encoder_value) in [
        ("decoder_attention_heads", heads),
        ("decoder_ffn_dim", inter),
    ] {
        let value = cfg.dim(key, if key == "decoder_ffn_dim" { 4096 } else { 16 })?;
        if value != encoder_value {
            return Err(cfg.invalid(format!(
                "key '{key}' ({value}) differs from its encoder twin ({encoder_value}); bart with different encoder and decoder widths is not read"
            )));
        }
    }
    cfg.require_divisible(("d_model", d_model), ("encoder_attention_heads", heads))?;
    let max_positions = cfg.dim("max_position_embeddings", 1024)?;
    let vocab = cfg.dim("vocab_size", 50265)?;
    let layers = cfg.layers(&["encoder_layers"], 12)?;
    Ok(TransformerArch {
        kind: ArchKind::EncoderDecoder,
        head,
        vocab_size: vocab,
        num_decoder_layers: cfg.layers(&["decoder_layers"], 12)?,
        activation: cfg.string("activation_function", "gelu")?,
        final_norm: false,
        pre_norm: false,
        position: Position::Learned {
            rows: add(max_positions, POSITION_OFFSET, cfg.location, "positions")?,
        },
        max_positions,
        tie_word_embeddings: cfg.flag("tie_word_embeddings", true)?,
        cross_attention: true,
        ..TransformerArch::encoder("bart", d_model, layers, heads, inter)
    })
}

pub fn modules(a: &TransformerArch, m: &mut Modules) -> Result<String> {
    let lm = a.head.has_lm_head();
    let root = if lm { "model." } else { "" };
    let vocab = || dim(a.vocab_size, "vocab");
    embedding_row(
        m,
        format!("{root}shared"),
        "BartScaledWordEmbedding",
        vocab(),
        a.hidden_size,
    )?;
    let shared = format!("{root}shared.weight");
    for (stack, layers) in [("encoder", a.num_layers), ("decoder", a.num_decoder_layers)] {
        let path = format!("{root}{stack}.");
        if a.tie_word_embeddings {
            m.add_tied(
                format!("{path}embed_tokens"),
                "BartScaledWordEmbedding",
                Vec::new(),
                &shared,
            )?;
        } else {
            embedding_row(
                m,
                format!("{path}embed_tokens"),
                "BartScaledWordEmbedding",
                vocab(),
                a.hidden_size,
            )?;
        }
        let rows = add(a.max_positions, POSITION_OFFSET, m.location(), "positions")?;
        embedding_row(
            m,
            format!("{path}embed_positions"),
            "BartLearnedPositionalEmbedding",
            dim(rows, "positions + 2"),
            a.hidden_size,
        )?;
        stack_blocks(
            a,
            m,
            &path,
            stack == "decoder",
            layers,
            ("BartAttention", true),
        )?;
        norm_row(
            m,
            format!("{path}layernorm_embedding"),
            "LayerNorm",
            a.hidden_size,
            a.norm,
        )?;
    }
    if lm {
        lm_head(m, "lm_head", a, &shared)?;
        return Ok("BartForConditionalGeneration".to_string());
    }
    Ok("BartModel".to_string())
}

/// The rows of one stack's `layers.{i}` of a BART-style encoder-decoder (BART, Whisper):
/// self-attention, in the decoder cross-attention, each with its LayerNorm, then fc1, fc2
/// and the final LayerNorm. `attention` names the attention class; Whisper's `k_proj`
/// has no bias (`k_bias`).
pub(super) fn stack_blocks(
    a: &TransformerArch,
    m: &mut Modules,
    path: &str,
    decoder: bool,
    layers: u64,
    (attention_class, k_bias): (&'static str, bool),
) -> Result<()> {
    let d = || dim(a.hidden_size, "d_model");
    let attention = || {
        let mut w = Vec::new();
        for (proj, bias) in [
            ("k_proj.", k_bias),
            ("v_proj.", true),
            ("q_proj.", true),
            ("out_proj.", true),
        ] {
            linear(&mut w, proj, d(), d(), bias);
        }
        w
    };
    let mut ln = Vec::new();
    super::modules::norm(&mut ln, "", a.hidden_size, a.norm);
    let mut rows = vec![
        ("self_attn".to_string(), attention_class, attention()),
        ("self_attn_layer_norm".to_string(), "LayerNorm", ln.clone()),
    ];
    if decoder {
        rows.push(("encoder_attn".to_string(), attention_class, attention()));
        rows.push((
            "encoder_attn_layer_norm".to_string(),
            "LayerNorm",
            ln.clone(),
        ));
    }
    let inter = || dim(a.intermediate_size, "ffn_dim");
    let mut fc1 = Vec::new();
    linear(&mut fc1, "", d(), inter(), true);
    let mut fc2 = Vec::new();
    linear(&mut fc2, "", inter(), d(), true);
    rows.push(("fc1".to_string(), "Linear", fc1));
    rows.push(("fc2".to_string(), "Linear", fc2));
    rows.push(("final_layer_norm".to_string(), "LayerNorm", ln));
    m.add_blocks(layers, |i| format!("{path}layers.{i}."), &rows)
}
