//! keras-hub's BartBackbone: transformers' bart with `num_layers` blocks in each stack.
//!
//! Weights: a `ReversibleEmbedding` shared by both stacks and the Seq2SeqLM's head
//! (always tied), a `PositionEmbedding` `[max_sequence_length, hidden]` and a
//! LayerNorm after the embeddings' sum in each stack, post-norm `TransformerEncoder` /
//! `TransformerDecoder` blocks (biased attention, a cross-attention in the decoder,
//! a two-layer gelu feedforward, a LayerNorm after each sub-layer), no final norm.
//!
//! Differences from transformers, in the rows only: transformers' position tables have
//! 2 more rows (`BartLearnedPositionalEmbedding`'s offset), and its
//! `BartForConditionalGeneration` keeps a `final_logits_bias` buffer keras-hub has not.
use serde_json::json;

use super::blocks::{embedding, layer_norm, seq_shape, transformer_block, Args, Heads, Row};
use super::call_order::{self, CallGraph};
use super::{Backbone, Classifier};
use crate::error::Result;

const INPUTS: &[&str] = &[
    "encoder_token_ids",
    "encoder_padding_mask",
    "decoder_token_ids",
    "decoder_padding_mask",
];

pub fn backbone(a: &Args) -> Result<Backbone> {
    let vocab = a.dim("vocabulary_size")?;
    let layers = a.dim("num_layers")?;
    let heads = a.dim("num_heads")?;
    let hidden = a.dim("hidden_dim")?;
    let inter = a.dim("intermediate_dim")?;
    let max_seq = a.dim_or("max_sequence_length", 1024)?;
    let dropout = a.float_or("dropout", 0.1)?;
    let h = Heads {
        hidden,
        q: heads,
        kv: heads,
        head_dim: a.per_head(("hidden_dim", hidden), ("num_heads", heads))?,
    };
    let mut token = Vec::new();
    embedding(&mut token, "", vocab, hidden);
    let token_row = Row::new(
        "token_embedding",
        "ReversibleEmbedding",
        seq_shape(Some(hidden)),
        token,
    );
    let token_weights = token_row.weights.clone();
    let mut rows = vec![token_row];
    let encoder_block = transformer_block("self_attention", "self_attention_layer_norm", h, inter);
    // the decoder's cross-attention and its norm sit after the self-attention's
    let mut decoder_block = encoder_block.clone();
    let mut cross = Vec::new();
    super::blocks::attention(&mut cross, "cross_attention", h, true, true);
    layer_norm(&mut cross, "cross_attention_layer_norm", hidden);
    let at = decoder_block
        .iter()
        .position(|w| w.name.starts_with("feedforward"))
        .unwrap_or(decoder_block.len());
    decoder_block.splice(at..at, cross);
    for (stack, class, block) in [
        ("encoder", "TransformerEncoder", &encoder_block),
        ("decoder", "TransformerDecoder", &decoder_block),
    ] {
        let mut position = Vec::new();
        embedding(&mut position, "", max_seq, hidden);
        rows.push(Row::new(
            format!("{stack}_position_embedding"),
            "PositionEmbedding",
            seq_shape(Some(hidden)),
            position,
        ));
        rows.push(Row::plain(
            &format!("{stack}_embeddings_add"),
            "Add",
            hidden,
        ));
        let mut norm = Vec::new();
        layer_norm(&mut norm, "", hidden);
        rows.push(Row::new(
            format!("{stack}_embeddings_layer_norm"),
            "LayerNormalization",
            seq_shape(Some(hidden)),
            norm,
        ));
        rows.push(Row::plain(
            &format!("{stack}_embeddings_dropout"),
            "Dropout",
            hidden,
        ));
        rows.extend((0..layers).map(|i| {
            Row::new(
                format!("transformer_{stack}_layer_{i}"),
                class,
                seq_shape(Some(hidden)),
                block.clone(),
            )
        }));
    }
    rows.extend(INPUTS.iter().map(|name| Row::input(name)));
    let rows = call_order::ordered(rows, call_graph(layers));
    let hf = json!({
        "model_type": "bart", "vocab_size": vocab, "d_model": hidden,
        "encoder_layers": layers, "decoder_layers": layers,
        "encoder_attention_heads": heads, "decoder_attention_heads": heads,
        "encoder_ffn_dim": inter, "decoder_ffn_dim": inter,
        "max_position_embeddings": max_seq, "activation_function": "gelu",
        "dropout": dropout, "attention_dropout": dropout, "activation_dropout": 0.0,
        "scale_embedding": false, "tie_word_embeddings": true,
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

/// The calls `BartBackbone.__init__` makes (bart_backbone.py), for the order of its rows.
fn call_graph(layers: u64) -> (CallGraph, Vec<usize>) {
    let mut g = CallGraph::default();
    let enc_ids = g.input("encoder_token_ids");
    let enc_pad = g.input("encoder_padding_mask");
    let dec_ids = g.input("decoder_token_ids");
    let dec_pad = g.input("decoder_padding_mask");
    let mut encoder = None;
    let mut outputs = Vec::new();
    for (stack, ids) in [("encoder", enc_ids), ("decoder", dec_ids)] {
        let tokens = g.call("token_embedding", &[ids]);
        let positions = g.call(&format!("{stack}_position_embedding"), &[tokens]);
        let x = g.call(&format!("{stack}_embeddings_add"), &[tokens, positions]);
        let x = g.call(&format!("{stack}_embeddings_layer_norm"), &[x]);
        let mut x = g.call(&format!("{stack}_embeddings_dropout"), &[x]);
        for i in 0..layers {
            let name = format!("transformer_{stack}_layer_{i}");
            x = match encoder {
                // x, padding_mask
                None => g.call(&name, &[x, enc_pad]),
                // keyword tensors by name: decoder_padding_mask, decoder_sequence,
                // encoder_padding_mask, encoder_sequence
                Some(enc) => g.call(&name, &[dec_pad, x, enc_pad, enc]),
            };
        }
        encoder = Some(x);
        outputs.push(x);
    }
    // outputs flatten by key: decoder_sequence_output, encoder_sequence_output
    outputs.reverse();
    (g, outputs)
}
