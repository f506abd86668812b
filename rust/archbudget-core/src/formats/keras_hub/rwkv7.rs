//! keras-hub's RWKV7Backbone: token embedding, `num_layers` RWKV-7 blocks (a shared
//! `dropout` after each), `output_norm` and its own vocabulary `head`. RWKV7CausalLM is
//! a functional model on the backbone's own inputs and outputs: the same rows.
//!
//! Weights (rwkv7_layer.py): per `rwkv_layer_i` LayerNorms (gamma, beta) `att_norm`,
//! `ffn_norm` and, in the first block only, `init_norm`; the time mix's six token-shift
//! mixes `x_r, x_w, x_k, x_v, x_a, x_g` `[hidden]`, the low-rank decay
//! (`w0 [hidden]`, `w1 [hidden, decay_lora]`, `w2`), in-context learning rate (`a0, a1,
//! a2`, `aaa_lora`), value residual (`v0, v1, v2`, `mv_lora`; not in the first block,
//! whose value is the one the others mix in), gate (`g1, g2`, `gate_lora`), `k_k`, `k_a`
//! `[hidden]`, `r_k [heads, head_size]`, bias-free receptance/key/value/output
//! `[hidden, hidden]` and a `heads`-group GroupNorm; the channel mix's `x_k [hidden]`
//! and bias-free key `[hidden, intermediate_dim]` and value `[intermediate_dim, hidden]`.
//!
//! No transformers twin (transformers 5.24 has RWKV-4's `rwkv` only): `memory` lowers
//! the keras-hub layers themselves ([`lowered`], run by `memory/rwkv7.rs`).
use super::blocks::{dense, embedding, layer_norm, seq_shape, Args, Row};
use super::call_order::{self, CallGraph};
use super::{Backbone, Classifier};
use crate::arch::{HeadKind, TransformerArch};
use crate::error::Result;
use crate::formats::hf::Head;
use crate::memory::hf::Dropouts;
use crate::weight::{dim, Weight};

/// The `model_type` of the arch [`lowered`] makes (a keras-hub family, never a
/// transformers config's).
pub const MODEL_TYPE: &str = "keras_hub_rwkv7";

/// The ranks of the time mix's low-rank projections (keras-hub's defaults 128, 32, 64,
/// 64).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rwkv7Lora {
    pub gate: u64,
    pub value: u64,
    pub in_context: u64,
    pub decay: u64,
}

fn loras(a: &Args) -> Result<Rwkv7Lora> {
    Ok(Rwkv7Lora {
        gate: a.dim_or("gate_lora", 128)?,
        value: a.dim_or("mv_lora", 32)?,
        in_context: a.dim_or("aaa_lora", 64)?,
        decay: a.dim_or("decay_lora", 64)?,
    })
}

/// What `memory` runs: the backbone as a [`TransformerArch`] (`head_dim` the head size,
/// `intermediate_size` the channel mix's width, the ranks in `details.rwkv7`), its
/// vocabulary `head` always there (the backbone's output is logits), and `dropout_rate`
/// after each block.
pub fn lowered(a: &Args, head: Head) -> Result<(TransformerArch, Dropouts)> {
    let hidden = a.dim("hidden_size")?;
    let head_size = a.dim("head_size")?;
    let heads = a.per_head(("hidden_size", hidden), ("head_size", head_size))?;
    let dropout = a.float_or("dropout_rate", 0.0)?;
    let mut arch = TransformerArch {
        head: match head {
            Head::Base => HeadKind::Base,
            Head::CausalLm => HeadKind::CausalLm,
        },
        vocab_size: a.dim("vocabulary_size")?,
        head_dim: head_size,
        activation: "relu".to_string(),
        qkv_bias: false,
        o_bias: false,
        mlp_bias: false,
        // a recurrence: no positions, no longest sequence
        ..TransformerArch::decoder(
            MODEL_TYPE,
            hidden,
            a.dim("num_layers")?,
            heads,
            a.dim("intermediate_dim")?,
        )
    };
    arch.details.rwkv7 = Some(loras(a)?);
    let dropouts = Dropouts {
        embed: 0.0,
        attn: 0.0,
        resid: dropout,
        activation: 0.0,
    };
    Ok((arch, dropouts))
}

const INPUTS: &[&str] = &["token_ids", "padding_mask"];

pub fn backbone(a: &Args) -> Result<Backbone> {
    let hidden = a.dim("hidden_size")?;
    let head_size = a.dim("head_size")?;
    let heads = a.per_head(("hidden_size", hidden), ("head_size", head_size))?;
    let layers = a.dim("num_layers")?;
    let vocab = a.dim("vocabulary_size")?;
    let inter = a.dim("intermediate_dim")?;
    let l = loras(a)?;
    let (gate, mv, aaa, decay) = (l.gate, l.value, l.in_context, l.decay);

    let seq = |w: u64| seq_shape(Some(w));
    let mut rows: Vec<Row> = INPUTS.iter().map(|n| Row::input(n)).collect();
    let mut token = Vec::new();
    embedding(&mut token, "", vocab, hidden);
    let token_row = Row::new("token_embedding", "Embedding", seq(hidden), token);
    let token_weights = token_row.weights.clone();
    rows.push(token_row);
    let vector =
        |name: &str| Weight::new(format!("time_mix/{name}"), vec![dim(hidden, "features")]);
    let low_rank = |w: &mut Vec<Weight>, prefix: &str, rank: u64| {
        w.push(Weight::new(
            format!("time_mix/{prefix}1"),
            vec![dim(hidden, "features"), dim(rank, "rank")],
        ));
        w.push(Weight::new(
            format!("time_mix/{prefix}2"),
            vec![dim(rank, "rank"), dim(hidden, "features")],
        ));
    };
    for i in 0..layers {
        let first = i == 0;
        let mut w = Vec::new();
        if first {
            layer_norm(&mut w, "init_norm", hidden);
        }
        layer_norm(&mut w, "att_norm", hidden);
        layer_norm(&mut w, "ffn_norm", hidden);
        for mix in [
            "x_r", "x_w", "x_k", "x_v", "x_a", "x_g", "w0", "a0", "k_k", "k_a",
        ] {
            w.push(vector(mix));
        }
        low_rank(&mut w, "w", decay);
        low_rank(&mut w, "a", aaa);
        if !first {
            w.push(vector("v0"));
            low_rank(&mut w, "v", mv);
        }
        low_rank(&mut w, "g", gate);
        w.push(Weight::new(
            "time_mix/r_k",
            vec![dim(heads, "heads"), dim(head_size, "head_size")],
        ));
        for proj in ["receptance", "key", "value", "output_layer"] {
            dense(&mut w, &format!("time_mix/{proj}"), hidden, hidden, false);
        }
        layer_norm(&mut w, "time_mix/ln_x", hidden);
        w.push(Weight::new(
            "channel_mix/x_k",
            vec![dim(hidden, "features")],
        ));
        dense(&mut w, "channel_mix/key", hidden, inter, false);
        dense(&mut w, "channel_mix/value", inter, hidden, false);
        rows.push(Row {
            // the block returns the sequence and the first block's value
            output_shape: None,
            ..Row::new(format!("rwkv_layer_{i}"), "RWKV7_Block", Vec::new(), w)
        });
    }
    rows.push(Row::plain("dropout", "Dropout", hidden));
    let mut norm = Vec::new();
    layer_norm(&mut norm, "", hidden);
    rows.push(Row::new(
        "output_norm",
        "LayerNormalization",
        seq(hidden),
        norm,
    ));
    let mut head = Vec::new();
    dense(&mut head, "", hidden, vocab, false);
    rows.push(Row::new("head", "Dense", seq(vocab), head));
    let rows = call_order::ordered(rows, call_graph(layers));
    Ok(Backbone {
        hf_config: None,
        rows,
        hidden,
        vocab,
        embed_dim: hidden,
        token_weights,
        inputs: INPUTS,
        pooled: false,
        classifier: Classifier::None,
        lm_row_shows_vocab: false,
    })
}

/// The calls `RWKV7Backbone.__init__` makes, for the order of its rows.
fn call_graph(layers: u64) -> (CallGraph, Vec<usize>) {
    let mut g = CallGraph::default();
    let ids = g.input("token_ids");
    let mask = g.input("padding_mask");
    let mut x = g.call("token_embedding", &[ids]);
    let mask = g.op("cast", &[mask]);
    let mut v_first = None;
    for i in 0..layers {
        // x, the first block's value (none before the first block), the mask
        let mut inputs = vec![x];
        inputs.extend(v_first);
        inputs.push(mask);
        let out = g.call(&format!("rwkv_layer_{i}"), &inputs);
        v_first = Some(out);
        x = g.call("dropout", &[out]);
    }
    let x = g.call("output_norm", &[x]);
    let out = g.call("head", &[x]);
    (g, vec![out])
}
