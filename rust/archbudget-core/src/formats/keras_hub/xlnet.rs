//! keras-hub's XLNetBackbone: a word embedding (`ContentAndQueryEmbedding`), a learned
//! mask embedding (`XLNetAttentionMaskLayer`), and N `XLNetEncoder` of two-stream
//! relative attention (q/k/v/output and positional `encoding` kernels `[hidden, heads,
//! head_dim]`, content / positional / segment biases per head and a two-row segment
//! encoding) and a two-layer feedforward, each with a LayerNorm. keras-hub has no XLNet
//! task model.
//!
//! `memory` lowers the keras-hub layers themselves ([`lowered`], run by
//! `memory/hf_xlnet.rs`), not transformers' `xlnet`, although its `XLNetModel` holds the
//! same weights: keras-hub always runs the segment term (transformers only with
//! `token_type_ids`, which the protocol's input-ids-only step leaves out), masks the
//! scores with `padding_mask` (transformers makes no mask without one), computes the
//! segment term by a `where` over the segment matrix (transformers: an einsum with its
//! one-hot float copy), and has no `mems` cache.
use super::blocks::{dense, embedding, layer_norm, seq_shape, Args, Row};
use super::{Backbone, Classifier};
use crate::arch::TransformerArch;
use crate::error::Result;
use crate::memory::hf::Dropouts;
use crate::weight::{dim, Weight};

/// The `model_type` of the arch [`lowered`] makes (a keras-hub family, never a
/// transformers config's).
pub const MODEL_TYPE: &str = "keras_hub_xlnet";

/// What `memory` runs: the backbone as a [`TransformerArch`] (`activation` keras's name,
/// checked by the lowering; two segment encodings), and `dropout` after the embeddings
/// and positions, on each branch's output, inside the feed-forward and at the end (the
/// attention probabilities get none: keras-hub builds its attention without).
pub fn lowered(a: &Args) -> Result<(TransformerArch, Dropouts)> {
    let hidden = a.dim("hidden_dim")?;
    let heads = a.dim("num_heads")?;
    // a custom activation serializes as an object: the lowering names it in its refusal
    let activation = match a.config.get("activation") {
        None | Some(serde_json::Value::Null) => "gelu".to_string(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let dropout = a.float_or("dropout", 0.0)?;
    let vocab = a.dim("vocabulary_size")?;
    let layers = a.dim("num_layers")?;
    let head_dim = a.per_head(("hidden_dim", hidden), ("num_heads", heads))?;
    let inter = a.dim("intermediate_dim")?;
    // relative positions, recomputed per call: no table, no longest sequence
    let arch = TransformerArch {
        vocab_size: vocab,
        head_dim,
        activation,
        final_norm: false,
        pre_norm: false,
        qkv_bias: false,
        o_bias: false,
        type_vocab_size: 2,
        ..TransformerArch::encoder(MODEL_TYPE, hidden, layers, heads, inter)
    };
    let dropouts = Dropouts {
        embed: dropout,
        attn: 0.0,
        resid: dropout,
        activation: dropout,
    };
    Ok((arch, dropouts))
}

pub fn backbone(a: &Args) -> Result<Backbone> {
    let vocab = a.dim("vocabulary_size")?;
    let layers = a.dim("num_layers")?;
    let heads = a.dim("num_heads")?;
    let hidden = a.dim("hidden_dim")?;
    let inter = a.dim("intermediate_dim")?;
    let head_dim = a.per_head(("hidden_dim", hidden), ("num_heads", heads))?;
    let per_head = || vec![dim(heads, "heads"), dim(head_dim, "head_dim")];

    let mut word = Vec::new();
    embedding(&mut word, "word_embedding", vocab, hidden);
    let mask = vec![Weight::new(
        "mask_emb",
        vec![dim(1, ""), dim(1, ""), dim(hidden, "features")],
    )];
    let mut rows = vec![
        Row::input("padding_mask"),
        Row::input("token_ids"),
        Row::input("segment_ids"),
        Row {
            output_shape: None,
            ..Row::new(
                "encoder_block_attn_mask_layer",
                "XLNetAttentionMaskLayer",
                Vec::new(),
                mask,
            )
        },
        Row {
            output_shape: None,
            ..Row::new(
                "content_query_embedding",
                "ContentAndQueryEmbedding",
                Vec::new(),
                word,
            )
        },
        Row::new(
            "encoder_block_seg_mat_layer",
            "XLNetSegmentMatrixLayer",
            seq_shape(None),
            Vec::new(),
        ),
    ];
    let mut block = Vec::new();
    for proj in ["query", "key", "value", "encoding"] {
        block.push(Weight::new(
            format!("rel_attn/{proj}/kernel"),
            vec![
                dim(hidden, "inputs"),
                dim(heads, "heads"),
                dim(head_dim, "head_dim"),
            ],
        ));
    }
    block.push(Weight::new(
        "rel_attn/attention_output/kernel",
        vec![
            dim(heads, "heads"),
            dim(head_dim, "head_dim"),
            dim(hidden, "units"),
        ],
    ));
    for bias in [
        "content_attention_bias",
        "positional_attention_bias",
        "segment_attention_bias",
    ] {
        block.push(Weight::new(bias, per_head()));
    }
    let mut segment = per_head();
    segment.insert(0, dim(2, "segments"));
    block.push(Weight::new("segment_encoding", segment));
    layer_norm(&mut block, "layer_norm_rel_attn", hidden);
    dense(
        &mut block,
        "feedforward_intermediate_dense",
        hidden,
        inter,
        true,
    );
    dense(&mut block, "feedforward_output_dense", inter, hidden, true);
    layer_norm(&mut block, "layer_norm_ff", hidden);
    rows.extend((0..layers).map(|i| Row {
        output_shape: None,
        ..Row::new(
            format!("xlnet_encoder_{i}"),
            "XLNetEncoder",
            Vec::new(),
            block.clone(),
        )
    }));
    rows.push(Row::plain("dropout", "Dropout", hidden));
    Ok(Backbone {
        hf_config: None,
        rows,
        hidden,
        vocab,
        embed_dim: hidden,
        token_weights: Vec::new(),
        inputs: &["token_ids", "padding_mask", "segment_ids"],
        pooled: false,
        classifier: Classifier::None,
        lm_row_shows_vocab: false,
    })
}
