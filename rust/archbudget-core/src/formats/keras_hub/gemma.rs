//! keras-hub's GemmaBackbone and Gemma3Backbone (its `vision_encoder`, if any, is
//! gemma3_vision.rs's): a tied token embedding,
//! N `decoder_block_i` of RMS-normed grouped-query attention (query kernel
//! `[heads, hidden, head_dim]`; gemma3: per-head q/k norms) and a gated MLP, optional
//! post-attention / post-feedforward norms, and `final_normalization`.
//!
//! keras-hub's Gemma MLP is `intermediate_dim / 2` wide (its presets say 2× what
//! transformers' `intermediate_size` says); Gemma3's is `intermediate_dim`. Gemma with
//! post norms is transformers' gemma2, without them gemma; Gemma3 is gemma3_text, its
//! sliding layers as keras-hub places them (five of every six when
//! `use_sliding_window_attention`).
//!
//! PaliGemmaBackbone is Gemma's decoder after its vision model (`pali_gemma.rs`).
use serde_json::json;

use super::blocks::{dense, embedding, rms_norm, seq_shape, Args, Row};
use super::gemma3_vision;
use super::Backbone;
use crate::arch::TransformerArch;
use crate::error::Result;
use crate::weight::{dim, Weight};

pub fn backbone(a: &Args) -> Result<Backbone> {
    let gemma3 = a.class_name == "Gemma3Backbone";
    // PaliGemma: Gemma's decoder on the tokens of its own vision model
    let pali = a.class_name == "PaliGemmaBackbone";
    let vision = match gemma3 {
        true => gemma3_vision::nested(a)?,
        false => None,
    };
    let vocab = a.dim("vocabulary_size")?;
    let layers = a.dim("num_layers")?;
    let hidden = a.dim("hidden_dim")?;
    let q = a.dim("num_query_heads")?;
    let kv = a.dim("num_key_value_heads")?;
    let head_dim = a.dim("head_dim")?;
    let inter = if gemma3 {
        a.dim("intermediate_dim")?
    } else {
        a.dim("intermediate_dim")? / 2
    };
    let post_attention = a.flag_or("use_post_attention_norm", false)?;
    let post_ffw = a.flag_or("use_post_ffw_norm", false)?;
    let sliding = a.flag_or("use_sliding_window_attention", false)?;
    let window = a.dim_or("sliding_window_size", if gemma3 { 1024 } else { 4096 })?;

    let mut token = Vec::new();
    embedding(&mut token, "", vocab, hidden);
    let token_row = Row::new(
        "token_embedding",
        "ReversibleEmbedding",
        seq_shape(Some(hidden)),
        token,
    );
    let token_weights = token_row.weights.clone();
    let mut rows = match pali {
        true => vec![
            Row::input("token_ids"),
            super::pali_gemma::images_row(a)?,
            token_row,
            super::pali_gemma::vit_row(a, hidden)?,
            Row::input("padding_mask"),
            Row::input("response_mask"),
        ],
        false => vec![
            Row::input("token_ids"),
            token_row,
            Row::input("padding_mask"),
        ],
    };

    let mut block = Vec::new();
    rms_norm(&mut block, "pre_attention_norm", hidden);
    if post_attention {
        rms_norm(&mut block, "post_attention_norm", hidden);
    }
    for (name, heads) in [("query", q), ("key", kv), ("value", kv)] {
        block.push(Weight::new(
            format!("attention/{name}/kernel"),
            vec![
                dim(heads, "heads"),
                dim(hidden, "inputs"),
                dim(head_dim, "head_dim"),
            ],
        ));
    }
    if gemma3 && a.flag_or("use_query_key_norm", true)? {
        rms_norm(&mut block, "attention/query_norm", head_dim);
        rms_norm(&mut block, "attention/key_norm", head_dim);
    }
    block.push(Weight::new(
        "attention/attention_output/kernel",
        vec![
            dim(q, "heads"),
            dim(head_dim, "head_dim"),
            dim(hidden, "units"),
        ],
    ));
    rms_norm(&mut block, "pre_ffw_norm", hidden);
    if post_ffw {
        rms_norm(&mut block, "post_ffw_norm", hidden);
    }
    dense(&mut block, "ffw_gating", hidden, inter, false);
    dense(&mut block, "ffw_gating_2", hidden, inter, false);
    dense(&mut block, "ffw_linear", inter, hidden, false);
    let class = match (gemma3, pali) {
        (true, _) => "Gemma3DecoderBlock",
        (_, true) => "PaliGemmaDecoderBlock",
        _ => "GemmaDecoderBlock",
    };
    rows.extend((0..layers).map(|i| {
        Row::new(
            format!("decoder_block_{i}"),
            class,
            seq_shape(Some(hidden)),
            block.clone(),
        )
    }));
    let mut norm = Vec::new();
    rms_norm(&mut norm, "", hidden);
    rows.push(Row::new(
        "final_normalization",
        "RMSNormalization",
        seq_shape(Some(hidden)),
        norm,
    ));

    let model_type = match (gemma3, post_attention || post_ffw) {
        (true, _) => "gemma3_text",
        (false, true) => "gemma2",
        (false, false) => "gemma",
    };
    let mut hf = json!({
        "model_type": model_type, "vocab_size": vocab, "hidden_size": hidden,
        "intermediate_size": inter, "num_hidden_layers": layers,
        "num_attention_heads": q, "num_key_value_heads": kv, "head_dim": head_dim,
        "tie_word_embeddings": true, "sliding_window": window,
        "attention_dropout": a.float_or("dropout", 0.0)?,
    });
    if gemma3 {
        // keras-hub: layer i is local when `i % 6 < 5`, all global without sliding
        let types: Vec<&str> = (0..layers)
            .map(|i| match sliding && i % 6 < 5 {
                true => "sliding_attention",
                false => "full_attention",
            })
            .collect();
        hf["layer_types"] = json!(types);
    }
    if let Some(enc) = vision {
        let rows = gemma3_vision::backbone_rows(rows, &enc);
        let hf = gemma3_vision::hf_config(hf, &enc);
        let mut b = Backbone::decoder(hf, rows, hidden, vocab, token_weights);
        b.inputs = &[
            "images",
            "padding_mask",
            "token_ids",
            "vision_indices",
            "vision_mask",
        ];
        return Ok(b);
    }
    if pali {
        hf = super::pali_gemma::hf_config(a, hf, hidden)?;
    }
    let mut b = Backbone::decoder(hf, rows, hidden, vocab, token_weights);
    if pali {
        b.inputs = &["token_ids", "images", "padding_mask", "response_mask"];
    }
    Ok(b)
}

/// Gemma3's twin `gemma3_text` always normalises q and k per head; keras-hub's
/// `use_query_key_norm=False` leaves both norms out.
pub fn twin_edit(a: &Args) -> Result<super::TwinEdit> {
    let qk_norm = a.flag_or("use_query_key_norm", true)?;
    Ok(Box::new(move |arch: &mut TransformerArch| {
        if !qk_norm {
            arch.details.qk_norm = None;
        }
    }))
}
