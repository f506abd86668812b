//! D-FINE's decoder (keras-hub's `DFineDecoder`, transformers' `DFineDecoder` op for op):
//! per layer, the query positions (`query_pos_head` on the detached reference boxes),
//! post-norm self-attention with the positions added to q and k, the multi-scale
//! deformable cross-attention (sampling offsets and attention weights from the queries,
//! `grid_sample` of each level's values at the sampled locations, or indexing for the
//! `discrete` method, weighted and summed; no value or output projection), the gated
//! residual (`gateway`), the FFN; then the box head's distribution over `max_num_bins + 1`
//! bins per edge (refined across layers, integrated against the weighting function),
//! and the class head with its localization-quality estimator (every layer in training,
//! the `eval_idx` layer alone in inference, as transformers runs it).
use super::d_fine::Net;
use super::graph::{DType, ValueId};
use super::ops::*;
use super::Result;
use crate::formats::keras_hub::d_fine::{DFine, MAX_NUM_BINS, TOP_PROB_VALUES};

/// What the query selection hands the decoder.
pub(super) struct Queries {
    /// The initial queries (batch × queries × hidden).
    pub(super) target: ValueId,
    /// Their reference boxes (detached logits, batch × queries × 4).
    pub(super) reference: ValueId,
    /// The flattened sources (batch × tokens × hidden).
    pub(super) memory: ValueId,
    /// Each source's height and width.
    pub(super) levels: Vec<(u64, u64)>,
    /// Queries per image (the denoising ones included).
    pub(super) queries: u64,
}

/// Parameters of an MLP of `layers` biased linears.
fn mlp_params((input, hidden, out): (u64, u64, u64), layers: u64) -> u64 {
    (0..layers)
        .map(|i| {
            let d_in = if i == 0 { input } else { hidden };
            let d_out = if i + 1 == layers { out } else { hidden };
            d_in * d_out + d_out
        })
        .sum()
}

/// The deformable cross-attention of queries `x` (positions added) on `q.memory`.
fn deformable(
    n: &mut Net,
    x: ValueId,
    reference: ValueId,
    q: &Queries,
    d: &DFine,
) -> Result<ValueId> {
    let c = &d.config;
    let (b, h, heads) = (n.batch, c.hidden, c.decoder_heads);
    let rows = b * q.queries;
    let points: u64 = c.points.iter().sum();
    let offsets = n.linear(x, rows, (h, heads * points * 2));
    let weights = n.linear(x, rows, (h, heads * points));
    let weights = n.act(weights, ActKind::Softmax);
    // offset = offsets * num_points_scale * reference wh; locations = reference xy + offset
    let scale = Fill {
        numel: points,
        dtype: Some(DType::F32),
        buffer: Some((points, DType::F32)),
    };
    let scale = n.op(Op::Fill(scale), &[]);
    let offset = n.op(Op::Mul(Mul), &[offsets, scale]);
    let offset = n.op(Op::Mul(Mul), &[offset, reference]);
    let locations = n.op(Op::Add(Add), &[reference, offset]);
    let grid_numel = rows * heads * points * 2;
    // grid_sample's [-1, 1] grid (`2 * loc - 1`), per head: permuted, flattened
    let grids = match c.discrete {
        false => {
            let grids = n.op(Op::Add(Add), &[locations]);
            n.copy(&[grids], grid_numel)
        }
        true => n.copy(&[locations], grid_numel),
    };
    // the values per head: (batch·heads, head_dim, tokens), split per level
    let value = n.copy(
        &[q.memory],
        prod(&[b, q.levels.iter().map(|(y, x)| y * x).sum(), h])?,
    );
    let mut samples = Vec::with_capacity(q.levels.len());
    for (&(lh, lw), &p) in q.levels.iter().zip(&c.points) {
        let level = n.op(
            Op::SelectLast(SelectLast {
                out_numel: b * lh * lw * h,
            }),
            &[value],
        );
        let level = n.copy(&[level], b * lh * lw * h);
        let grid = n.op(
            Op::SelectLast(SelectLast {
                out_numel: rows * heads * p * 2,
            }),
            &[grids],
        );
        let sampled = match c.discrete {
            // rounded integer coordinates, read by advanced indexing
            true => {
                let index = n.fill(&[grid], rows * heads * p * 2, Some(DType::I64));
                n.copy(&[level, index], rows * h * p)
            }
            false => n.op(
                Op::GridSample(GridSample {
                    out_numel: rows * h * p,
                }),
                &[level, grid],
            ),
        };
        samples.push(sampled);
    }
    let samples = n.copy(&samples, rows * h * points);
    let weights = n.copy(&[weights], rows * heads * points);
    let weighted = n.op(Op::Mul(Mul), &[samples, weights]);
    let summed = n.copy(&[weighted], rows * h);
    Ok(n.copy(&[summed], rows * h))
}

/// One decoder layer on queries `x` with positions `pos`.
fn layer(
    n: &mut Net,
    x: ValueId,
    pos: ValueId,
    reference: ValueId,
    q: &Queries,
    d: &DFine,
) -> Result<ValueId> {
    let c = &d.config;
    let (b, h, heads) = (n.batch, c.hidden, c.decoder_heads);
    let rows = b * q.queries;
    let qk_in = n.op(Op::Add(Add), &[x, pos]);
    let qs = n.linear(qk_in, rows, (h, h));
    let ks = n.linear(qk_in, rows, (h, h));
    let vs = n.linear(x, rows, (h, h));
    let attention = Attention::plain(b, heads, q.queries, q.queries, h / heads, 0.0);
    let y = n.op(Op::Attention(attention), &[qs, ks, vs]);
    let y = n.linear(y, rows, (h, h));
    let y = n.op(Op::Add(Add), &[x, y]);
    let x = n.layer_norm(y, rows, h);
    let cross_in = n.op(Op::Add(Add), &[x, pos]);
    let cross = deformable(n, cross_in, reference, q, d)?;
    // gateway: sigmoid gates on cat(residual, cross), a gated sum, LayerNorm
    let both = n.copy(&[x, cross], rows * 2 * h);
    let gates = n.linear(both, rows, (2 * h, 2 * h));
    let gates = n.act(gates, ActKind::Sigmoid);
    let g1 = n.op(
        Op::SelectLast(SelectLast {
            out_numel: rows * h,
        }),
        &[gates],
    );
    let g2 = n.op(
        Op::SelectLast(SelectLast {
            out_numel: rows * h,
        }),
        &[gates],
    );
    let a = n.op(Op::Mul(Mul), &[g1, x]);
    let z = n.op(Op::Mul(Mul), &[g2, cross]);
    let y = n.op(Op::Add(Add), &[a, z]);
    let x = n.layer_norm(y, rows, h);
    let y = n.linear(x, rows, (h, c.decoder_ffn));
    let y = n.act(y, ActKind::Relu);
    let y = n.linear(y, rows, (c.decoder_ffn, h));
    let y = n.op(Op::Add(Add), &[x, y]);
    let y = n.copy(&[y], rows * h);
    Ok(n.layer_norm(y, rows, h))
}

/// The decoder; the class logits and boxes the detector returns (views of the stacked
/// per-layer outputs, which the model returns too).
pub(super) fn decoder(
    n: &mut Net,
    q: &Queries,
    d: &DFine,
    train: bool,
) -> Result<(ValueId, ValueId)> {
    let c = &d.config;
    let h = c.hidden;
    let rows = n.batch * q.queries;
    let bins = MAX_NUM_BINS + 1;
    let stat = 4 * (TOP_PROB_VALUES + 1);
    // the weighting function W(n) the bin probabilities integrate against
    let project = n.fill(&[], bins, None);
    for _ in 0..2 {
        // reg_scale and up: frozen scalars
        let scalar = Fill {
            numel: 1,
            dtype: None,
            buffer: Some((1, DType::F32)),
        };
        n.op(Op::Fill(scalar), &[]);
    }
    let mut reference = n.act(q.reference, ActKind::Sigmoid);
    let mut x = q.target;
    let mut initial = reference;
    let (mut detached, mut corners) = (None, None);
    let (mut hidden, mut logits, mut boxes) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..c.decoder_layers {
        // query_pos_head: one MLP for every layer
        let pos = n.mlp_again(reference, rows, (4, 2 * h, h), 2, i > 0);
        let pos = n.copy(&[pos], rows * h);
        x = layer(n, x, pos, reference, q, d)?;
        let heads = train || i == c.eval_idx;
        if i == 0 {
            let pre = n.mlp(x, rows, (h, h, 4), 3);
            let unact = n.fill(&[reference], rows * 4, None);
            let first = n.op(Op::Add(Add), &[pre, unact]);
            let first = n.act(first, ActKind::Sigmoid);
            initial = n.fill(&[first], rows * 4, None);
            if heads {
                boxes.push(first);
            }
        }
        let input = match detached {
            Some(prev) => n.op(Op::Add(Add), &[x, prev]),
            None => n.op(Op::Add(Add), &[x]),
        };
        let mut pred = n.mlp(input, rows, (h, h, 4 * bins), 3);
        if let Some(prev) = corners {
            pred = n.op(Op::Add(Add), &[pred, prev]);
        }
        corners = Some(pred);
        // the integral: softmax over each edge's bins, times W(n) (`F.linear` on a vector
        // weight: a matrix-vector product, which flop_counter does not count)
        let probs = n.act(pred, ActKind::Softmax);
        let distance = n.copy(&[probs, project], rows * 4);
        let scaled = n.op(Op::Mul(Mul), &[distance, initial]);
        let refined = n.copy(&[scaled, initial], rows * 4);
        reference = n.fill(&[refined], rows * 4, None);
        detached = Some(n.fill(&[x], rows * h, None));
        hidden.push(x);
        if heads {
            let scores = n.linear(x, rows, (h, c.labels));
            if i == 0 {
                logits.push(scores);
            }
            let probs = n.act(pred, ActKind::Softmax);
            let top = n.copy(&[probs], rows * 4 * TOP_PROB_VALUES);
            let mean = n.copy(&[top], rows * 4);
            let features = n.copy(&[top, mean], rows * stat);
            let quality = n.mlp(features, rows, (stat, c.lqe_hidden, 1), c.lqe_layers);
            logits.push(n.op(Op::Add(Add), &[scores, quality]));
            boxes.push(refined);
        } else {
            n.unused(h * c.labels + c.labels + mlp_params((stat, c.lqe_hidden, 1), c.lqe_layers));
        }
    }
    n.copy(&hidden, hidden.len() as u64 * rows * h);
    let logits = n.copy(&logits, logits.len() as u64 * rows * c.labels);
    let boxes = n.copy(&boxes, boxes.len() as u64 * rows * 4);
    let last = |n: &mut Net, v: ValueId, numel: u64| {
        n.op(Op::SelectLast(SelectLast { out_numel: numel }), &[v])
    };
    Ok((last(n, logits, rows * c.labels), last(n, boxes, rows * 4)))
}
