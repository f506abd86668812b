//! keras-hub's ESMBackbone (ESM-2 protein language models): a token `Embedding`, learned
//! positions when `position_embedding_type` is "absolute" (rotary otherwise), an
//! embedding LayerNorm when `use_pre_layer_norm`, N pre-norm `ESMEncoder` of multi-head
//! attention (`Dense` q/k/v/o, biased when `use_bias`) and a two-layer feedforward, each
//! after its LayerNorm, and a final `output_layer_norm`. ESMMaskedPLM's `MaskedLMHead`
//! has its own output kernel (the embedding is not reused); ESMProteinClassifier is the
//! roberta-style classifier on the first token.
//!
//! The transformers twin is esm (`EsmModel`, `EsmForMaskedLM` with its head untied and
//! `token_dropout` off, as keras-hub has neither), where the activation is GELU:
//! transformers builds nothing else. `use_bias=False`, which transformers' esm cannot
//! build, drops the encoder's biases from the twin ([`twin_edit`]). Its memory differs from keras-hub's
//! layers by what transformers adds: the bare model's pooler and the contact head's
//! `regression` (`layers × heads + 1` parameters, never run) are in its params; keras-hub
//! drops out before each norm where transformers drops out after each branch.
use serde_json::json;

use super::blocks::{dense, embedding, layer_norm, seq_shape, Args, Row};
use super::{Backbone, Classifier, TwinEdit};
use crate::arch::TransformerArch;
use crate::error::{Error, Result};
use crate::weight::{dim, Weight};

pub fn backbone(a: &Args) -> Result<Backbone> {
    let vocab = a.dim("vocabulary_size")?;
    let layers = a.dim("num_layers")?;
    let heads = a.dim("num_heads")?;
    let hidden = a.dim("hidden_dim")?;
    let inter = a.dim("intermediate_dim")?;
    a.per_head(("hidden_dim", hidden), ("num_heads", heads))?;
    let bias = a.flag_or("use_bias", true)?;
    let absolute = match a.config.get("position_embedding_type").and_then(|v| v.as_str()) {
        None | Some("rotary") => false,
        Some("absolute") => true,
        Some(other) => {
            return Err(Error::invalid(
                a.location,
                format!("ESMBackbone config key 'position_embedding_type' must be \"rotary\" or \"absolute\", got \"{other}\""),
            ))
        }
    };
    let pre_norm = a.flag_or("use_pre_layer_norm", false)?;
    let max_seq = a.dim_or("max_sequence_length", 1024)?;
    let activation = a.config.get("activation").and_then(|v| v.as_str());
    let dropout = a.float_or("dropout", 0.1)?;
    let twin = matches!(activation, None | Some("gelu")).then(|| {
        json!({
            "model_type": "esm", "vocab_size": vocab, "hidden_size": hidden,
            "num_hidden_layers": layers, "num_attention_heads": heads,
            "intermediate_size": inter, "max_position_embeddings": max_seq,
            "position_embedding_type": if absolute { "absolute" } else { "rotary" },
            "emb_layer_norm_before": pre_norm, "token_dropout": false,
            "tie_word_embeddings": false,
            "pad_token_id": a.config.get("pad_token_id").cloned().unwrap_or(json!(0)),
            "hidden_dropout_prob": dropout, "attention_probs_dropout_prob": dropout,
        })
    });
    let h = Some(hidden);
    let norm_row = |name: &str| {
        let mut w = Vec::new();
        layer_norm(&mut w, "", hidden);
        Row::new(name, "LayerNormalization", seq_shape(h), w)
    };
    let mut token = Vec::new();
    embedding(&mut token, "", vocab, hidden);
    let mut rows = vec![
        Row::input("token_ids"),
        Row::new("token_embedding", "Embedding", seq_shape(h), token),
    ];
    if absolute {
        let mut position = Vec::new();
        embedding(&mut position, "", max_seq, hidden);
        rows.push(Row::new(
            "position_embedding",
            "PositionEmbedding",
            seq_shape(h),
            position,
        ));
        rows.push(Row::plain("embeddings_add", "Add", hidden));
    }
    if pre_norm {
        rows.push(norm_row("emb_layer_norm"));
    }
    let mut block = Vec::new();
    for proj in [
        "q_dense_layer",
        "k_dense_layer",
        "v_dense_layer",
        "o_dense_layer",
    ] {
        dense(
            &mut block,
            &format!("attention_layer/{proj}"),
            hidden,
            hidden,
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
    layer_norm(&mut block, "attention_norm", hidden);
    layer_norm(&mut block, "ffn_norm", hidden);
    rows.extend((0..layers).map(|i| {
        Row::new(
            format!("transformer_layer_{i}"),
            "ESMEncoder",
            seq_shape(h),
            block.clone(),
        )
    }));
    rows.push(norm_row("output_layer_norm"));
    Ok(Backbone {
        hf_config: twin,
        rows,
        hidden,
        vocab,
        embed_dim: hidden,
        // the masked-LM head does not reuse the embedding (see `masked_lm_head`)
        token_weights: Vec::new(),
        inputs: &["token_ids"],
        pooled: false,
        classifier: Classifier::DenseOnFirstToken {
            before: Some("pooled_dropout"),
            after: "output_dropout",
        },
        lm_row_shows_vocab: false,
    })
}

/// ESMMaskedPLM's `MaskedLMHead`: a dense transform, its LayerNorm, and an output kernel
/// and bias of its own.
pub fn masked_lm_head(b: &Backbone) -> Row {
    let (h, v) = (b.hidden, b.vocab);
    let mut w = Vec::new();
    dense(&mut w, "intermediate_dense", h, h, true);
    layer_norm(&mut w, "intermediate_layer_norm", h);
    w.push(Weight::new(
        "output_kernel",
        vec![dim(h, "features"), dim(v, "vocab")],
    ));
    w.push(Weight::new("output_bias", vec![dim(v, "vocab")]));
    Row::new("mlm_head", "MaskedLMHead", seq_shape(Some(v)), w)
}

/// keras-hub's `use_bias=False`: the encoder's q/k/v, output and feedforward `Dense`
/// layers without biases (the masked-LM head keeps its own).
pub fn twin_edit(a: &Args) -> Result<TwinEdit> {
    let bias = a.flag_or("use_bias", true)?;
    Ok(Box::new(move |arch: &mut TransformerArch| {
        arch.qkv_bias = bias;
        arch.o_bias = bias;
        arch.mlp_bias = bias;
    }))
}
