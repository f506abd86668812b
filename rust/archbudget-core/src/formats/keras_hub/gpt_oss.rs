//! keras-hub's GptOssBackbone: an untied token embedding, N `GptOssTransformerDecoder`
//! of RMSNorm → grouped-query attention with biases on q/k/v and the output and a
//! learned `sinks` logit per head → RMSNorm → a sparse MoE block (`router_dense`, a
//! biased `hidden → experts` Dense; experts' fused `gate_up_proj`
//! `[experts, hidden, 2·inter]` and `down_proj` `[experts, inter, hidden]`, each with a
//! bias per expert), and a final RMSNorm.
//!
//! The transformers twin is gpt_oss with keras-hub's layer placement: keras-hub slides
//! the window over the odd layers (transformers' default slides the even ones), and
//! over none when `sliding_window` is null. Same weights, same counts.
use serde_json::json;

use super::blocks::{
    attention, dense, layer_rows, norm_row, rms_norm, token_embedding, Args, Heads, Row,
};
use super::Backbone;
use crate::error::Result;
use crate::weight::{dim, Weight};

pub fn backbone(a: &Args) -> Result<Backbone> {
    let vocab = a.dim("vocabulary_size")?;
    let layers = a.dim("num_layers")?;
    let q = a.dim("num_query_heads")?;
    let kv = a.dim("num_key_value_heads")?;
    let hidden = a.dim("hidden_dim")?;
    let inter = a.dim("intermediate_dim")?;
    let experts = a.dim("num_experts")?;
    let top_k = a.dim_or("top_k", 2)?;
    let head_dim = match a.dim_opt("head_dim")? {
        Some(d) => d,
        None => a.per_head(("hidden_dim", hidden), ("num_query_heads", q))?,
    };
    let window = match a.config.get("sliding_window") {
        None => Some(4096),
        Some(_) => a.dim_opt("sliding_window")?,
    };
    let token_row = token_embedding(vocab, hidden, false);
    let token_weights = token_row.weights.clone();
    let mut rows = vec![
        Row::input("token_ids"),
        token_row,
        Row::input("padding_mask"),
    ];

    let mut block = Vec::new();
    let heads = Heads {
        hidden,
        q,
        kv,
        head_dim,
    };
    attention(&mut block, "self_attention", heads, true, true);
    block.push(Weight::new("self_attention/sinks", vec![dim(q, "heads")]));
    rms_norm(&mut block, "input_layernorm", hidden);
    rms_norm(&mut block, "post_attention_layernorm", hidden);
    let moe = "sparse_moe_block";
    dense(
        &mut block,
        &format!("{moe}/router/router_dense"),
        hidden,
        experts,
        true,
    );
    for (name, shape) in [
        (
            "gate_up_proj",
            vec![
                dim(experts, "experts"),
                dim(hidden, "inputs"),
                dim(2 * inter, "2·inter"),
            ],
        ),
        (
            "gate_up_proj_bias",
            vec![dim(experts, "experts"), dim(2 * inter, "2·inter")],
        ),
        (
            "down_proj",
            vec![
                dim(experts, "experts"),
                dim(inter, "inputs"),
                dim(hidden, "units"),
            ],
        ),
        (
            "down_proj_bias",
            vec![dim(experts, "experts"), dim(hidden, "units")],
        ),
    ] {
        block.push(Weight::new(format!("{moe}/experts/{name}"), shape));
    }
    rows.extend(layer_rows(
        layers,
        "GptOssTransformerDecoder",
        hidden,
        &block,
    ));
    rows.push(norm_row(
        "sequence_output_layernorm",
        "GptOssLayerNormalization",
        hidden,
        true,
    ));

    // keras-hub gives layer i the window when i is odd
    let layer_types: Vec<&str> = (0..layers)
        .map(|i| match window.is_some() && i % 2 == 1 {
            true => "sliding_attention",
            false => "full_attention",
        })
        .collect();
    let hf = json!({
        "model_type": "gpt_oss", "vocab_size": vocab, "hidden_size": hidden,
        "intermediate_size": inter, "num_hidden_layers": layers,
        "num_attention_heads": q, "num_key_value_heads": kv, "head_dim": head_dim,
        "num_local_experts": experts, "num_experts_per_tok": top_k,
        "attention_bias": true, "tie_word_embeddings": false,
        "layer_types": layer_types, "sliding_window": window.unwrap_or(4096),
        "attention_dropout": a.float_or("dropout", 0.0)?,
        "rms_norm_eps": a.float_or("layer_norm_epsilon", 1e-6)?,
    });
    Ok(Backbone::decoder(hf, rows, hidden, vocab, token_weights))
}
