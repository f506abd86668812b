//! keras-hub's SmolLM3Backbone: a tied token embedding, N `SmolLM3DecoderLayer` of
//! RMSNorm → grouped-query attention (`q_proj`, `k_proj`, `v_proj` Dense layers with
//! `attention_bias`, an `o_proj` EinsumDense `[heads, head_dim, hidden]` never biased),
//! rotary positions except in the layers `rope_layer_enabled_list` turns off → RMSNorm →
//! a gated MLP (`gate_proj`, `up_proj`, `down_proj`, biased with `mlp_bias`), and a final
//! `RMSNormalization`. Every layer's `SmolLM3RotaryEmbedding` holds its `inv_freq` as a
//! non-trainable weight (`ceil(rotary_dim / 2)` values, rotary_dim =
//! `int(head_dim · partial_rotary_factor)`), counted by Keras.
//!
//! The transformers twin is smollm3 with `no_rope_layers` from `rope_layer_enabled_list`
//! and no sliding window (keras-hub never masks one, whatever `layer_types` says). The
//! counts differ by keras-hub's `inv_freq` weights (a buffer in transformers) and, with
//! `attention_bias`, by the `o_proj` bias transformers adds.
use serde_json::{json, Value};

use super::blocks::{dense, layer_rows, norm_row, rms_norm, token_embedding, Args, Row};
use super::Backbone;
use crate::error::{Error, Result};
use crate::weight::{dim, Weight};

pub fn backbone(a: &Args) -> Result<Backbone> {
    let vocab = a.dim("vocabulary_size")?;
    let hidden = a.dim("hidden_dim")?;
    let inter = a.dim("intermediate_dim")?;
    let layers = a.dim("num_layers")?;
    let q = a.dim("num_attention_heads")?;
    let kv = a.dim("num_key_value_heads")?;
    let head_dim = a.per_head(("hidden_dim", hidden), ("num_attention_heads", q))?;
    let attention_bias = a.flag_or("attention_bias", false)?;
    let mlp_bias = a.flag_or("mlp_bias", false)?;
    let rotary_factor = a.float_or("partial_rotary_factor", 1.0)?;
    let rope_enabled = rope_layers(a, layers)?;
    let token_row = token_embedding(vocab, hidden, true);
    let token_weights = token_row.weights.clone();
    let mut rows = vec![
        Row::input("token_ids"),
        token_row,
        Row::input("padding_mask"),
    ];

    let mut block = Vec::new();
    for (proj, heads) in [("q_proj", q), ("k_proj", kv), ("v_proj", kv)] {
        dense(
            &mut block,
            &format!("self_attn/{proj}"),
            hidden,
            heads * head_dim,
            attention_bias,
        );
    }
    block.push(Weight::new(
        "self_attn/o_proj/kernel",
        vec![
            dim(q, "heads"),
            dim(head_dim, "head_dim"),
            dim(hidden, "units"),
        ],
    ));
    // `arange(0, rotary_dim, 2)` of rope_init: Python truncates the product to an int
    let rotary_dim = (head_dim as f64 * rotary_factor) as u64;
    block.push(
        Weight::new(
            "self_attn/rotary_emb/inv_freq",
            vec![dim(rotary_dim.div_ceil(2), "rotary_dim/2")],
        )
        .frozen(),
    );
    for (name, d_in, d_out) in [
        ("gate_proj", hidden, inter),
        ("up_proj", hidden, inter),
        ("down_proj", inter, hidden),
    ] {
        dense(&mut block, &format!("mlp/{name}"), d_in, d_out, mlp_bias);
    }
    rms_norm(&mut block, "input_layernorm", hidden);
    rms_norm(&mut block, "post_attention_layernorm", hidden);
    rows.extend(layer_rows(layers, "SmolLM3DecoderLayer", hidden, &block));
    rows.push(norm_row(
        "sequence_output_layernorm",
        "RMSNormalization",
        hidden,
        true,
    ));

    let no_rope: Vec<u8> = rope_enabled.iter().map(|&r| u8::from(r)).collect();
    let hf = json!({
        "model_type": "smollm3", "vocab_size": vocab, "hidden_size": hidden,
        "intermediate_size": inter, "num_hidden_layers": layers,
        "num_attention_heads": q, "num_key_value_heads": kv,
        "attention_bias": attention_bias, "mlp_bias": mlp_bias,
        "no_rope_layers": no_rope, "use_sliding_window": false,
        "tie_word_embeddings": true,
        "max_position_embeddings": a.dim_or("max_position_embeddings", 2048)?,
        "attention_dropout": a.float_or("attention_dropout", 0.0)?,
        "rms_norm_eps": a.float_or("layer_norm_epsilon", 1e-6)?,
    });
    Ok(Backbone::decoder(hf, rows, hidden, vocab, token_weights))
}

/// Whether each layer applies rotary positions: `rope_layer_enabled_list[i]`, true past
/// its end (as `SmolLM3Attention` defaults).
fn rope_layers(a: &Args, layers: u64) -> Result<Vec<bool>> {
    let key = "rope_layer_enabled_list";
    let listed = match a.config.get(key) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::Bool(b) => Ok(*b),
                _ => v.as_u64().map(|n| n != 0).ok_or(()),
            })
            .collect::<std::result::Result<Vec<bool>, ()>>()
            .map_err(|_| bad_list(a, key))?,
        Some(_) => return Err(bad_list(a, key)),
    };
    Ok((0..layers as usize)
        .map(|i| listed.get(i).copied().unwrap_or(true))
        .collect())
}

fn bad_list(a: &Args, key: &str) -> Error {
    Error::invalid(
        a.location,
        format!(
            "{} config key '{key}' must be a list of true/false, one per layer",
            a.class_name
        ),
    )
}
