//! keras-hub's GPT2Backbone, OPTBackbone and GPTNeoXBackbone: learned or rotary
//! positions, biased attention and a two-layer feedforward (`TransformerDecoder`,
//! `GPTNeoXDecoder`), LayerNorms, and a token embedding the CausalLM reuses as its LM
//! head (`ReversibleEmbedding`, tied: these backbones have no untied option).
//!
//! Differences from transformers, in the rows only: opt's position table has
//! `max_sequence_length` rows (transformers adds 2 for its offset); gpt_neox ties its LM
//! head (transformers' `embed_out` is untied by default, so the config says
//! `tie_word_embeddings`).
use serde_json::json;

use super::blocks::{
    dense, embedding, layer_norm, layer_rows, norm_row, seq_shape, token_embedding,
    transformer_block, Args, Heads, Row,
};
use super::Backbone;
use crate::error::Result;
use crate::weight::{dim, Weight};

/// The sizes these three share.
struct Sizes {
    vocab: u64,
    layers: u64,
    heads: u64,
    hidden: u64,
    inter: u64,
    head_dim: u64,
    dropout: f64,
}

fn sizes(a: &Args, vocab_key: &str) -> Result<Sizes> {
    let hidden = a.dim("hidden_dim")?;
    let heads = a.dim("num_heads")?;
    Ok(Sizes {
        vocab: a.dim(vocab_key)?,
        layers: a.dim("num_layers")?,
        heads,
        hidden,
        inter: a.dim("intermediate_dim")?,
        head_dim: a.per_head(("hidden_dim", hidden), ("num_heads", heads))?,
        dropout: a.float_or("dropout", 0.1)?,
    })
}

fn heads(s: &Sizes) -> Heads {
    Heads {
        hidden: s.hidden,
        q: s.heads,
        kv: s.heads,
        head_dim: s.head_dim,
    }
}

/// The tied token embedding the CausalLM reuses as its LM head.
fn reversible_token_embedding(s: &Sizes) -> Row {
    token_embedding(s.vocab, s.hidden, true)
}

/// `num_layers` copies of `block` as `transformer_layer_{i}` rows, then the final
/// `layer_norm`.
fn push_decoder_stack(rows: &mut Vec<Row>, s: &Sizes, class: &str, block: &[Weight]) {
    rows.extend(layer_rows(s.layers, class, s.hidden, block));
    rows.push(norm_row(
        "layer_norm",
        "LayerNormalization",
        s.hidden,
        false,
    ));
}

pub fn gpt2(a: &Args) -> Result<Backbone> {
    let s = sizes(a, "vocabulary_size")?;
    let max_seq = a.dim_or("max_sequence_length", 1024)?;
    let h = s.hidden;
    let token_row = reversible_token_embedding(&s);
    let token_weights = token_row.weights.clone();
    let mut position = Vec::new();
    embedding(&mut position, "", max_seq, h);
    let mut rows = vec![
        Row::input("token_ids"),
        token_row,
        Row::new(
            "position_embedding",
            "PositionEmbedding",
            seq_shape(Some(h)),
            position,
        ),
        Row::plain("embeddings_add", "Add", h),
        Row::plain("embeddings_dropout", "Dropout", h),
        Row::input("padding_mask"),
    ];
    let block = transformer_block(
        "self_attention",
        "self_attention_layer_norm",
        heads(&s),
        s.inter,
    );
    push_decoder_stack(&mut rows, &s, "TransformerDecoder", &block);
    let hf = json!({
        "model_type": "gpt2", "vocab_size": s.vocab, "n_positions": max_seq, "n_embd": h,
        "n_layer": s.layers, "n_head": s.heads, "n_inner": s.inter,
        "embd_pdrop": s.dropout, "attn_pdrop": s.dropout, "resid_pdrop": s.dropout,
        "tie_word_embeddings": true,
    });
    Ok(Backbone::decoder(
        hf,
        rows,
        s.hidden,
        s.vocab,
        token_weights,
    ))
}

pub fn opt(a: &Args) -> Result<Backbone> {
    let s = sizes(a, "vocabulary_size")?;
    let max_seq = a.dim_or("max_sequence_length", 2048)?;
    let h = s.hidden;
    let mut emb = Vec::new();
    embedding(&mut emb, "token_embedding", s.vocab, h);
    embedding(&mut emb, "position_embedding", max_seq, h);
    let emb_row = Row::new(
        "embeddings",
        "TokenAndPositionEmbedding",
        seq_shape(Some(h)),
        emb,
    );
    let token_weights = emb_row.weights[..1].to_vec();
    let mut rows = vec![Row::input("token_ids"), emb_row, Row::input("padding_mask")];
    let block = transformer_block(
        "self_attention",
        "self_attention_layer_norm",
        heads(&s),
        s.inter,
    );
    push_decoder_stack(&mut rows, &s, "TransformerDecoder", &block);
    let hf = json!({
        "model_type": "opt", "vocab_size": s.vocab, "hidden_size": h, "word_embed_proj_dim": h,
        "num_hidden_layers": s.layers, "num_attention_heads": s.heads, "ffn_dim": s.inter,
        "max_position_embeddings": max_seq, "do_layer_norm_before": true,
        "dropout": s.dropout, "attention_dropout": s.dropout, "tie_word_embeddings": true,
    });
    let mut b = Backbone::decoder(hf, rows, s.hidden, s.vocab, token_weights);
    b.lm_row_shows_vocab = true;
    Ok(b)
}

pub fn gpt_neox(a: &Args) -> Result<Backbone> {
    let s = Sizes {
        dropout: a.float_or("dropout", 0.0)?,
        ..sizes(a, "vocabulary_size")?
    };
    let max_seq = a.dim_or("max_sequence_length", 512)?;
    let h = s.hidden;
    let token_row = reversible_token_embedding(&s);
    let token_weights = token_row.weights.clone();
    let mut rows = vec![
        Row::input("token_ids"),
        token_row,
        Row::plain("embeddings_dropout", "Dropout", h),
        Row::input("padding_mask"),
    ];
    // one fused `query_key_value` EinsumDense `[hidden, heads, 3·head_dim]`
    let mut block = vec![
        Weight::new(
            "self_attention/query_key_value/kernel",
            vec![
                dim(h, "inputs"),
                dim(s.heads, "heads"),
                dim(3 * s.head_dim, "3 × head_dim"),
            ],
        ),
        Weight::new(
            "self_attention/query_key_value/bias",
            vec![dim(s.heads, "heads"), dim(3 * s.head_dim, "3 × head_dim")],
        ),
    ];
    dense(&mut block, "self_attention/attention_output", h, h, true);
    layer_norm(&mut block, "self_attention_layer_norm", h);
    dense(
        &mut block,
        "feedforward_intermediate_dense",
        h,
        s.inter,
        true,
    );
    dense(&mut block, "feedforward_output_dense", s.inter, h, true);
    layer_norm(&mut block, "feedforward_layer_norm", h);
    push_decoder_stack(&mut rows, &s, "GPTNeoXDecoder", &block);
    let hf = json!({
        "model_type": "gpt_neox", "vocab_size": s.vocab, "hidden_size": h,
        "num_hidden_layers": s.layers, "num_attention_heads": s.heads,
        "intermediate_size": s.inter, "max_position_embeddings": max_seq,
        "rotary_pct": a.float_or("rotary_percentage", 0.25)?,
        "rope_theta": a.float_or("rotary_max_wavelength", 10000.0)?,
        "use_parallel_residual": true, "tie_word_embeddings": true,
        "attention_dropout": s.dropout, "hidden_dropout": s.dropout,
    });
    Ok(Backbone::decoder(
        hf,
        rows,
        s.hidden,
        s.vocab,
        token_weights,
    ))
}
