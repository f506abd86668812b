//! keras-hub's WhisperBackbone: transformers' whisper (`WhisperModel`, its twin for
//! `memory`) with `num_layers` blocks in each stack, the same weights and the same
//! frozen encoder positions (`max_encoder_sequence_length // 2` of them).
//!
//! Weights: two `Conv1D` (kernel 3, `num_mels → hidden`, then `hidden → hidden` with
//! stride 2) on the log-mel features, a frozen `PositionEmbedding`
//! `[max_encoder_sequence_length // 2, hidden]` (Keras: `trainable=False`), pre-norm
//! `WhisperEncoder` blocks and a final LayerNorm; the decoder's
//! `TokenAndPositionEmbedding` (`[vocab, hidden]` and `[max_decoder_sequence_length,
//! hidden]`), pre-norm `WhisperDecoder` blocks with cross-attention, a final LayerNorm.
//! Attention is `MultiHeadAttention`-shaped with no bias on the key projection.
//! keras-hub 0.32 has no Whisper task model.
use serde_json::json;

use super::blocks::{attention, dense, embedding, kernel, layer_norm, seq_shape, Args, Heads, Row};
use super::call_order::{self, CallGraph};
use super::{Backbone, Classifier};
use crate::error::Result;
use crate::weight::{dim, Weight};

const INPUTS: &[&str] = &[
    "encoder_features",
    "decoder_token_ids",
    "decoder_padding_mask",
];

pub fn backbone(a: &Args) -> Result<Backbone> {
    let vocab = a.dim("vocabulary_size")?;
    let layers = a.dim("num_layers")?;
    let heads = a.dim("num_heads")?;
    let hidden = a.dim("hidden_dim")?;
    let inter = a.dim("intermediate_dim")?;
    let mels = a.dim_or("num_mels", 80)?;
    let encoder_positions = a.dim_or("max_encoder_sequence_length", 3000)? / 2;
    let decoder_positions = a.dim_or("max_decoder_sequence_length", 448)?;
    let dropout = a.float_or("dropout", 0.0)?;
    let h = Heads {
        hidden,
        q: heads,
        kv: heads,
        head_dim: a.per_head(("hidden_dim", hidden), ("num_heads", heads))?,
    };
    let seq = || seq_shape(Some(hidden));
    let conv = |d_in: u64| {
        let mut w = vec![kernel(
            "",
            &[(3, "kernel"), (d_in, "channels"), (hidden, "filters")],
        )];
        w.push(Weight::new("bias", vec![dim(hidden, "filters")]));
        w
    };
    let mut position = Vec::new();
    embedding(&mut position, "", encoder_positions, hidden);
    let mut token_and_position = Vec::new();
    embedding(&mut token_and_position, "token_embedding", vocab, hidden);
    embedding(
        &mut token_and_position,
        "position_embedding",
        decoder_positions,
        hidden,
    );
    let token_weights = vec![Weight::new(
        "decoder_token_and_position_embedding/token_embedding/embeddings",
        vec![dim(vocab, "rows"), dim(hidden, "features")],
    )];
    let mut norm = Vec::new();
    layer_norm(&mut norm, "", hidden);
    let mut rows = vec![
        Row::new(
            "encoder_features",
            "InputLayer",
            vec![None, None, Some(mels)],
            Vec::new(),
        ),
        Row::new(
            "encoder_token_embedding_conv_layer_1",
            "Conv1D",
            seq(),
            conv(mels),
        ),
        Row::plain("encoder_padder", "Padder", hidden),
        Row::new(
            "encoder_token_embedding_conv_layer_2",
            "Conv1D",
            seq(),
            conv(hidden),
        ),
        Row::new(
            "encoder_position_embedding",
            "PositionEmbedding",
            seq(),
            position.into_iter().map(Weight::frozen).collect(),
        ),
        Row::plain("encoder_embeddings_add", "Add", hidden),
        Row::plain("encoder_embeddings_dropout", "Dropout", hidden),
        Row::new(
            "encoder_layer_norm",
            "LayerNormalization",
            seq(),
            norm.clone(),
        ),
        Row::new(
            "decoder_token_and_position_embedding",
            "TokenAndPositionEmbedding",
            seq(),
            token_and_position,
        ),
        Row::plain("decoder_embeddings_dropout", "Dropout", hidden),
        Row::new("decoder_layer_norm", "LayerNormalization", seq(), norm),
        Row::input("decoder_token_ids"),
        Row::input("decoder_padding_mask"),
    ];
    for (stack, class, attention_name) in [
        ("encoder", "WhisperEncoder", "self_attention_layer"),
        ("decoder", "WhisperDecoder", "self_attention"),
    ] {
        let mut block = Vec::new();
        unbiased_key_attention(&mut block, attention_name, h);
        layer_norm(&mut block, "self_attention_layer_norm", hidden);
        if stack == "decoder" {
            unbiased_key_attention(&mut block, "cross_attention", h);
            layer_norm(&mut block, "cross_attention_layer_norm", hidden);
        }
        dense(
            &mut block,
            "feedforward_intermediate_dense",
            hidden,
            inter,
            true,
        );
        dense(&mut block, "feedforward_output_dense", inter, hidden, true);
        layer_norm(&mut block, "feedforward_layer_norm", hidden);
        rows.extend((0..layers).map(|i| {
            Row::new(
                format!("transformer_{stack}_layer_{i}"),
                class,
                seq(),
                block.clone(),
            )
        }));
    }
    let rows = call_order::ordered(rows, call_graph(layers));
    // keras-hub's blocks drop with `dropout` after the embeddings, each sub-layer and on
    // the attention probabilities, never inside the feedforward; its GELUs are exact
    let hf = json!({
        "model_type": "whisper", "vocab_size": vocab, "num_mel_bins": mels, "d_model": hidden,
        "encoder_layers": layers, "decoder_layers": layers,
        "encoder_attention_heads": heads, "decoder_attention_heads": heads,
        "encoder_ffn_dim": inter, "decoder_ffn_dim": inter,
        "max_source_positions": encoder_positions, "max_target_positions": decoder_positions,
        "activation_function": "gelu", "dropout": dropout, "attention_dropout": dropout,
        "activation_dropout": 0.0, "tie_word_embeddings": true,
    });
    Ok(Backbone {
        hf_config: Some(hf),
        rows,
        hidden,
        vocab,
        embed_dim: hidden,
        token_weights,
        inputs: INPUTS,
        // a dict of encoder and decoder outputs: no single shape
        pooled: true,
        classifier: Classifier::None,
        lm_row_shows_vocab: false,
    })
}

/// Biased q, v and output projections, the key's without bias (Whisper's `k_proj`).
fn unbiased_key_attention(w: &mut Vec<Weight>, name: &str, h: Heads) {
    attention(w, name, h, true, true);
    w.retain(|weight| weight.name != format!("{name}/key/bias"));
}

/// The calls `WhisperBackbone.__init__` makes (whisper_backbone.py), for the order of
/// its rows; `gelu` after each convolution is an op, not a layer.
fn call_graph(layers: u64) -> (CallGraph, Vec<usize>) {
    let mut g = CallGraph::default();
    let features = g.input("encoder_features");
    let ids = g.input("decoder_token_ids");
    let pad = g.input("decoder_padding_mask");
    let x = g.call("encoder_token_embedding_conv_layer_1", &[features]);
    let x = g.op("gelu_1", &[x]);
    let x = g.call("encoder_padder", &[x]);
    let x = g.call("encoder_token_embedding_conv_layer_2", &[x]);
    let x = g.op("gelu_2", &[x]);
    let positions = g.call("encoder_position_embedding", &[x]);
    let x = g.call("encoder_embeddings_add", &[x, positions]);
    let mut x = g.call("encoder_embeddings_dropout", &[x]);
    for i in 0..layers {
        x = g.call(&format!("transformer_encoder_layer_{i}"), &[x]);
    }
    let enc = g.call("encoder_layer_norm", &[x]);
    let y = g.call("decoder_token_and_position_embedding", &[ids]);
    let mut y = g.call("decoder_embeddings_dropout", &[y]);
    for i in 0..layers {
        // keyword tensors by name: decoder_padding_mask, decoder_sequence,
        // encoder_sequence
        y = g.call(&format!("transformer_decoder_layer_{i}"), &[pad, y, enc]);
    }
    let dec = g.call("decoder_layer_norm", &[y]);
    // outputs flatten by key: decoder_sequence_output, encoder_sequence_output
    (g, vec![dec, enc])
}
