//! keras-hub's BertBackbone, RobertaBackbone (and XLMRobertaBackbone, its subclass with
//! another vocabulary) and DistilBertBackbone: token and learned
//! position embeddings (bert: separate layers plus a segment embedding and a pooler;
//! roberta, distilbert: one `TokenAndPositionEmbedding`), an embedding LayerNorm, and N
//! post-norm `TransformerEncoder` layers. Their TextClassifier and MaskedLM tasks are
//! the layers of `Task::rows`.
//!
//! The transformers twins are bert, roberta and distilbert (roberta's position table
//! there holds 2 more rows, and it has a one-row token-type table keras-hub leaves out:
//! rows and totals here are keras-hub's).
use serde_json::json;

use super::blocks::{dense, embedding, layer_norm, seq_shape, transformer_block, Args, Heads, Row};
use super::{Backbone, Classifier};
use crate::error::Result;
use crate::weight::Weight;

/// The inputs and embeddings of bert, albert, electra and fnet: token, position and
/// segment tables `width` wide, summed; and the token table's weights.
pub fn segment_embeddings(
    vocab: u64,
    width: u64,
    max_seq: u64,
    segments: u64,
) -> (Vec<Row>, Vec<Weight>) {
    let w = Some(width);
    let (mut token, mut position, mut segment) = (Vec::new(), Vec::new(), Vec::new());
    embedding(&mut token, "", vocab, width);
    embedding(&mut position, "", max_seq, width);
    embedding(&mut segment, "", segments, width);
    let token_row = Row::new(
        "token_embedding",
        "ReversibleEmbedding",
        seq_shape(w),
        token,
    );
    let token_weights = token_row.weights.clone();
    let rows = vec![
        Row::input("token_ids"),
        token_row,
        Row::input("segment_ids"),
        Row::new(
            "position_embedding",
            "PositionEmbedding",
            seq_shape(w),
            position,
        ),
        Row::new("segment_embedding", "Embedding", seq_shape(w), segment),
        Row::plain("embeddings_add", "Add", width),
    ];
    (rows, token_weights)
}

/// The pooler: a `hidden → hidden` Dense on the first token.
pub fn pooled_dense(hidden: u64) -> Row {
    let mut w = Vec::new();
    dense(&mut w, "", hidden, hidden, true);
    Row::new("pooled_dense", "Dense", vec![None, Some(hidden)], w)
}

pub fn backbone(a: &Args) -> Result<Backbone> {
    let vocab = a.dim("vocabulary_size")?;
    let layers = a.dim("num_layers")?;
    let hidden = a.dim("hidden_dim")?;
    let heads = a.dim("num_heads")?;
    let inter = a.dim("intermediate_dim")?;
    let head_dim = a.per_head(("hidden_dim", hidden), ("num_heads", heads))?;
    let max_seq = a.dim_or("max_sequence_length", 512)?;
    let dropout = a.float_or("dropout", 0.1)?;
    let h = Some(hidden);

    let (rows, token_weights, hf, inputs, classifier) = match a.class_name {
        "BertBackbone" => {
            let segments = a.dim_or("num_segments", 2)?;
            let (rows, token_weights) = segment_embeddings(vocab, hidden, max_seq, segments);
            let hf = json!({
                "model_type": "bert", "type_vocab_size": segments,
                "hidden_dropout_prob": dropout, "attention_probs_dropout_prob": dropout,
            });
            let inputs: &[&str] = &["token_ids", "segment_ids", "padding_mask"];
            let classifier = Classifier::OnPooled {
                dropout: "classifier_dropout",
            };
            (rows, token_weights, hf, inputs, classifier)
        }
        class => {
            let (row_name, model_type, before) = match class {
                "RobertaBackbone" | "XLMRobertaBackbone" => {
                    ("embeddings", "roberta", Some("pooled_dropout"))
                }
                _ => ("token_and_position_embedding", "distilbert", None),
            };
            let mut emb = Vec::new();
            embedding(&mut emb, "token_embedding", vocab, hidden);
            embedding(&mut emb, "position_embedding", max_seq, hidden);
            let emb_row = Row::new(row_name, "TokenAndPositionEmbedding", seq_shape(h), emb);
            let token_weights = emb_row.weights[..1].to_vec();
            let hf = match model_type {
                "roberta" => json!({
                    "model_type": "roberta", "type_vocab_size": 1,
                    "hidden_dropout_prob": dropout, "attention_probs_dropout_prob": dropout,
                }),
                _ => json!({
                    "model_type": "distilbert", "dropout": dropout, "attention_dropout": dropout,
                }),
            };
            let inputs: &[&str] = &["token_ids", "padding_mask"];
            let classifier = Classifier::DenseOnFirstToken {
                before,
                after: "output_dropout",
            };
            (
                vec![Row::input("token_ids"), emb_row],
                token_weights,
                hf,
                inputs,
                classifier,
            )
        }
    };
    let mut rows = rows;
    let mut norm = Vec::new();
    layer_norm(&mut norm, "", hidden);
    rows.push(Row::new(
        "embeddings_layer_norm",
        "LayerNormalization",
        seq_shape(h),
        norm,
    ));
    rows.push(Row::plain("embeddings_dropout", "Dropout", hidden));
    rows.push(Row::input("padding_mask"));
    let block = transformer_block(
        "self_attention_layer",
        "self_attention_layer_norm",
        Heads {
            hidden,
            q: heads,
            kv: heads,
            head_dim,
        },
        inter,
    );
    rows.extend((0..layers).map(|i| {
        Row::new(
            format!("transformer_layer_{i}"),
            "TransformerEncoder",
            seq_shape(h),
            block.clone(),
        )
    }));
    let pooled = matches!(classifier, Classifier::OnPooled { .. });
    if pooled {
        rows.push(pooled_dense(hidden));
    }

    let mut hf = hf;
    let sizes = if hf["model_type"] == "distilbert" {
        json!({"dim": hidden, "n_layers": layers, "n_heads": heads, "hidden_dim": inter})
    } else {
        json!({"hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
               "intermediate_size": inter})
    };
    for (k, v) in sizes.as_object().into_iter().flatten() {
        hf[k] = v.clone();
    }
    hf["vocab_size"] = vocab.into();
    hf["max_position_embeddings"] = max_seq.into();
    Ok(Backbone {
        hf_config: Some(hf),
        rows,
        hidden,
        vocab,
        embed_dim: hidden,
        token_weights,
        inputs,
        pooled,
        classifier,
        lm_row_shows_vocab: false,
    })
}
