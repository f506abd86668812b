//! keras-hub's FalconBackbone (Falcon-RW: the falcon_refinedweb_1b preset): a tied token
//! embedding, N `FalconTransformerDecoder` of LayerNorm → multi-head attention with
//! ALiBi (biased q/k/v `EinsumDense` kernels `[hidden, heads, head_dim]`, a biased
//! `hidden → hidden` output Dense) → LayerNorm → a biased GELU MLP
//! (`dense_h_to_4h`, `dense_4h_to_h`), sequential, and a final LayerNorm.
//!
//! The transformers twin is falcon's old decoder architecture with `alibi`, `bias`,
//! neither `multi_query` nor `parallel_attn`, `ffn_hidden_size` the intermediate width:
//! its fused `query_key_value` holds the same weights as keras-hub's three kernels.
use serde_json::json;

use super::blocks::{
    biased_qkv_per_head, dense, layer_norm, layer_rows, norm_row, token_embedding, Args, Row,
};
use super::Backbone;
use crate::error::Result;

pub fn backbone(a: &Args) -> Result<Backbone> {
    let vocab = a.dim("vocabulary_size")?;
    let layers = a.dim("num_layers")?;
    let heads = a.dim("num_attention_heads")?;
    let hidden = a.dim("hidden_dim")?;
    let inter = a.dim("intermediate_dim")?;
    let head_dim = a.per_head(("hidden_dim", hidden), ("num_attention_heads", heads))?;
    let token_row = token_embedding(vocab, hidden, true);
    let token_weights = token_row.weights.clone();
    // keras-hub declares the padding mask before calling the embedding
    let mut rows = vec![
        Row::input("token_ids"),
        Row::input("padding_mask"),
        token_row,
    ];

    let mut block = Vec::new();
    layer_norm(&mut block, "input_layernorm", hidden);
    biased_qkv_per_head(&mut block, "attention", hidden, heads, head_dim);
    dense(&mut block, "attention/output_dense", hidden, hidden, true);
    layer_norm(&mut block, "post_attention_layernorm", hidden);
    dense(&mut block, "dense_h_to_4h", hidden, inter, true);
    dense(&mut block, "dense_4h_to_h", inter, hidden, true);
    rows.extend(layer_rows(
        layers,
        "FalconTransformerDecoder",
        hidden,
        &block,
    ));
    rows.push(norm_row(
        "final_layernorm",
        "LayerNormalization",
        hidden,
        false,
    ));

    let hf = json!({
        "model_type": "falcon", "vocab_size": vocab, "hidden_size": hidden,
        "num_hidden_layers": layers, "num_attention_heads": heads,
        "ffn_hidden_size": inter, "alibi": true, "bias": true, "multi_query": false,
        "new_decoder_architecture": false, "parallel_attn": false,
        "tie_word_embeddings": true,
        "layer_norm_epsilon": a.float_or("layer_norm_epsilon", 1e-5)?,
        "attention_dropout": a.float_or("attention_dropout_rate", 0.0)?,
        "hidden_dropout": a.float_or("feedforward_dropout_rate", 0.0)?,
    });
    Ok(Backbone::decoder(hf, rows, hidden, vocab, token_weights))
}
