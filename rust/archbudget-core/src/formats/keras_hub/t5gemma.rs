//! keras-hub's T5GemmaBackbone: a Gemma 2 encoder and decoder, each with its own width;
//! and T5Gemma2Backbone's text model (with a `vision_encoder` the class is left to the
//! `.keras` archive reader, `saved`), which differs in per-head q/k RMS scales
//! (`use_query_key_norm`, default true) and a decoder `merged_attention` (one q/k/v/o
//! set, key and value read the decoder's width) in place of self- and cross-attention.
//!
//! Weights (t5gemma_backbone.py, t5gemma_encoder.py, t5gemma_decoder.py): an encoder
//! `Embedding` and a decoder `ReversibleEmbedding` (its own `reverse_embeddings` when
//! `tie_word_embeddings` is false), per layer `EinsumDense` q/k/v `[hidden, heads,
//! head_dim]` and output `[heads, head_dim, hidden]` (biases when `attention_bias`), a
//! gated MLP without biases, RMS scales before and after attention and MLP; a decoder
//! layer adds cross-attention whose key and value read `cross_attention_hidden_size`
//! (the encoder's width by default) and its two norms. Each stack ends in an auto-named
//! `RMSNormalization` and a shared `Dropout` (also auto-named: a fresh session's
//! `rms_normalization`, `dropout` for the encoder, `_1` for the decoder).
//!
//! T5GemmaBackbone's twin is transformers' `t5gemma` (its module configs carry each
//! stack's sizes, `layer_types` and softcaps; keras-hub's `gelu_approximate` is
//! `gelu_pytorch_tanh`). What differs is told by [`twin_edit`]: the backbone alone keeps
//! its untied `reverse_embeddings` with no head to use them.
use serde_json::{json, Value};

use super::blocks::{dense, embedding, kernel, rms_norm, seq_shape, Args, Row};
use super::call_order::{self, CallGraph};
use super::{Backbone, Classifier};
use crate::arch::TransformerArch;
use crate::error::Result;
use crate::formats::hf;
use crate::memory::hf::Dropouts;
use crate::weight::{dim, Weight};

const INPUTS: &[&str] = &[
    "encoder_token_ids",
    "encoder_padding_mask",
    "decoder_token_ids",
    "decoder_padding_mask",
];

/// One stack's sizes (`encoder_...` or `decoder_...` arguments).
struct Stack {
    hidden: u64,
    inter: u64,
    layers: u64,
    q: u64,
    kv: u64,
    head_dim: u64,
    /// T5Gemma2's per-head RMS scales of queries and keys.
    qk_norm: bool,
}

impl Stack {
    fn read(a: &Args, stack: &str, qk_norm: bool) -> Result<Stack> {
        let key = |k: &str| format!("{stack}_{k}");
        Ok(Stack {
            hidden: a.dim(&key("hidden_dim"))?,
            inter: a.dim(&key("intermediate_dim"))?,
            layers: a.dim(&key("num_layers"))?,
            q: a.dim(&key("num_attention_heads"))?,
            kv: a.dim(&key("num_key_value_heads"))?,
            head_dim: a.dim(&key("head_dim"))?,
            qk_norm,
        })
    }

    /// An attention block named `name` whose key and value read `kv_in` features.
    fn attention(&self, w: &mut Vec<Weight>, name: &str, kv_in: u64, bias: bool) {
        for (proj, heads, d_in) in [
            ("query", self.q, self.hidden),
            ("key", self.kv, kv_in),
            ("value", self.kv, kv_in),
        ] {
            let p = format!("{name}/{proj}");
            w.push(kernel(
                &p,
                &[
                    (d_in, "inputs"),
                    (heads, "heads"),
                    (self.head_dim, "head_dim"),
                ],
            ));
            if bias {
                w.push(Weight::new(
                    format!("{p}/bias"),
                    vec![dim(heads, "heads"), dim(self.head_dim, "head_dim")],
                ));
            }
        }
        if self.qk_norm {
            rms_norm(w, &format!("{name}/query_norm"), self.head_dim);
            rms_norm(w, &format!("{name}/key_norm"), self.head_dim);
        }
        let p = format!("{name}/attention_output");
        w.push(kernel(
            &p,
            &[
                (self.q, "heads"),
                (self.head_dim, "head_dim"),
                (self.hidden, "units"),
            ],
        ));
        if bias {
            w.push(Weight::new(
                format!("{p}/bias"),
                vec![dim(self.hidden, "units")],
            ));
        }
    }

    fn mlp(&self, w: &mut Vec<Weight>) {
        dense(w, "mlp/gate_proj", self.hidden, self.inter, false);
        dense(w, "mlp/up_proj", self.hidden, self.inter, false);
        dense(w, "mlp/down_proj", self.inter, self.hidden, false);
    }
}

/// `None` for a T5Gemma2 with a vision encoder (left to the archive reader).
pub fn backbone(a: &Args) -> Result<Option<Backbone>> {
    let v2 = a.class_name == "T5Gemma2Backbone";
    if v2
        && !matches!(
            a.config.get("vision_encoder"),
            None | Some(serde_json::Value::Null)
        )
    {
        return Ok(None);
    }
    let qk_norm = v2 && a.flag_or("use_query_key_norm", true)?;
    let vocab = a.dim("vocabulary_size")?;
    let enc = Stack::read(a, "encoder", qk_norm)?;
    let dec = Stack::read(a, "decoder", qk_norm)?;
    let bias = a.flag_or("attention_bias", false)?;
    let tied = a.flag_or("tie_word_embeddings", true)?;
    let cross_in = a.dim_or("cross_attention_hidden_size", enc.hidden)?;

    let mut rows: Vec<Row> = INPUTS.iter().map(|n| Row::input(n)).collect();
    let mut w = Vec::new();
    embedding(&mut w, "", vocab, enc.hidden);
    rows.push(Row::new(
        "encoder_token_embedding",
        "Embedding",
        seq_shape(Some(enc.hidden)),
        w,
    ));
    let mut w = Vec::new();
    embedding(&mut w, "", vocab, dec.hidden);
    if !tied {
        w.push(Weight::new(
            "reverse_embeddings",
            vec![dim(dec.hidden, "features"), dim(vocab, "rows")],
        ));
    }
    let decoder_embedding = Row::new(
        "decoder_token_embedding",
        "ReversibleEmbedding",
        seq_shape(Some(dec.hidden)),
        w,
    );
    let token_weights = decoder_embedding.weights.clone();
    rows.push(decoder_embedding);

    let mut block = Vec::new();
    enc.attention(&mut block, "self_attention", enc.hidden, bias);
    enc.mlp(&mut block);
    for norm in ["self_attention", "feedforward"] {
        rms_norm(&mut block, &format!("pre_{norm}_layernorm"), enc.hidden);
        rms_norm(&mut block, &format!("post_{norm}_layernorm"), enc.hidden);
    }
    let (encoder_class, decoder_class) = match v2 {
        true => ("T5Gemma2EncoderLayer", "T5Gemma2DecoderLayer"),
        false => ("T5GemmaEncoderLayer", "T5GemmaDecoderLayer"),
    };
    rows.extend((0..enc.layers).map(|i| {
        Row::new(
            format!("encoder_layer_{i}"),
            encoder_class,
            seq_shape(Some(enc.hidden)),
            block.clone(),
        )
    }));
    let mut block = Vec::new();
    let norms: &[&str] = match v2 {
        true => {
            dec.attention(&mut block, "merged_attention", dec.hidden, bias);
            &["self_attention", "feedforward"]
        }
        false => {
            dec.attention(&mut block, "self_attention", dec.hidden, bias);
            dec.attention(&mut block, "cross_attention", cross_in, bias);
            &["self_attention", "cross_attention", "feedforward"]
        }
    };
    dec.mlp(&mut block);
    for norm in norms {
        rms_norm(
            &mut block,
            &format!("decoder_pre_{norm}_layernorm"),
            dec.hidden,
        );
        rms_norm(
            &mut block,
            &format!("decoder_post_{norm}_layernorm"),
            dec.hidden,
        );
    }
    rows.extend((0..dec.layers).map(|i| Row {
        // the layer returns the hidden states and its caches
        output_shape: None,
        ..Row::new(
            format!("decoder_layer_{i}"),
            decoder_class,
            Vec::new(),
            block.clone(),
        )
    }));
    for (suffix, width) in [("", enc.hidden), ("_1", dec.hidden)] {
        let mut norm = Vec::new();
        rms_norm(&mut norm, "", width);
        rows.push(Row::new(
            format!("rms_normalization{suffix}"),
            "RMSNormalization",
            seq_shape(Some(width)),
            norm,
        ));
        rows.push(Row::plain(&format!("dropout{suffix}"), "Dropout", width));
    }
    let rows = call_order::ordered(rows, call_graph(enc.layers, dec.layers));
    Ok(Some(Backbone {
        hf_config: match v2 {
            true => None,
            false => twin_config(a, &enc, &dec, cross_in)?,
        },
        rows,
        hidden: dec.hidden,
        vocab,
        embed_dim: dec.hidden,
        token_weights,
        inputs: INPUTS,
        // a dict of encoder and decoder outputs: no single shape
        pooled: true,
        classifier: Classifier::None,
        lm_row_shows_vocab: false,
    }))
}

/// The Seq2SeqLM's head row: the decoder embedding in reverse.
pub fn head_row(b: &Backbone) -> Row {
    Row {
        name: "decoder_token_embedding".to_string(),
        class_name: "ReversibleEmbedding".to_string(),
        output_shape: Some(crate::summary::OutputShape::Single(seq_shape(Some(
            b.hidden,
        )))),
        weights: b.token_weights.clone(),
        nested: false,
    }
}

/// The calls `T5GemmaBackbone.__init__` makes, for the order of its rows.
fn call_graph(enc_layers: u64, dec_layers: u64) -> (CallGraph, Vec<usize>) {
    let mut g = CallGraph::default();
    let enc_ids = g.input("encoder_token_ids");
    let enc_pad = g.input("encoder_padding_mask");
    let dec_ids = g.input("decoder_token_ids");
    let dec_pad = g.input("decoder_padding_mask");
    let x = g.call("encoder_token_embedding", &[enc_ids]);
    let x = g.op("encoder_scale", &[x]);
    let mut x = g.call("dropout", &[x]);
    for i in 0..enc_layers {
        // x, then the keyword padding_mask
        x = g.call(&format!("encoder_layer_{i}"), &[x, enc_pad]);
    }
    let x = g.call("rms_normalization", &[x]);
    let encoder = g.call("dropout", &[x]);
    let y = g.call("decoder_token_embedding", &[dec_ids]);
    let y = g.op("decoder_scale", &[y]);
    let mut y = g.call("dropout_1", &[y]);
    for i in 0..dec_layers {
        // (hidden, encoder output), then the keywords by name: cross-, self-attention mask
        y = g.call(
            &format!("decoder_layer_{i}"),
            &[y, encoder, enc_pad, dec_pad],
        );
    }
    let y = g.call("rms_normalization_1", &[y]);
    let decoder = g.call("dropout_1", &[y]);
    // outputs flatten by key: decoder_sequence_output, encoder_sequence_output
    (g, vec![decoder, encoder])
}

/// transformers' `t5gemma` config of a T5GemmaBackbone; `None` where the decoder's
/// cross-attention reads another width than the encoder gives (keras-hub cannot call
/// such a model, and `T5GemmaConfig` always sets the encoder's).
fn twin_config(a: &Args, enc: &Stack, dec: &Stack, cross_in: u64) -> Result<Option<Value>> {
    if cross_in != enc.hidden {
        return Ok(None);
    }
    let activation = match a.config.get("hidden_activation").and_then(Value::as_str) {
        None | Some("gelu_approximate") => "gelu_pytorch_tanh",
        Some(other) => other,
    };
    let softcap = |key: &str| a.config.get(key).cloned().unwrap_or(Value::Null);
    let module = |s: &Stack, stack: &str| -> Result<Value> {
        let layer_types: Vec<&str> = match a.config.get(&format!("{stack}_layer_types")) {
            Some(Value::Array(types)) if types.len() as u64 == s.layers => types
                .iter()
                .map(|t| match t.as_str() {
                    Some("sliding_attention") => "sliding_attention",
                    _ => "full_attention",
                })
                .collect(),
            other => {
                return Err(crate::Error::invalid(
                    a.location,
                    format!(
                    "{} config key '{stack}_layer_types' must list one type per layer ({}), got {}",
                    a.class_name,
                    s.layers,
                    other.unwrap_or(&Value::Null)
                ),
                ))
            }
        };
        Ok(json!({
            "vocab_size": a.dim("vocabulary_size")?,
            "hidden_size": s.hidden, "intermediate_size": s.inter,
            "num_hidden_layers": s.layers, "num_attention_heads": s.q,
            "num_key_value_heads": s.kv, "head_dim": s.head_dim,
            "layer_types": layer_types,
            "sliding_window": a.dim_or("sliding_window", 4096)?,
            "attention_bias": a.flag_or("attention_bias", false)?,
            "hidden_activation": activation,
            "attn_logit_softcapping": softcap("attn_logit_softcapping"),
            "final_logit_softcapping": softcap("final_logit_softcapping"),
        }))
    };
    Ok(Some(json!({
        "model_type": "t5gemma",
        "encoder": module(enc, "encoder")?,
        "decoder": module(dec, "decoder")?,
        "tie_word_embeddings": a.flag_or("tie_word_embeddings", true)?,
        "dropout_rate": a.float_or("dropout_rate", 0.0)?,
        "attention_dropout": a.float_or("attention_dropout", 0.0)?,
    })))
}

/// T5Gemma2Backbone's text model, for which transformers has no type of its own (its
/// `t5gemma2` always holds a vision tower): t5gemma's arch of the same sizes with what
/// T5Gemma 2 changes (merged decoder attention, a rotary table per layer type, q/k
/// norms when `use_query_key_norm`). `None` with a vision encoder.
pub(super) fn lowered(a: &Args, head: hf::Head) -> Result<Option<(TransformerArch, Dropouts)>> {
    let qk_norm = a.flag_or("use_query_key_norm", true)?;
    let (enc, dec) = (
        Stack::read(a, "encoder", qk_norm)?,
        Stack::read(a, "decoder", qk_norm)?,
    );
    let vision = !matches!(a.config.get("vision_encoder"), None | Some(Value::Null));
    let Some(config) = twin_config(a, &enc, &dec, enc.hidden).ok().flatten() else {
        return Ok(None);
    };
    if vision {
        return Ok(None);
    }
    let mut arch = hf::arch(&config, Some(head), a.location)?;
    twin_edit(a)?(&mut arch);
    if let Some(t) = arch.details.t5gemma.as_mut() {
        t.merged_attention = true;
        t.qk_norm = qk_norm;
    }
    Ok(Some((arch, Dropouts::from_config(&config))))
}

/// The backbone alone, untied, keeps `reverse_embeddings` that no head reads (the twin's
/// bare `T5GemmaModel` has no LM head at all).
pub(super) fn twin_edit(a: &Args) -> Result<super::TwinEdit> {
    let unused = match a.flag_or("tie_word_embeddings", true)? {
        true => 0,
        false => crate::error::mul(
            a.dim("vocabulary_size")?,
            a.dim("decoder_hidden_dim")?,
            a.location,
            "reverse_embeddings",
        )?,
    };
    Ok(Box::new(move |arch: &mut TransformerArch| {
        if let (false, Some(t)) = (arch.head.has_lm_head(), arch.details.t5gemma.as_mut()) {
            t.unused_params = unused;
        }
    }))
}
