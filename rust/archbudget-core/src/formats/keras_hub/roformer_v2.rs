//! keras-hub's RoformerV2Backbone (RoFormer-V2, Su et al.): a tied token embedding plus
//! a segment `Embedding`, summed, a scale-only `RoformerNorm`, and N post-norm
//! `RoformerV2Encoder` of rotary multi-head attention (`Dense` q/k/v/o of `num_heads ×
//! head_size`) and a two-layer feedforward, biased only when `use_bias`, each followed
//! by a `RoformerNorm`. RoformerV2MaskedLM's head is the token embedding alone;
//! RoformerV2TextClassifier is the roberta-style classifier on the first token.
//!
//! No transformers twin: transformers' `roformer` is RoFormer v1, which shares only
//! bert's post-norm layout and the rotary q/k with it. Where v1 differs: LayerNorms with
//! bias (v2: `RoformerNorm`, an RMS norm with one scale), always-biased projections
//! (v2: `use_bias`, off by default), heads of `hidden / heads` (v2: `head_size`, free),
//! dropout on the attention probabilities (v2: none, `ops.dot_product_attention`), a
//! frozen sinusoidal table held as a parameter (v2: computed per call), and a
//! `dense + LayerNorm + biased decoder` masked-LM head (v2: the tied projection alone).
//! So `memory` lowers the keras-hub layers themselves ([`lowered`], run by
//! `memory/hf_roformer_v2.rs` through the shared ops), not a twin's.
use super::blocks::{dense, embedding, rms_norm, seq_shape, Args, Row};
use super::{Backbone, Classifier};
use crate::arch::{HeadKind, NormKind, Position, TransformerArch};
use crate::error::Result;
use crate::formats::hf::Head;
use crate::memory::hf::Dropouts;

/// The `model_type` of the arch [`lowered`] makes (a keras-hub family: transformers has
/// no such type, and the transformers reader never makes it).
pub const MODEL_TYPE: &str = "keras_hub_roformer_v2";

/// What `memory` runs: the backbone's layers as a [`TransformerArch`] (`head_dim` is
/// `head_size`; `activation` keras's name; both checked by the lowering, so that
/// `summary` reads what keras-hub builds), the masked LM's
/// head as `HeadKind::MaskedLm`, and `dropout` where keras-hub applies it (after the
/// embeddings and on each residual branch; never on the attention probabilities).
pub fn lowered(a: &Args, head: Head) -> Result<(TransformerArch, Dropouts)> {
    let hidden = a.dim("hidden_dim")?;
    let heads = a.dim("num_heads")?;
    let bias = a.flag_or("use_bias", false)?;
    // a custom activation serializes as an object: the lowering names it in its refusal
    let activation = match a.config.get("activation") {
        None | Some(serde_json::Value::Null) => "relu".to_string(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let dropout = a.float_or("dropout", 0.1)?;
    let vocab = a.dim("vocabulary_size")?;
    let layers = a.dim("num_layers")?;
    let head_dim = a.dim("head_size")?;
    let inter = a.dim("intermediate_dim")?;
    let arch = TransformerArch {
        head: match head {
            Head::Base => HeadKind::Base,
            Head::CausalLm => HeadKind::MaskedLm,
        },
        vocab_size: vocab,
        head_dim,
        activation,
        norm: NormKind::RmsNorm,
        final_norm: false,
        pre_norm: false,
        qkv_bias: bias,
        o_bias: bias,
        mlp_bias: bias,
        // rotary angles computed per call: no longest sequence
        position: Position::Rotary,
        type_vocab_size: a.dim_or("num_segments", 2)?,
        tie_word_embeddings: true,
        ..TransformerArch::encoder(MODEL_TYPE, hidden, layers, heads, inter)
    };
    let dropouts = Dropouts {
        embed: dropout,
        attn: 0.0,
        resid: dropout,
        activation: 0.0,
    };
    Ok((arch, dropouts))
}

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
        // `out_dim` defaults to `heads × head_size` (the residual add needs it equal to
        // `hidden_dim` at call time; a build does not check)
        ("o_dense_layer", width, width),
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
