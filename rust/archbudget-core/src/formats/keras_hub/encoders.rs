//! keras-hub's AlbertBackbone (a factorised embedding projected to the hidden width,
//! `num_groups` × `num_inner_repetitions` encoder layers each reused across the depth),
//! ElectraBackbone (bert with an embedding projection), DebertaV3Backbone (a
//! relative-position table and disentangled-attention encoders) and FNetBackbone
//! (Fourier mixing instead of attention: only norms and a feedforward per layer), and
//! their TextClassifier / MaskedLM tasks.
//!
//! Their transformers twins are albert, electra, deberta-v2 (`share_att_key`, c2p and
//! p2c, `position_buckets` = `bucket_size`, no absolute positions) and fnet, with
//! keras-hub's tanh-approximate GELU as `gelu_new`. Where they differ, `memory` (the
//! twin's) is approximate: ElectraBackbone's `pooled_dense` (transformers' ElectraModel
//! has no pooler) and the backbone pooler a MaskedLM carries unused are not in its
//! params; keras-hub's `TransformerEncoder` drops out after ALBERT's feed-forward where
//! transformers does not (no difference at keras-hub's default dropout, 0).
use serde_json::json;

use super::bert::{pooled_dense, segment_embeddings};
use super::blocks::{
    attention, dense, embedding, layer_norm, seq_shape, transformer_block, Args, Heads, Row,
};
use super::{Backbone, Classifier};
use crate::error::Result;
use crate::weight::{dim, Weight};

fn encoder_heads(a: &Args, hidden: u64) -> Result<Heads> {
    let heads = a.dim("num_heads")?;
    Ok(Heads {
        hidden,
        q: heads,
        kv: heads,
        head_dim: a.per_head(("hidden_dim", hidden), ("num_heads", heads))?,
    })
}

fn norm_row(name: &str, width: u64) -> Row {
    let mut w = Vec::new();
    layer_norm(&mut w, "", width);
    Row::new(name, "LayerNormalization", seq_shape(Some(width)), w)
}

fn dense_on_sequence(name: &str, d_in: u64, d_out: u64) -> Row {
    let mut w = Vec::new();
    dense(&mut w, "", d_in, d_out, true);
    Row::new(name, "Dense", seq_shape(Some(d_out)), w)
}

pub fn albert_electra(a: &Args) -> Result<Backbone> {
    let albert = a.class_name == "AlbertBackbone";
    let vocab = a.dim(if albert {
        "vocabulary_size"
    } else {
        "vocab_size"
    })?;
    let hidden = a.dim("hidden_dim")?;
    let embed = a.dim("embedding_dim")?;
    let inter = a.dim("intermediate_dim")?;
    let layers = a.dim("num_layers")?;
    let heads = encoder_heads(a, hidden)?;
    let max_seq = a.dim_or("max_sequence_length", 512)?;
    let segments = a.dim_or("num_segments", 2)?;
    let (mut rows, token_weights) = segment_embeddings(vocab, embed, max_seq, segments);
    rows.push(norm_row("embeddings_layer_norm", embed));
    rows.push(Row::plain("embeddings_dropout", "Dropout", embed));
    // electra projects only when the widths differ
    if albert {
        rows.push(dense_on_sequence("embedding_projection", embed, hidden));
    } else if embed != hidden {
        rows.push(dense_on_sequence("embeddings_projection", embed, hidden));
    }
    rows.push(Row::input("padding_mask"));
    let block = transformer_block(
        "self_attention_layer",
        "self_attention_layer_norm",
        heads,
        inter,
    );
    let dropout = a.float_or("dropout", if albert { 0.0 } else { 0.1 })?;
    let mut hf = json!({
        "model_type": if albert { "albert" } else { "electra" },
        "vocab_size": vocab, "embedding_size": embed, "hidden_size": hidden,
        "num_hidden_layers": layers, "num_attention_heads": heads.q, "intermediate_size": inter,
        "max_position_embeddings": max_seq, "type_vocab_size": segments, "hidden_act": "gelu_new",
        "hidden_dropout_prob": dropout, "attention_probs_dropout_prob": dropout,
    });
    let names: Vec<String> = if albert {
        // one layer per (group, inner repetition), each called layers / groups times
        let groups = a.dim_or("num_groups", 1)?;
        let inner = a.dim_or("num_inner_repetitions", 1)?;
        hf["num_hidden_groups"] = groups.into();
        hf["inner_group_num"] = inner.into();
        (0..groups)
            .flat_map(|g| (0..inner).map(move |j| format!("group_{g}_inner_layer_{j}")))
            .collect()
    } else {
        (0..layers)
            .map(|i| format!("transformer_layer_{i}"))
            .collect()
    };
    rows.extend(names.into_iter().map(|n| {
        Row::new(
            n,
            "TransformerEncoder",
            seq_shape(Some(hidden)),
            block.clone(),
        )
    }));
    rows.push(pooled_dense(hidden));
    Ok(Backbone {
        hf_config: Some(hf),
        rows,
        hidden,
        vocab,
        embed_dim: embed,
        token_weights,
        inputs: &["token_ids", "segment_ids", "padding_mask"],
        pooled: true,
        classifier: match albert {
            true => Classifier::OnPooled {
                dropout: "output_dropout",
            },
            false => Classifier::None,
        },
        lm_row_shows_vocab: false,
    })
}

pub fn deberta_v3(a: &Args) -> Result<Backbone> {
    let vocab = a.dim("vocabulary_size")?;
    let hidden = a.dim("hidden_dim")?;
    let inter = a.dim("intermediate_dim")?;
    let layers = a.dim("num_layers")?;
    let heads = encoder_heads(a, hidden)?;
    let buckets = a.dim_or("bucket_size", 256)?;
    let dropout = a.float_or("dropout", 0.1)?;
    let hf = json!({
        "model_type": "deberta-v2", "vocab_size": vocab, "hidden_size": hidden,
        "num_hidden_layers": layers, "num_attention_heads": heads.q, "intermediate_size": inter,
        "max_position_embeddings": a.dim_or("max_sequence_length", 512)?,
        "relative_attention": true, "position_buckets": buckets, "norm_rel_ebd": "layer_norm",
        "share_att_key": true, "pos_att_type": "p2c|c2p", "position_biased_input": false,
        "type_vocab_size": 0, "hidden_act": "gelu",
        "hidden_dropout_prob": dropout, "attention_probs_dropout_prob": dropout,
    });
    let mut token = Vec::new();
    embedding(&mut token, "", vocab, hidden);
    let token_row = Row::new(
        "token_embedding",
        "ReversibleEmbedding",
        seq_shape(Some(hidden)),
        token,
    );
    let token_weights = token_row.weights.clone();
    let mut rel = vec![Weight::new(
        "rel_embedding",
        vec![dim(2 * buckets, "2 × bucket_size"), dim(hidden, "features")],
    )];
    layer_norm(&mut rel, "rel_embeddings_layer_norm", hidden);
    let mut rows = vec![
        Row::input("token_ids"),
        token_row,
        norm_row("embeddings_layer_norm", hidden),
        Row::plain("embeddings_dropout", "Dropout", hidden),
        Row::input("padding_mask"),
        Row::new(
            "rel_embedding",
            "RelativeEmbedding",
            vec![None, Some(2 * buckets), Some(hidden)],
            rel,
        ),
    ];
    // disentangled attention: q/k/v as MultiHeadAttention, the output a 2-D Dense
    let mut block = Vec::new();
    attention(&mut block, "self_attention_layer", heads, true, false);
    block.retain(|w| !w.name.ends_with("attention_output/kernel"));
    dense(
        &mut block,
        "self_attention_layer/attention_output",
        hidden,
        hidden,
        true,
    );
    layer_norm(&mut block, "self_attention_layer_norm", hidden);
    layer_norm(&mut block, "feedforward_layer_norm", hidden);
    dense(
        &mut block,
        "feedforward_intermediate_dense",
        hidden,
        inter,
        true,
    );
    dense(&mut block, "feedforward_output_dense", inter, hidden, true);
    rows.extend((0..layers).map(|i| {
        Row::new(
            format!("disentangled_attention_encoder_layer_{i}"),
            "DisentangledAttentionEncoder",
            seq_shape(Some(hidden)),
            block.clone(),
        )
    }));
    Ok(Backbone {
        hf_config: Some(hf),
        rows,
        hidden,
        vocab,
        embed_dim: hidden,
        token_weights,
        inputs: &["token_ids", "padding_mask"],
        pooled: false,
        classifier: Classifier::DenseOnFirstToken {
            before: Some("pooled_dropout"),
            after: "classifier_dropout",
        },
        lm_row_shows_vocab: false,
    })
}

pub fn f_net(a: &Args) -> Result<Backbone> {
    let vocab = a.dim("vocabulary_size")?;
    let hidden = a.dim("hidden_dim")?;
    let inter = a.dim("intermediate_dim")?;
    let layers = a.dim("num_layers")?;
    let max_seq = a.dim_or("max_sequence_length", 512)?;
    let segments = a.dim_or("num_segments", 4)?;
    let (mut rows, token_weights) = segment_embeddings(vocab, hidden, max_seq, segments);
    let dropout = a.float_or("dropout", 0.1)?;
    let hf = json!({
        "model_type": "fnet", "vocab_size": vocab, "hidden_size": hidden,
        "num_hidden_layers": layers, "intermediate_size": inter,
        "max_position_embeddings": max_seq, "type_vocab_size": segments,
        "hidden_act": "gelu_new", "hidden_dropout_prob": dropout,
    });
    rows.push(norm_row("embeddings_layer_norm", hidden));
    rows.push(dense_on_sequence("embedding_projection", hidden, hidden));
    rows.push(Row::plain("embeddings_dropout", "Dropout", hidden));
    let mut block = Vec::new();
    layer_norm(&mut block, "mixing_layer_norm", hidden);
    layer_norm(&mut block, "output_layer_norm", hidden);
    dense(&mut block, "intermediate_dense", hidden, inter, true);
    dense(&mut block, "output_dense", inter, hidden, true);
    rows.extend((0..layers).map(|i| {
        Row::new(
            format!("f_net_layer_{i}"),
            "FNetEncoder",
            seq_shape(Some(hidden)),
            block.clone(),
        )
    }));
    rows.push(pooled_dense(hidden));
    Ok(Backbone {
        hf_config: Some(hf),
        rows,
        hidden,
        vocab,
        embed_dim: hidden,
        token_weights,
        inputs: &["token_ids", "segment_ids"],
        pooled: true,
        classifier: Classifier::OnPooled {
            dropout: "output_dropout",
        },
        lm_row_shows_vocab: false,
    })
}
