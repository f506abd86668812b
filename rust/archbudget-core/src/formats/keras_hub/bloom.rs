//! keras-hub's BloomBackbone: a tied token embedding and its LayerNorm
//! (`embedding_layernorm`), N `BloomDecoder` of LayerNorm → multi-head attention with
//! ALiBi (biased q/k/v `EinsumDense` kernels `[hidden, heads, head_dim]`, a biased
//! `hidden → hidden` output Dense) → LayerNorm → a biased tanh-GELU MLP, and a final
//! LayerNorm.
//!
//! The transformers twin is bloom, whose fused `query_key_value` holds the same weights
//! as keras-hub's three kernels. transformers fixes bloom's MLP at 4 × hidden; a keras-hub
//! Bloom of another `intermediate_dim` is lowered as the same Bloom block with its own
//! MLP width ([`own_mlp_width`]).
use serde_json::{json, Value};

use super::blocks::{
    biased_qkv_per_head, dense, layer_norm, layer_rows, norm_row, token_embedding, Args, Row,
};
use super::Backbone;
use crate::arch::TransformerArch;
use crate::error::Result;

pub fn backbone(a: &Args) -> Result<Backbone> {
    let vocab = a.dim("vocabulary_size")?;
    let layers = a.dim("num_layers")?;
    let heads = a.dim("num_heads")?;
    let hidden = a.dim("hidden_dim")?;
    let inter = a.dim("intermediate_dim")?;
    let head_dim = a.per_head(("hidden_dim", hidden), ("num_heads", heads))?;
    let token_row = token_embedding(vocab, hidden, true);
    let token_weights = token_row.weights.clone();
    let mut rows = vec![
        Row::input("token_ids"),
        token_row,
        norm_row("embedding_layernorm", "LayerNormalization", hidden, false),
        Row::input("padding_mask"),
    ];

    let mut block = Vec::new();
    layer_norm(&mut block, "pre_attention_layernorm", hidden);
    biased_qkv_per_head(&mut block, "self_attention", hidden, heads, head_dim);
    dense(
        &mut block,
        "self_attention/output_dense",
        hidden,
        hidden,
        true,
    );
    layer_norm(&mut block, "post_attention_layernorm", hidden);
    dense(&mut block, "mlp_intermediate_dense", hidden, inter, true);
    dense(&mut block, "mlp_output_dense", inter, hidden, true);
    rows.extend(layer_rows(layers, "BloomDecoder", hidden, &block));
    rows.push(norm_row(
        "final_layernorm",
        "LayerNormalization",
        hidden,
        false,
    ));

    let dropout = a.float_or("dropout", 0.0)?;
    let hf = json!({
        "model_type": "bloom", "vocab_size": vocab, "hidden_size": hidden,
        "n_layer": layers, "n_head": heads, "tie_word_embeddings": true,
        "layer_norm_epsilon": a.float_or("layer_norm_epsilon", 1e-5)?,
        "attention_dropout": dropout, "hidden_dropout": dropout,
    });
    let mut hf = hf;
    if inter != 4 * hidden {
        hf["intermediate_size"] = inter.into();
    }
    Ok(Backbone::decoder(hf, rows, hidden, vocab, token_weights))
}

/// The only way keras-hub's Bloom differs from transformers': an MLP other than
/// 4 × hidden wide. Its twin config carries the width as `intermediate_size` (a key
/// transformers' BloomConfig does not read) and the bloom structure takes it here.
pub fn own_mlp_width(a: &mut TransformerArch, config: &Value) {
    if a.model_type != "bloom" {
        return;
    }
    if let Some(width) = config.get("intermediate_size").and_then(Value::as_u64) {
        a.intermediate_size = width;
    }
}
