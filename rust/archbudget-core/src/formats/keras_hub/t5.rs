//! keras-hub's T5Backbone: transformers' t5, with `num_layers` blocks in each stack.
//!
//! Weights: a `ReversibleEmbedding` shared by both stacks (and the Seq2SeqLM's head),
//! with its own `reverse_embeddings` `[hidden, vocab]` when `tie_embedding_weights` is
//! false; per `T5TransformerLayer` bias-free q/k/v/o `EinsumDense`-free `Dense` kernels
//! (`hidden → heads × key_value_dim`), a relative-position table `[32, heads]` in the
//! first layer of each stack (keras-hub fixes 32 buckets and distance 128, transformers'
//! defaults), a `T5LayerNorm` (one scale) before each sub-layer, the feedforward
//! `input_projector` (activation), `gate_projector` when `use_gated_activation`
//! (default true), `output_projector`; a final `T5LayerNorm` per stack.
//!
//! The transformers twin: `feed_forward_proj` is the activation, `gated-` prefixed when
//! gated (transformers reads `gated-gelu` as its tanh gelu, `gelu_new`). keras-hub's
//! untied head, which transformers' t5 cannot express (its config forces the tie), is
//! carried into the arch by [`untie`].
use serde_json::json;

use super::blocks::{dense, embedding, rms_norm, seq_shape, Args, Row};
use super::call_order::{self, CallGraph};
use super::{Backbone, Classifier};
use crate::arch::TransformerArch;
use crate::error::Result;
use crate::weight::{dim, Weight};

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
    let kv_dim = match a.dim_opt("key_value_dim")? {
        Some(d) => d,
        None => a.per_head(("hidden_dim", hidden), ("num_heads", heads))?,
    };
    let gated = a.flag_or("use_gated_activation", true)?;
    let tied = a.flag_or("tie_embedding_weights", true)?;
    let activation = activation(a)?;
    let inner = heads * kv_dim;

    let mut token = Vec::new();
    embedding(&mut token, "", vocab, hidden);
    if !tied {
        token.push(Weight::new(
            "reverse_embeddings",
            vec![dim(hidden, "features"), dim(vocab, "rows")],
        ));
    }
    let token_row = Row::new(
        "token_embedding",
        "ReversibleEmbedding",
        seq_shape(Some(hidden)),
        token,
    );
    let token_weights = token_row.weights.clone();
    let mut rows = vec![token_row];
    for stack in ["encoder", "decoder"] {
        for i in 0..layers {
            let mut w = Vec::new();
            let attention = |w: &mut Vec<Weight>, name: &str| {
                for proj in ["query", "key", "value"] {
                    dense(w, &format!("{name}/{proj}_projector"), hidden, inner, false);
                }
                dense(w, &format!("{name}/output_projector"), inner, hidden, false);
            };
            attention(&mut w, "self_attention");
            if i == 0 {
                w.push(Weight::new(
                    "self_attention/embeddings",
                    vec![dim(32, "buckets"), dim(heads, "heads")],
                ));
            }
            rms_norm(&mut w, "self_attention_layer_norm", hidden);
            if stack == "decoder" {
                attention(&mut w, "cross_attention");
                rms_norm(&mut w, "cross_attention_layer_norm", hidden);
            }
            dense(&mut w, "input_projector", hidden, inter, false);
            if gated {
                dense(&mut w, "gate_projector", hidden, inter, false);
            }
            dense(&mut w, "output_projector", inter, hidden, false);
            rms_norm(&mut w, "layer_norm", hidden);
            // the layer returns the hidden states and the position bias
            rows.push(Row {
                output_shape: None,
                ..Row::new(
                    format!("transformer_{stack}_layer_{i}"),
                    "T5TransformerLayer",
                    Vec::new(),
                    w,
                )
            });
        }
        let mut norm = Vec::new();
        rms_norm(&mut norm, "", hidden);
        rows.push(Row::new(
            format!("{stack}_output_layer_norm"),
            "T5LayerNorm",
            seq_shape(Some(hidden)),
            norm,
        ));
        for dropout in ["embedding", "output"] {
            rows.push(Row::plain(
                &format!("{stack}_{dropout}_dropout"),
                "Dropout",
                hidden,
            ));
        }
    }
    rows.extend(INPUTS.iter().map(|name| Row::input(name)));
    let rows = call_order::ordered(rows, call_graph(layers));
    let proj = if gated {
        format!("gated-{activation}")
    } else {
        activation
    };
    let hf = json!({
        "model_type": "t5", "vocab_size": vocab, "d_model": hidden, "d_kv": kv_dim,
        "d_ff": inter, "num_layers": layers, "num_decoder_layers": layers,
        "num_heads": heads, "feed_forward_proj": proj,
        "dropout_rate": a.float_or("dropout", 0.1)?,
        "layer_norm_epsilon": a.float_or("layer_norm_epsilon", 1e-6)?,
        "tie_word_embeddings": tied,
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

/// The serialized activation (`"relu"`, `"gelu"`, or Keras's object form of one).
fn activation(a: &Args) -> Result<String> {
    let value = a.config.get("activation");
    let name = match value {
        None | Some(serde_json::Value::Null) => Some("relu"),
        Some(serde_json::Value::String(s)) => Some(s.as_str()),
        Some(v) => v
            .get("config")
            .and_then(|c| c.get("name"))
            .and_then(|n| n.as_str()),
    };
    match name {
        Some(n @ ("relu" | "gelu" | "silu" | "swish")) => Ok(n.to_string()),
        _ => Err(crate::error::Error::invalid(
            a.location,
            format!(
                "{} config key 'activation' must be relu, gelu or silu, got {}",
                a.class_name,
                value.map(|v| v.to_string()).unwrap_or_default()
            ),
        )),
    }
}

/// The calls `T5Backbone.__init__` makes (t5_backbone.py), for the order of its rows.
fn call_graph(layers: u64) -> (CallGraph, Vec<usize>) {
    let mut g = CallGraph::default();
    let mut outputs = Vec::new();
    let enc_ids = g.input("encoder_token_ids");
    let enc_pad = g.input("encoder_padding_mask");
    let dec_ids = g.input("decoder_token_ids");
    let dec_pad = g.input("decoder_padding_mask");
    let enc_mask = g.op("encoder_mask", &[enc_pad]);
    let mut encoder = None;
    for (stack, ids, mask) in [
        ("encoder", enc_ids, enc_mask),
        ("decoder", dec_ids, g.op("decoder_mask", &[dec_pad])),
    ] {
        let x = g.call("token_embedding", &[ids]);
        let mut x = g.call(&format!("{stack}_embedding_dropout"), &[x]);
        for i in 0..layers {
            // x, then the keyword tensors by name: attention_mask, encoder_attention_mask,
            // encoder_hidden_states, position_bias (the previous layer's)
            let mut inputs = vec![x, mask];
            if let Some(enc) = encoder {
                inputs.extend([enc_mask, enc]);
            }
            if i > 0 {
                inputs.push(x);
            }
            x = g.call(&format!("transformer_{stack}_layer_{i}"), &inputs);
        }
        let x = g.call(&format!("{stack}_output_layer_norm"), &[x]);
        let x = g.call(&format!("{stack}_output_dropout"), &[x]);
        encoder = Some(x);
        outputs.push(x);
    }
    // outputs flatten by key: decoder_sequence_output, encoder_sequence_output
    outputs.reverse();
    (g, outputs)
}

/// keras-hub's untied head (`tie_embedding_weights=False`) as the arch: transformers' t5
/// config forces the tie, so the twin's arch is told here.
pub fn untie(arch: &mut TransformerArch, hf_config: &serde_json::Value) {
    if hf_config["model_type"] == "t5" && hf_config["tie_word_embeddings"] == false {
        arch.tie_word_embeddings = false;
    }
}
