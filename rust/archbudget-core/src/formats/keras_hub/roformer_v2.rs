//! keras-hub's RoformerV2Backbone (RoFormer-V2, Su et al.): a tied token embedding plus
//! a segment `Embedding`, summed, a scale-only `RoformerNorm`, and N post-norm
//! `RoformerV2Encoder` of rotary multi-head attention (`Dense` q/k/v/o of `num_heads ×
//! head_size`) and a two-layer feedforward, biased only when `use_bias`, each followed
//! by a `RoformerNorm`. RoformerV2MaskedLM's head is the token embedding alone;
//! RoformerV2TextClassifier is the roberta-style classifier on the first token.
//!
//! No memory twin: transformers' roformer is RoFormer v1 (biased projections,
//! LayerNorms, learned token types), another architecture; `summary` is exact.
use super::blocks::{dense, embedding, rms_norm, seq_shape, Args, Row};
use super::{Backbone, Classifier};
use crate::error::Result;

pub fn backbone(a: &Args) -> Result<Backbone> {
    let vocab = a.dim("vocabulary_size")?;
    let layers = a.dim("num_layers")?;
    let heads = a.dim("num_heads")?;
    let hidden = a.dim("hidden_dim")?;
    let inter = a.dim("intermediate_dim")?;
    let head_size = a.dim("head_size")?;
    let segments = a.dim_or("num_segments", 2)?;
    let bias = a.flag_or("use_bias", false)?;
    let h = Some(hidden);
    let width = heads * head_size;

    let mut token = Vec::new();
    embedding(&mut token, "", vocab, hidden);
    let token_row = Row::new(
        "token_embedding",
        "ReversibleEmbedding",
        seq_shape(h),
        token,
    );
    let token_weights = token_row.weights.clone();
    let mut segment = Vec::new();
    embedding(&mut segment, "", segments, hidden);
    // `RoformerNorm` holds one scale vector, as an RMS norm does
    let mut norm = Vec::new();
    rms_norm(&mut norm, "", hidden);
    let mut rows = vec![
        Row::input("token_ids"),
        Row::input("segment_ids"),
        token_row,
        Row::new("segment_embedding", "Embedding", seq_shape(h), segment),
        Row::plain("embeddings_add", "Add", hidden),
        Row::new("embeddings_layer_norm", "RoformerNorm", seq_shape(h), norm),
        Row::plain("embeddings_dropout", "Dropout", hidden),
    ];
    let mut block = Vec::new();
    for (proj, d_in, d_out) in [
        ("q_dense_layer", hidden, width),
        ("k_dense_layer", hidden, width),
        ("v_dense_layer", hidden, width),
        ("o_dense_layer", width, hidden),
    ] {
        dense(
            &mut block,
            &format!("attention_layer/{proj}"),
            d_in,
            d_out,
            bias,
        );
    }
    dense(
        &mut block,
        "feedforward_intermediate_dense",
        hidden,
        inter,
        bias,
    );
    dense(&mut block, "feedforward_output_dense", inter, hidden, bias);
    rms_norm(&mut block, "attention_norm", hidden);
    rms_norm(&mut block, "feedforward_norm", hidden);
    rows.extend((0..layers).map(|i| {
        Row::new(
            format!("transformer_layer_{i}"),
            "RoformerV2Encoder",
            seq_shape(h),
            block.clone(),
        )
    }));
    Ok(Backbone {
        hf_config: None,
        rows,
        hidden,
        vocab,
        embed_dim: hidden,
        token_weights,
        inputs: &["token_ids", "segment_ids"],
        pooled: false,
        classifier: Classifier::DenseOnFirstToken {
            before: Some("pooled_dropout"),
            after: "output_dropout",
        },
        lm_row_shows_vocab: false,
    })
}

/// RoformerV2MaskedLM's head: the token embedding's table projects onto the vocabulary.
pub fn masked_lm_head(b: &Backbone) -> Row {
    Row {
        name: "mlm_head".to_string(),
        class_name: "RoformerV2MaskedLMHead".to_string(),
        output_shape: Some(crate::summary::OutputShape::Single(seq_shape(Some(
            b.vocab,
        )))),
        weights: b.token_weights.clone(),
        nested: false,
    }
}
