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

use super::blocks::{dense, embedding, layer_norm, seq_shape, Args, Row};
use super::Backbone;
use crate::error::Result;
use crate::weight::{dim, Weight};

pub fn backbone(a: &Args) -> Result<Backbone> {
    let vocab = a.dim("vocabulary_size")?;
    let layers = a.dim("num_layers")?;
    let heads = a.dim("num_attention_heads")?;
    let hidden = a.dim("hidden_dim")?;
    let inter = a.dim("intermediate_dim")?;
    let head_dim = a.per_head(("hidden_dim", hidden), ("num_attention_heads", heads))?;
    let h = Some(hidden);

    let mut token = Vec::new();
    embedding(&mut token, "", vocab, hidden);
    let token_row = Row::new(
        "token_embedding",
        "ReversibleEmbedding",
        seq_shape(h),
        token,
    );
    let token_weights = token_row.weights.clone();
    // keras-hub declares the padding mask before calling the embedding
    let mut rows = vec![
        Row::input("token_ids"),
        Row::input("padding_mask"),
        token_row,
    ];

    let mut block = Vec::new();
    layer_norm(&mut block, "input_layernorm", hidden);
    for proj in ["query_dense", "key_dense", "value_dense"] {
        let p = format!("attention/{proj}");
        block.push(Weight::new(
            format!("{p}/kernel"),
            vec![
                dim(hidden, "inputs"),
                dim(heads, "heads"),
                dim(head_dim, "head_dim"),
            ],
        ));
        block.push(Weight::new(
            format!("{p}/bias"),
            vec![dim(heads, "heads"), dim(head_dim, "head_dim")],
        ));
    }
    dense(&mut block, "attention/output_dense", hidden, hidden, true);
    layer_norm(&mut block, "post_attention_layernorm", hidden);
    dense(&mut block, "dense_h_to_4h", hidden, inter, true);
    dense(&mut block, "dense_4h_to_h", inter, hidden, true);
    rows.extend((0..layers).map(|i| {
        Row::new(
            format!("transformer_layer_{i}"),
            "FalconTransformerDecoder",
            seq_shape(h),
            block.clone(),
        )
    }));
    let mut norm = Vec::new();
    layer_norm(&mut norm, "", hidden);
    rows.push(Row::new(
        "final_layernorm",
        "LayerNormalization",
        seq_shape(h),
        norm,
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
