//! KerasHub's RoformerV2 lowered into the op graph from the arch its reader makes
//! (`formats::keras_hub::roformer_v2::lowered`): the keras-hub layers as Keras runs them
//! on its torch backend, one step on `token_ids` and `segment_ids`. There is no
//! transformers twin (transformers' `roformer` is v1; the reader says where it differs),
//! so this is bert's post-norm block as `hf_encoders.rs` lowers it, with what v2 changes:
//! - embeddings: token and segment lookups, summed, a `RoformerNorm`, dropout; no
//!   positions (rotary); the attention mask `token_ids != 0` (bool, batch×seq);
//! - `RoformerNorm` is an RMS norm with one scale (cast to fp32, `x·rsqrt(mean(x²)+ε)`,
//!   times the scale, cast back): llama's [`RmsNorm`] op, whose scale multiplies after
//!   the cast back;
//! - each layer: q/k/v `Dense` (`heads × head_size` wide, biased only with `use_bias`),
//!   the rotary angles (sin and cos, seq×head_size, computed per call), q and k rotated,
//!   the mask repeated to batch×seq×seq (torch backend's `ops.repeat`) and given to SDPA
//!   as `attn_mask` (no dropout on the probabilities), `o` Dense, dropout, residual,
//!   norm; `feedforward_intermediate_dense` with its activation, the output Dense,
//!   dropout (the same layer), residual, norm; no final norm;
//! - the masked LM's head is the token embedding's table alone (`reverse=True`, no bias),
//!   run on every token as the transformers masked LMs run theirs (`mask_positions`
//!   covering the sequence: its `take_along_axis` is one copy of the output), the logits
//!   cast to fp32, cross-entropy on them; the bare model's loss is the protocol's
//!   `x.float().pow(2).mean()`, a TextClassifier's few-unit head left out.
//!
//! Not modelled: the int64 indices `take_along_axis` broadcasts (batch×seq×hidden,
//! transients). LoRA and quantized weights are not lowered for RoformerV2.
use super::graph::{DType, Graph, InputKind};
use super::hf::Dropouts;
use super::hf_decoder::norm_op;
use super::ops::*;
use super::{mul, Result, RunSettings};
use crate::arch::{HeadKind, TransformerArch};

pub(super) fn graph(a: &TransformerArch, drop: &Dropouts, run: &RunSettings) -> Result<Graph> {
    run.refuse_for_encoder("RoformerV2", "KerasHub RoformerV2", "tokens")?;
    let act = super::keras::activation_op(&a.activation, "RoformerV2Backbone")?;
    let (b, s) = (run.batch, run.seq);
    let rows = mul(b, s)?;
    let (h, hd) = (a.hidden_size, a.head_dim);
    let width = mul(a.num_heads, hd)?;
    if width != h {
        return Err(crate::Error::invalid(
            "RoformerV2Backbone",
            format!("num_heads × head_size ({width}) must equal hidden_dim ({h}): keras-hub adds the attention output to the layer's input, so this model cannot run; set head_size to hidden_dim / num_heads"),
        ));
    }
    let lin = |inp: u64, out: u64, bias: bool| Op::Linear(Linear::new(rows, inp, out, bias));
    let norm = || norm_op(a.norm, rows, h);
    let lookup = |vocab: u64| {
        Op::Embedding(Embedding {
            tokens: rows,
            vocab,
            dim: h,
            tied: false,
        })
    };
    let mut g = Graph::default();

    // ---- embeddings
    let ids = g.input(rows, InputKind::Index);
    let segments = g.input(rows, InputKind::Index);
    let mask = g.push(Op::Cast(Cast { to: DType::Bool }), &[ids]);
    let tokens = g.push(lookup(a.vocab_size), &[ids]);
    let types = g.push(lookup(a.type_vocab_size), &[segments]);
    let mut x = g.push(Op::Add(Add), &[tokens, types]);
    x = g.push(norm(), &[x]);
    x = g.dropout(x, drop.embed);

    // ---- encoder
    // `sinusoidal_embeddings` per call: sin and cos, seq×head_size each
    let angle_numel = mul(s, hd)?;
    let angles = |g: &mut Graph| {
        g.push(
            Op::Fill(Fill {
                numel: angle_numel,
                dtype: None,
                buffer: None,
            }),
            &[],
        )
    };
    for _ in 0..a.num_layers {
        let q = g.push(lin(h, width, a.qkv_bias), &[x]);
        let k = g.push(lin(h, width, a.qkv_bias), &[x]);
        let v = g.push(lin(h, width, a.qkv_bias), &[x]);
        let sin = angles(&mut g);
        let cos = angles(&mut g);
        let q = g.push(Op::Rotary(Rotary), &[q, cos, sin]);
        let k = g.push(Op::Rotary(Rotary), &[k, cos, sin]);
        let repeated = g.push(
            Op::Copy(Copy {
                numel: Some(mul(rows, s)?),
            }),
            &[mask],
        );
        let att = g.push(
            Op::Attention(Attention {
                score_bias: true,
                ..Attention::plain(b, a.num_heads, s, s, hd, drop.attn)
            }),
            &[q, k, v, repeated],
        );
        let o = g.push(lin(width, width, a.o_bias), &[att]);
        let o = g.dropout(o, drop.resid);
        x = g.push(Op::Add(Add), &[x, o]);
        x = g.push(norm(), &[x]);
        let mut f = g.push(lin(h, a.intermediate_size, a.mlp_bias), &[x]);
        if let Some(kind) = act {
            f = g.push(Op::Act(Act { kind }), &[f]);
        }
        let f = g.push(lin(a.intermediate_size, h, a.mlp_bias), &[f]);
        let f = g.dropout(f, drop.resid);
        x = g.push(Op::Add(Add), &[x, f]);
        x = g.push(norm(), &[x]);
    }

    // ---- head and loss
    if a.head == HeadKind::Base {
        let hf = g.push(Op::Cast(Cast { to: DType::F32 }), &[x]);
        g.push(Op::SquareMean(SquareMean), &[hf]);
        g.train_only_tail = 2;
        g.infer_output = Some(x);
        return Ok(g);
    }
    let gathered = g.push(Op::Copy(Copy::default()), &[x]);
    let projection = Linear {
        rows,
        in_features: h,
        out_features: a.vocab_size,
        bias: false,
        tied_weight: true,
    };
    let logits = g.push(Op::Linear(projection), &[gathered]);
    let logits = g.push(Op::Cast(Cast { to: DType::F32 }), &[logits]);
    g.push(
        Op::CrossEntropy(CrossEntropy {
            rows,
            classes: a.vocab_size,
            label_copies: Vec::new(),
        }),
        &[logits, ids],
    );
    g.train_only_tail = 1;
    g.infer_output = Some(logits);
    Ok(g)
}
