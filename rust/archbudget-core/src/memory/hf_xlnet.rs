//! KerasHub's XLNetBackbone lowered into the op graph from the arch its reader makes
//! (`formats::keras_hub::xlnet::lowered`): the keras-hub layers as Keras runs them on
//! its torch backend, one step on `token_ids`, `padding_mask` and `segment_ids`, the
//! content stream alone (the backbone passes no query stream). The reader says where
//! transformers' `xlnet` differs. Per step:
//! - `ContentAndQueryEmbedding`: the word lookup and dropout; the relative positions
//!   (2·seq of them: sin and cos, times a `ones` tensor 2·seq × batch × hidden), dropout;
//!   `XLNetAttentionMaskLayer`'s float content mask (batch×seq×seq) and the segment
//!   matrix (bool, batch×seq×seq); the mask layer's `mask_emb` is never read;
//! - each `XLNetEncoder`: q, k, v (`EinsumDense`, no bias) and the positions' `encoding`
//!   projection (2·seq rows, no input gradient); the content term `(q + content bias)·kᵀ`,
//!   the positional term `(q + positional bias)·rᵀ` (seq × 2·seq) and its relative shift
//!   (two reshaping copies), the segment term `(q + segment bias)` times
//!   `segment_encoding` per head, spread over seq×seq by a `where`; the three summed and
//!   scaled, keras's masked softmax (a `where` before, the softmax's saved output, a
//!   `where` after), `·v`, the output projection, dropout, residual, LayerNorm; the
//!   feed-forward (biased) with dropout after its activation and after it, residual,
//!   LayerNorm;
//! - the final dropout, and the protocol's `x.float().pow(2).mean()` as the loss.
//!
//! Not modelled: the int32 intermediates of the mask and segment layers (batch×seq×seq,
//! transients before the encoder) and einsum's internal contiguous copies beyond those
//! named. LoRA and quantized weights are not lowered for XLNet.
use super::graph::{DType, Graph, InputKind, ValueId};
use super::hf::Dropouts;
use super::hf_decoder::norm_op;
use super::ops::*;
use super::{mul, Result, RunSettings};
use crate::arch::TransformerArch;

pub(super) fn graph(a: &TransformerArch, drop: &Dropouts, run: &RunSettings) -> Result<Graph> {
    run.refuse_for_encoder("XLNet", "KerasHub XLNet", "tokens")?;
    let act = super::keras::activation_op(&a.activation, "XLNetBackbone")?;
    let (b, s) = (run.batch, run.seq);
    let rows = mul(b, s)?;
    let (h, n, d) = (a.hidden_size, a.num_heads, a.head_dim);
    let width = mul(n, d)?;
    let positions = mul(2, s)?;
    let bn = mul(b, n)?;
    let scores = mul(bn, mul(s, s)?)?;
    let lin =
        |rows: u64, inp: u64, out: u64, bias: bool| Op::Linear(Linear::new(rows, inp, out, bias));
    let norm = || norm_op(a.norm, rows, h);
    let fill = |g: &mut Graph, numel: u64, dtype: Option<DType>| {
        g.push(
            Op::Fill(Fill {
                numel,
                dtype,
                buffer: None,
            }),
            &[],
        )
    };
    let copy =
        |g: &mut Graph, x: ValueId, numel: u64| g.push(Op::Copy(Copy { numel: Some(numel) }), &[x]);
    let matmul = |m, k, n| Op::Matmul(Matmul { batch: bn, m, k, n });
    let mut g = Graph::default();

    // ---- embeddings, positions, masks
    let ids = g.input(rows, InputKind::Index);
    g.input(rows, InputKind::Index); // padding_mask
    g.input(rows, InputKind::Index); // segment_ids
    let word = g.push(
        Op::Embedding(Embedding {
            tokens: rows,
            vocab: a.vocab_size,
            dim: h,
            tied: false,
        }),
        &[ids],
    );
    let mut x = g.dropout(word, drop.embed);
    let sinusoid = fill(&mut g, mul(positions, h)?, None);
    let ones = fill(&mut g, mul(positions, mul(b, h)?)?, None);
    let pos_emb = g.push(Op::Mul(Mul), &[ones, sinusoid]);
    let pos_emb = g.dropout(pos_emb, drop.embed);
    g.push(Op::UnusedParam(UnusedParam { numel: h }), &[]); // mask_emb
    let content_mask = fill(&mut g, mul(b, mul(s, s)?)?, Some(DType::F32));
    let segment_matrix = fill(&mut g, mul(b, mul(s, s)?)?, Some(DType::Bool));

    // ---- encoder
    for _ in 0..a.num_layers {
        let q = g.push(lin(rows, h, width, false), &[x]);
        let k = g.push(lin(rows, h, width, false), &[x]);
        let v = g.push(lin(rows, h, width, false), &[x]);
        let r = g.push(lin(mul(b, positions)?, h, width, false), &[pos_emb]);
        let bias = || Op::BiasAdd(BiasAdd { numel: width });
        let qc = g.push(bias(), &[q]);
        let content = g.push(matmul(s, d, s), &[qc, k]);
        let qp = g.push(bias(), &[q]);
        let positional = g.push(matmul(s, d, positions), &[qp, r]);
        // `_rel_shift`: transpose and reshape (a copy), slice, reshape again (a copy)
        let shifted = copy(&mut g, positional, mul(bn, mul(s, positions)?)?);
        let shifted = copy(&mut g, shifted, mul(bn, mul(s, positions - 1)?)?);
        let qs = g.push(bias(), &[q]);
        let segment = g.push(
            Op::HeadMatmul(HeadMatmul {
                rows,
                heads: n,
                in_features: d,
                out_features: a.type_vocab_size,
            }),
            &[qs],
        );
        // `where(segment_matrix, segment[..., 1:], segment[..., :1])` at seq×seq
        let segment = g.push(
            Op::Copy(Copy {
                numel: Some(scores),
            }),
            &[segment, segment_matrix],
        );
        let sum = g.push(Op::Add(Add), &[content, shifted]);
        let sum = g.push(Op::Add(Add), &[sum, segment]);
        let scaled = g.push(Op::Add(Add), &[sum]);
        // keras's `Softmax(mask=...)`: `mask > 0.5`, a `where` on each side
        let keep = g.push(Op::Cast(Cast { to: DType::Bool }), &[content_mask]);
        let masked = copy(&mut g, scaled, scores);
        let probs = g.push(
            Op::Act(Act {
                kind: ActKind::Softmax,
            }),
            &[masked],
        );
        let probs = g.push(Op::Copy(Copy::default()), &[probs, keep]);
        let probs = g.dropout(probs, drop.attn);
        let context = g.push(matmul(s, s, d), &[probs, v]);
        let o = g.push(lin(rows, width, h, false), &[context]);
        let o = g.dropout(o, drop.resid);
        x = g.push(Op::Add(Add), &[o, x]);
        x = g.push(norm(), &[x]);
        let mut f = g.push(lin(rows, h, a.intermediate_size, true), &[x]);
        if let Some(kind) = act {
            f = g.push(Op::Act(Act { kind }), &[f]);
        }
        let f = g.dropout(f, drop.activation);
        let f = g.push(lin(rows, a.intermediate_size, h, true), &[f]);
        let f = g.dropout(f, drop.resid);
        x = g.push(Op::Add(Add), &[f, x]);
        x = g.push(norm(), &[x]);
    }
    x = g.dropout(x, drop.resid);

    // ---- loss
    let hf = g.push(Op::Cast(Cast { to: DType::F32 }), &[x]);
    g.push(Op::SquareMean(SquareMean), &[hf]);
    g.train_only_tail = 2;
    g.infer_output = Some(x);
    Ok(g)
}
