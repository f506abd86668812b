//! Linear-attention layers ([`LinearAttention`]: qwen3_next's Gated DeltaNet) lowered
//! into the op graph of [`super::hf`], as transformers runs them without the fla and
//! causal-conv1d kernels (the torch fallback it uses on any machine lacking them):
//! `torch_chunk_gated_delta_rule` for prefill and training, and for each decoded token
//! `torch_recurrent_gated_delta_rule` on a fixed-size state.
//!
//! What it does that costs memory: `in_proj_qkvz` and `in_proj_ba`; q, k and v copied
//! out of their head-grouped layout and joined (`torch.cat`) for a depthwise causal
//! conv1d (`F.conv1d` with kernel − 1 padding, sliced) and SiLU; β = sigmoid(b) and the
//! decay `−exp(A_log)·softplus(a + dt_bias)`; the rule itself in fp32 (q and k repeated
//! over the value heads when grouped, L2-normalised, padded to 64-position chunks),
//! with per chunk kβ·kᵀ and q·kᵀ products, two unit-triangular solves, and a scan over
//! chunks that reads and updates a key_head_dim × value_head_dim state per value head;
//! a gated RMSNorm (`norm(x) · silu(z)`) then `out_proj`.
//!
//! The cache (`LinearAttentionLayer`): the last `kernel` positions of q‖k‖v in the
//! activations' dtype and the fp32 recurrent state, both fixed in size however many
//! tokens are decoded.
use super::graph::{CacheGrowth, DType, Graph, ValueId};
use super::lora::{Linears, Module};
use super::ops::*;
use super::{add, mul, Precision, Result};
use crate::arch::LinearAttention;

/// `torch_chunk_gated_delta_rule`'s `chunk_size`.
const CHUNK: u64 = 64;

/// What one layer's linear attention reads.
pub(super) struct LinearIn {
    /// The normalised hidden states (batch·seq × hidden).
    pub x: ValueId,
    pub batch: u64,
    pub seq: u64,
    pub hidden: u64,
    pub use_cache: bool,
    pub precision: Precision,
}

/// One Gated DeltaNet layer up to and including `out_proj`; the value it returns.
pub(super) fn gated_delta_net(
    g: &mut Graph,
    lx: &mut Linears,
    la: LinearAttention,
    p: &LinearIn,
) -> Result<ValueId> {
    let (batch, seq) = (p.batch, p.seq);
    let rows = mul(batch, seq)?;
    let (kd, vd, cd) = (la.key_dim(), la.value_dim(), la.conv_dim());
    let (hv, dk, dv) = (la.num_value_heads, la.key_head_dim, la.value_head_dim);
    let fp32 = p.precision == Precision::Fp32;
    // the activations' dtype: the projections' output (bf16 under autocast and in bf16)
    let act_dt = if fp32 { DType::F32 } else { DType::BF16 };
    let lin = |i: u64, o: u64| Linear {
        rows,
        in_features: i,
        out_features: o,
        bias: false,
        tied_weight: false,
    };
    let view = |g: &mut Graph, v: ValueId, numel: u64| {
        g.push(Op::SelectLast(SelectLast { out_numel: numel }), &[v])
    };
    let copy =
        |g: &mut Graph, v: ValueId, numel: u64| g.push(Op::Copy(Copy { numel: Some(numel) }), &[v]);
    // `.to(float32, memory_format=contiguous)` of a transposed view: a copy either way
    let to_f32 = |g: &mut Graph, v: ValueId| match fp32 {
        true => g.push(Op::Copy(Copy::default()), &[v]),
        false => g.push(Op::Cast(Cast { to: DType::F32 }), &[v]),
    };
    let qkvz = lx.push(
        g,
        Module::linear("in_proj_qkvz"),
        lin(p.hidden, add(cd, vd)?),
        p.x,
    )?;
    let ba = lx.push(
        g,
        Module::linear("in_proj_ba"),
        lin(p.hidden, mul(2, hv)?),
        p.x,
    )?;
    let mixed = copy(g, qkvz, mul(rows, cd)?);
    if p.use_cache {
        hold_state(g, prod(&[batch, cd, la.conv_kernel])?, act_dt);
    }
    let conv = g.push(
        Op::Conv(Conv {
            batch,
            in_channels: cd,
            out_channels: cd,
            dims: vec![ConvDim::new(seq, la.conv_kernel, 1, la.conv_kernel - 1)],
            groups: cd,
            bias: false,
            transposed: false,
            shared_weights: false,
        }),
        &[mixed],
    );
    let conv = view(g, conv, mul(rows, cd)?);
    let conv = g.push(
        Op::Act(Act {
            kind: ActKind::Silu,
        }),
        &[conv],
    );
    let z = copy(g, qkvz, mul(rows, vd)?);
    let b = copy(g, ba, mul(rows, hv)?);
    let beta = g.push(
        Op::Act(Act {
            kind: ActKind::Sigmoid,
        }),
        &[b],
    );
    // `-A_log.exp() * softplus(a.float() + dt_bias)`: one parameter per value head each
    let a_in = copy(g, ba, mul(rows, hv)?);
    let a_in = g.push(Op::Cast(Cast { to: DType::F32 }), &[a_in]);
    let decay = g.push(Op::Scale(Scale { numel: hv }), &[a_in]);
    let decay = g.push(Op::Scale(Scale { numel: hv }), &[decay]);

    // ---- torch_chunk_gated_delta_rule, in fp32
    let chunks = seq.div_ceil(CHUNK);
    let padded = mul(chunks, CHUNK)?;
    let bh = mul(batch, hv)?;
    let heads_rows = mul(rows, hv)?;
    let q_or_k = mul(rows, kd)?;
    let mut qk = [view(g, conv, q_or_k), view(g, conv, q_or_k)];
    for (i, x) in qk.iter_mut().enumerate() {
        if la.num_key_heads != hv {
            // `repeat_interleave` over the value heads
            *x = copy(g, *x, mul(heads_rows, dk)?);
        }
        let f = to_f32(g, *x);
        let op = FusedRmsNorm {
            rows: heads_rows,
            dim: dk,
            weight: false,
        };
        *x = g.push(Op::FusedRmsNorm(op), &[f]);
        if i == 0 {
            // `query * head_dim ** -0.5`
            *x = g.push(Op::Add(Add), &[*x]);
        }
        *x = copy(g, *x, prod(&[bh, padded, dk])?);
    }
    let [q, k] = qk;
    let v = view(g, conv, mul(rows, vd)?);
    let v = to_f32(g, v);
    let v = copy(g, v, prod(&[bh, padded, dv])?);
    let beta = to_f32(g, beta);
    let cum = copy(g, decay, mul(bh, padded)?);
    let v_beta = g.push(Op::Mul(Mul), &[v, beta]);
    let k_beta = g.push(Op::Mul(Mul), &[k, beta]);
    let pairwise = copy(g, cum, prod(&[bh, chunks, CHUNK, CHUNK])?);
    let mm = |g: &mut Graph, batch: u64, m: u64, kk: u64, n: u64, ins: &[ValueId]| {
        g.push(Op::Matmul(Matmul { batch, m, k: kk, n }), ins)
    };
    let bn = mul(bh, chunks)?;
    let kkt = mm(g, bn, CHUNK, dk, CHUNK, &[k_beta, k]);
    let ut = g.push(Op::Mul(Mul), &[kkt, pairwise]);
    let qkt = mm(g, bn, CHUNK, dk, CHUNK, &[q, k]);
    let intra = g.push(Op::Mul(Mul), &[qkt, pairwise]);
    let cum_exp = copy(g, cum, mul(bh, padded)?);
    let decayed_k_beta = g.push(Op::Mul(Mul), &[k_beta, cum_exp]);
    let solve = |g: &mut Graph, rhs: u64, b: ValueId| {
        let op = TriangularSolve {
            batch: bn,
            n: CHUNK,
            rhs,
        };
        g.push(Op::TriangularSolve(op), &[ut, b])
    };
    let new_values = solve(g, dv, v_beta);
    let k_cumdecay = solve(g, dk, decayed_k_beta);
    let q = g.push(Op::Mul(Mul), &[q, cum_exp]);
    let k = g.push(Op::Mul(Mul), &[k, cum_exp]);
    let state0 = g.push(
        Op::Fill(Fill {
            numel: prod(&[bh, dk, dv])?,
            dtype: Some(DType::F32),
            buffer: None,
        }),
        &[],
    );
    // the scan: chunk 0 reads the zero state (no gradient to it); chunks 1.. read the
    // states the earlier chunks wrote, lowered as one batch of chunks − 1; the last
    // chunk's update feeds only the cache, off the loss's path
    let mut outs = Vec::new();
    let mut previous = None;
    for count in [1, chunks - 1] {
        if count == 0 {
            continue;
        }
        let n = mul(bh, count)?;
        let part = |g: &mut Graph, v: ValueId, per_chunk: u64| -> Result<ValueId> {
            Ok(view(g, v, mul(n, per_chunk)?))
        };
        let state = match previous {
            None => state0,
            Some(v_new) => {
                let keys = part(g, k, CHUNK * dk)?;
                mm(g, n, dk, CHUNK, dv, &[keys, v_new])
            }
        };
        let reads = part(g, k_cumdecay, CHUNK * dk)?;
        let reads = mm(g, n, CHUNK, dk, dv, &[reads, state]);
        let values = part(g, new_values, CHUNK * dv)?;
        let v_new = g.push(Op::Add(Add), &[values, reads]);
        let queries = part(g, q, CHUNK * dk)?;
        let inter = mm(g, n, CHUNK, dk, dv, &[queries, state]);
        let scores = part(g, intra, CHUNK * CHUNK)?;
        let within = mm(g, n, CHUNK, CHUNK, dv, &[scores, v_new]);
        outs.push(g.push(Op::Add(Add), &[inter, within]));
        previous = Some(v_new);
    }
    if let Some(v_new) = previous {
        let keys = view(g, k, mul(bh, CHUNK * dk)?);
        mm(g, bh, dk, CHUNK, dv, &[keys, v_new]);
    }
    if p.use_cache {
        hold_state(g, prod(&[bh, dk, dv])?, DType::F32);
    }
    let core = g.push(
        Op::Copy(Copy {
            numel: Some(prod(&[bh, padded, dv])?),
        }),
        &outs,
    );
    let core = view(g, core, mul(rows, vd)?);
    let core = match fp32 {
        true => g.push(Op::Copy(Copy::default()), &[core]),
        false => g.push(Op::Cast(Cast { to: act_dt }), &[core]),
    };

    // ---- Qwen3NextRMSNormGated over each value head, then out_proj
    let normed = g.push(
        Op::RmsNorm(RmsNorm {
            rows: heads_rows,
            dim: dv,
            keeps_input: false,
        }),
        &[core],
    );
    let z = g.push(Op::Cast(Cast { to: DType::F32 }), &[z]);
    let gate = g.push(
        Op::Act(Act {
            kind: ActKind::Silu,
        }),
        &[z],
    );
    let gated = g.push(Op::Mul(Mul), &[normed, gate]);
    let gated = g.push(Op::Cast(Cast { to: act_dt }), &[gated]);
    lx.push(g, Module::linear("out_proj"), lin(vd, p.hidden), gated)
}

/// A cache state of `numel` elements (`LinearAttentionLayer` allocates it once and
/// copies into it): kept while the model's output lives, the same size at every token.
fn hold_state(g: &mut Graph, numel: u64, dtype: DType) {
    let state = g.push(
        Op::Fill(Fill {
            numel,
            dtype: Some(dtype),
            buffer: None,
        }),
        &[],
    );
    g.forward_held.push(state);
    g.held_caches.push((state, CacheGrowth::Fixed));
}
