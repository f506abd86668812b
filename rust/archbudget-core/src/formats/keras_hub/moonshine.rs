//! keras-hub's MoonshineBackbone: a convolutional audio stem, a rotary encoder and a
//! rotary decoder with cross-attention.
//!
//! Weights (moonshine_backbone.py, moonshine_encoder.py, moonshine_decoder.py,
//! moonshine_layers.py): `conv1` (kernel 127, `filter_dim` filters, no bias), a one-group
//! `group_norm`, `conv2` (7, 2 × `filter_dim`) and `conv3` (3, `filter_dim`) with biases;
//! per block Keras `MultiHeadAttention`-style q/k/v/output kernels (`head_dim` =
//! `hidden_dim / heads`, padded up to `pad_head_dim_to_multiple_of`; biases when
//! `attention_bias`), scale-only LayerNorms, and an MLP `hidden × expansion` wide (its
//! first dense doubled when it is a SwiGLU: the decoder's by default) with biases; a
//! decoder block adds cross-attention and a third norm. Each rotary embedding holds a
//! non-trainable `inv_freq` of half the even rotary width
//! (`head_dim × partial_rotary_factor`). `intermediate_dim` makes no weight.
//!
//! `memory`: transformers' `moonshine` (`formats::hf::moonshine`) is the twin, with what
//! keras-hub does differently ([`twin_edit`]): each stack keeps its own heads
//! (transformers runs the decoder with the encoder's), heads are padded in the kernels,
//! the rotary width rounds down to even, either stack's MLP may be SwiGLU or GELU, the
//! attention output projections are biased with `attention_bias`, and `dropout` drops
//! after the stem and the token embedding.
use serde_json::json;

use super::blocks::{attention, dense, embedding, kernel, seq_shape, Args, Heads, Row};
use super::call_order::{self, CallGraph};
use super::{Backbone, Classifier, TwinEdit};
use crate::arch::TransformerArch;
use crate::error::{Error, Result};
use crate::formats::hf::moonshine::{Moonshine, MoonshineStack};
use crate::weight::{dim, Weight};

const INPUTS: &[&str] = &[
    "encoder_input_values",
    "encoder_padding_mask",
    "decoder_token_ids",
    "decoder_padding_mask",
];

/// keras-hub's model as the stacks of its transformers twin describe it: each stack with
/// its own heads, head width padded in the kernels (no padding at attention), rotary
/// width `int(head_dim · partial_rotary_factor)` rounded down to even, and its MLP
/// (SwiGLU: SiLU-gated halves of a doubled `dense_1`; else GELU).
fn stacks(a: &Args) -> Result<Moonshine> {
    let hidden = a.dim("hidden_dim")?;
    let expansion = a.float_or("feedforward_expansion_factor", 4.0)?;
    let ff = (hidden as f64 * expansion).floor() as u64;
    if ff == 0 {
        return Err(Error::invalid(
            a.location,
            format!(
                "{} config key 'feedforward_expansion_factor' must make a positive MLP width, got {expansion}",
                a.class_name
            ),
        ));
    }
    let pad = a.dim_opt("pad_head_dim_to_multiple_of")?;
    let rotary_factor = a.float_or("partial_rotary_factor", 0.62)?;
    let stack = |heads_key: &str, swiglu_key: &str, swiglu: bool| -> Result<MoonshineStack> {
        let heads = a.dim(heads_key)?;
        let unpadded = hidden / heads;
        let head_dim = match pad {
            Some(m) => unpadded.div_ceil(m).checked_mul(m).ok_or_else(|| {
                Error::invalid(
                    a.location,
                    format!("{} config: pad_head_dim_to_multiple_of {m} pads heads past the largest size", a.class_name),
                )
            })?,
            None => unpadded,
        };
        let rotary_dim = ((head_dim as f64 * rotary_factor).floor() as u64) / 2 * 2;
        if rotary_dim == 0 {
            return Err(Error::invalid(
                a.location,
                format!(
                    "{} config: partial_rotary_factor {rotary_factor} leaves no rotary width of head_dim {head_dim}",
                    a.class_name
                ),
            ));
        }
        let gated = a.flag_or(swiglu_key, swiglu)?;
        Ok(MoonshineStack {
            heads,
            kv_heads: heads,
            head_dim,
            attention_padding: 0,
            rotary_dim,
            gated,
            activation: if gated { "silu" } else { "gelu" }.to_string(),
            inter: ff,
        })
    };
    Ok(Moonshine {
        encoder: stack("encoder_num_heads", "encoder_use_swiglu_activation", false)?,
        decoder: stack("decoder_num_heads", "decoder_use_swiglu_activation", true)?,
        filters: a.dim("filter_dim")?,
    })
}

/// Where keras-hub differs from its twin (see [`stacks`]), and its attention output
/// projections biased with `attention_bias` (transformers' `o_proj` never is).
pub fn twin_edit(a: &Args) -> Result<TwinEdit> {
    let ms = stacks(a)?;
    let o_bias = a.flag_or("attention_bias", false)?;
    Ok(Box::new(move |arch: &mut TransformerArch| {
        arch.num_heads = ms.decoder.heads;
        arch.num_kv_heads = ms.decoder.heads;
        arch.head_dim = ms.decoder.head_dim;
        arch.details.rotary_dim = ms.decoder.rotary_dim;
        arch.o_bias = o_bias;
        arch.details.moonshine = Some(Box::new(ms.clone()));
    }))
}

pub fn backbone(a: &Args) -> Result<Backbone> {
    let vocab = a.dim("vocabulary_size")?;
    let filters = a.dim("filter_dim")?;
    let hidden = a.dim("hidden_dim")?;
    let ms = stacks(a)?;
    let ff = ms.encoder.inter;
    let bias = a.flag_or("attention_bias", false)?;
    let (enc_heads, dec_heads) = (ms.encoder.heads, ms.decoder.heads);
    let (enc_dim, dec_dim) = (ms.encoder.head_dim, ms.decoder.head_dim);
    let (enc_layers, dec_layers) = (a.dim("encoder_num_layers")?, a.dim("decoder_num_layers")?);
    // keras-hub drops with `dropout` after the stem and the token embedding, and with
    // `attention_dropout` on the attention probabilities; its GELUs are exact
    let hf = json!({
        "model_type": "moonshine", "vocab_size": vocab, "hidden_size": hidden,
        "intermediate_size": ff, "encoder_num_hidden_layers": enc_layers,
        "decoder_num_hidden_layers": dec_layers, "encoder_num_attention_heads": enc_heads,
        "decoder_num_attention_heads": dec_heads, "attention_bias": bias,
        "partial_rotary_factor": a.float_or("partial_rotary_factor", 0.62)?,
        "pad_head_dim_to_multiple_of": a.dim_opt("pad_head_dim_to_multiple_of")?,
        "max_position_embeddings": a.dim_or("max_position_embeddings", 2048)?,
        "attention_dropout": a.float_or("attention_dropout", 0.0)?,
        "dropout": a.float_or("dropout", 0.0)?, "tie_word_embeddings": true,
    });

    let seq = |w: u64| seq_shape(Some(w));
    let mut rows: Vec<Row> = INPUTS.iter().map(|n| Row::input(n)).collect();
    rows[0] = Row::new("encoder_input_values", "InputLayer", seq(1), Vec::new());
    let conv = |name: &str, size: u64, d_in: u64, d_out: u64, bias: bool| {
        let mut w = vec![kernel(
            "",
            &[(size, "kernel"), (d_in, "inputs"), (d_out, "filters")],
        )];
        if bias {
            w.push(Weight::new("bias", vec![dim(d_out, "filters")]));
        }
        Row::new(name, "Conv1D", seq(d_out), w)
    };
    rows.push(conv("conv1", 127, 1, filters, false));
    rows.push(Row::plain("tanh_after_conv1", "Activation", filters));
    let norm = ["gamma", "beta"].map(|p| Weight::new(p, vec![dim(filters, "features")]));
    rows.push(Row::new(
        "group_norm",
        "GroupNormalization",
        seq(filters),
        norm.to_vec(),
    ));
    rows.push(conv("conv2", 7, filters, 2 * filters, true));
    rows.push(Row::plain("gelu_after_conv2", "Activation", 2 * filters));
    rows.push(conv("conv3", 3, 2 * filters, filters, true));
    rows.push(Row::plain("gelu_after_conv3", "Activation", filters));
    for stack in ["encoder", "decoder"] {
        rows.push(Row::new(
            format!("{stack}_positions"),
            "Arange",
            vec![None],
            Vec::new(),
        ));
        rows.push(Row::plain(&format!("{stack}_dropout"), "Dropout", hidden));
        let rotary = match stack {
            "encoder" => ms.encoder.rotary_dim,
            _ => ms.decoder.rotary_dim,
        };
        let inv_freq = Weight::new("inv_freq", vec![dim(rotary / 2, "frequencies")]).frozen();
        rows.push(Row::new(
            format!("{stack}_rotary_embedding"),
            "MoonshineRotaryEmbedding",
            vec![None],
            vec![inv_freq],
        ));
    }
    rows.push(Row::new(
        "compute_attention_mask",
        "ComputeAttentionMask",
        seq_shape(None),
        Vec::new(),
    ));
    let mlp = |w: &mut Vec<Weight>, name: &str, swiglu: bool| {
        let first = if swiglu { 2 * ff } else { ff };
        dense(w, &format!("{name}/dense_1"), hidden, first, true);
        dense(w, &format!("{name}/dense_2"), ff, hidden, true);
    };
    let scale = |w: &mut Vec<Weight>, name: &str| {
        w.push(Weight::new(
            format!("{name}/gamma"),
            vec![dim(hidden, "features")],
        ));
    };
    let heads = |q: u64, head_dim: u64| Heads {
        hidden,
        q,
        kv: q,
        head_dim,
    };
    let mut block = Vec::new();
    attention(
        &mut block,
        "self_attention_layer",
        heads(enc_heads, enc_dim),
        bias,
        bias,
    );
    scale(&mut block, "self_attention_layer_norm");
    scale(&mut block, "feedforward_layer_norm");
    mlp(&mut block, "feedforward", ms.encoder.gated);
    rows.extend((0..enc_layers).map(|i| {
        Row::new(
            format!("encoder_block_{i}"),
            "MoonshineEncoderBlock",
            seq(hidden),
            block.clone(),
        )
    }));
    let mut block = Vec::new();
    attention(
        &mut block,
        "self_attention",
        heads(dec_heads, dec_dim),
        bias,
        bias,
    );
    attention(
        &mut block,
        "cross_attention",
        heads(dec_heads, dec_dim),
        bias,
        bias,
    );
    for norm in ["norm1", "norm2", "norm3"] {
        scale(&mut block, norm);
    }
    mlp(&mut block, "ff", ms.decoder.gated);
    rows.extend((0..dec_layers).map(|i| {
        Row::new(
            format!("decoder_block_{i}"),
            "MoonshineDecoderBlock",
            seq(hidden),
            block.clone(),
        )
    }));
    for name in ["encoder_final_layer_norm", "decoder_post_norm"] {
        let w = vec![Weight::new("gamma", vec![dim(hidden, "features")])];
        rows.push(Row::new(name, "LayerNormalization", seq(hidden), w));
    }
    let mut token = Vec::new();
    embedding(&mut token, "", vocab, hidden);
    let token_row = Row::new("token_embedding", "ReversibleEmbedding", seq(hidden), token);
    let token_weights = token_row.weights.clone();
    rows.push(token_row);
    let rows = call_order::ordered(rows, call_graph(enc_layers, dec_layers));
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

/// The calls `MoonshineBackbone.__init__` makes, for the order of its rows.
fn call_graph(enc_layers: u64, dec_layers: u64) -> (CallGraph, Vec<usize>) {
    let mut g = CallGraph::default();
    let audio = g.input("encoder_input_values");
    let audio_mask = g.input("encoder_padding_mask");
    let ids = g.input("decoder_token_ids");
    let ids_mask = g.input("decoder_padding_mask");
    let mut x = audio;
    for layer in [
        "conv1",
        "tanh_after_conv1",
        "group_norm",
        "conv2",
        "gelu_after_conv2",
        "conv3",
        "gelu_after_conv3",
    ] {
        x = g.call(layer, &[x]);
    }
    // the valid lengths: cast and sum the mask, then `compute_output_lengths` (a cast,
    // three of subtract, divide, floor, add one, a cast and a maximum): 17 op nodes
    let mut lengths = audio_mask;
    for i in 0..17 {
        lengths = g.op(&format!("lengths_{i}"), &[lengths]);
    }
    let mask = g.call("compute_attention_mask", &[x, lengths]);
    let positions = g.call("encoder_positions", &[x]);
    let rotary = g.call("encoder_rotary_embedding", &[positions]);
    let mut x = g.call("encoder_dropout", &[x]);
    for i in 0..enc_layers {
        // x, rotary embedding, then the keyword attention_mask
        x = g.call(&format!("encoder_block_{i}"), &[x, rotary, mask]);
    }
    let encoder = g.call("encoder_final_layer_norm", &[x]);
    let positions = g.call("decoder_positions", &[ids]);
    let rotary = g.call("decoder_rotary_embedding", &[positions]);
    let y = g.call("token_embedding", &[ids]);
    let mut y = g.call("decoder_dropout", &[y]);
    for i in 0..dec_layers {
        // keywords only, by name: decoder_padding_mask, decoder_sequence,
        // encoder_padding_mask, encoder_sequence, rotary_embedding
        y = g.call(
            &format!("decoder_block_{i}"),
            &[ids_mask, y, mask, encoder, rotary],
        );
    }
    let decoder = g.call("decoder_post_norm", &[y]);
    // outputs flatten by key: decoder_sequence_output, encoder_sequence_output
    (g, vec![decoder, encoder])
}
