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

/// The sizes a `T5TransformerLayer` stack is built from (`T5Backbone`'s and
/// `T5Encoder`'s constructor arguments).
pub(super) struct Sizes {
    pub vocab: u64,
    pub layers: u64,
    pub heads: u64,
    pub hidden: u64,
    pub inter: u64,
    pub kv_dim: u64,
    pub gated: bool,
    pub tied: bool,
    pub activation: String,
}

impl Sizes {
    pub fn read(a: &Args) -> Result<Sizes> {
        let hidden = a.dim("hidden_dim")?;
        let heads = a.dim("num_heads")?;
        let kv_dim = match a.dim_opt("key_value_dim")? {
            Some(d) => d,
            None => a.per_head(("hidden_dim", hidden), ("num_heads", heads))?,
        };
        Ok(Sizes {
            vocab: a.dim("vocabulary_size")?,
            layers: a.dim("num_layers")?,
            heads,
            hidden,
            inter: a.dim("intermediate_dim")?,
            kv_dim,
            gated: a.flag_or("use_gated_activation", true)?,
            tied: a.flag_or("tie_embedding_weights", true)?,
            activation: activation(a)?,
        })
    }

    /// The `token_embedding` row (a `ReversibleEmbedding`, with its own reverse
    /// projection when untied).
    pub fn token_row(&self) -> Row {
        let mut token = Vec::new();
        embedding(&mut token, "", self.vocab, self.hidden);
        if !self.tied {
            token.push(Weight::new(
                "reverse_embeddings",
                vec![dim(self.hidden, "features"), dim(self.vocab, "rows")],
            ));
        }
        Row::new(
            "token_embedding",
            "ReversibleEmbedding",
            seq_shape(Some(self.hidden)),
            token,
        )
    }

    /// Layer `i`'s weights: the relative-position table in the first, cross-attention in
    /// a decoder's.
    pub fn layer(&self, i: u64, decoder: bool) -> Vec<Weight> {
        let (hidden, inner) = (self.hidden, self.heads * self.kv_dim);
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
                vec![dim(32, "buckets"), dim(self.heads, "heads")],
            ));
        }
        rms_norm(&mut w, "self_attention_layer_norm", hidden);
        if decoder {
            attention(&mut w, "cross_attention");
            rms_norm(&mut w, "cross_attention_layer_norm", hidden);
        }
        dense(&mut w, "input_projector", hidden, self.inter, false);
        if self.gated {
            dense(&mut w, "gate_projector", hidden, self.inter, false);
        }
        dense(&mut w, "output_projector", self.inter, hidden, false);
        rms_norm(&mut w, "layer_norm", hidden);
        w
    }

    /// A stack's final `T5LayerNorm`.
    pub fn output_norm(&self, stack: &str) -> Row {
        let mut norm = Vec::new();
        rms_norm(&mut norm, "", self.hidden);
        Row::new(
            format!("{stack}_output_layer_norm"),
            "T5LayerNorm",
            seq_shape(Some(self.hidden)),
            norm,
        )
    }
}

pub fn backbone(a: &Args) -> Result<Backbone> {
    let s = Sizes::read(a)?;
    let token_row = s.token_row();
    let token_weights = token_row.weights.clone();
    let mut rows = vec![token_row];
    for stack in ["encoder", "decoder"] {
        for i in 0..s.layers {
            // the layer returns the hidden states and the position bias
            rows.push(Row {
                output_shape: None,
                ..Row::new(
                    format!("transformer_{stack}_layer_{i}"),
                    "T5TransformerLayer",
                    Vec::new(),
                    s.layer(i, stack == "decoder"),
                )
            });
        }
        rows.push(s.output_norm(stack));
        for dropout in ["embedding", "output"] {
            rows.push(Row::plain(
                &format!("{stack}_{dropout}_dropout"),
                "Dropout",
                s.hidden,
            ));
        }
    }
    rows.extend(INPUTS.iter().map(|name| Row::input(name)));
    let rows = call_order::ordered(rows, call_graph(s.layers));
    let proj = if s.gated {
        format!("gated-{}", s.activation)
    } else {
        s.activation.clone()
    };
    let hf = json!({
        "model_type": "t5", "vocab_size": s.vocab, "d_model": s.hidden, "d_kv": s.kv_dim,
        "d_ff": s.inter, "num_layers": s.layers, "num_decoder_layers": s.layers,
        "num_heads": s.heads, "feed_forward_proj": proj,
        "dropout_rate": a.float_or("dropout", 0.1)?,
        "layer_norm_epsilon": a.float_or("layer_norm_epsilon", 1e-6)?,
        "tie_word_embeddings": s.tied,
    });
    Ok(Backbone {
        hf_config: Some(hf),
        rows,
        hidden: s.hidden,
        vocab: s.vocab,
        embed_dim: s.hidden,
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
