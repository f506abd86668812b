//! The selective scan of a Mamba mixer, as transformers' PyTorch fallback runs it (the
//! path taken whenever the optional `mamba-ssm` / `causal-conv1d` CUDA kernels are not
//! installed, and on every device but CUDA): `mamba_selective_scan` (mamba1: a Python
//! loop over positions) and `mamba2_chunk_scan` (mamba2: einsums over chunks).
//!
//! What it computes, mamba1 (inputs: u = the convolution's output B×D×L, dt = dt_proj's
//! output B×D×L, x_proj's output holding B and C, in_proj's output holding the gate z):
//! `dA = exp(A·softplus(dt + bias))`, `dBu = dt·B·u` (both B×D×L×N, fp32), then per
//! position `s = dA[:,:,t]·s + dBu[:,:,t]`, `y_t = s @ C_t`, and `y = (y + u·D)·silu(z)`.
//! mamba2 (inputs: the convolution's output holding x, B, C; in_proj's output holding dt
//! per head): B and C repeated to every head of their group, the sequence padded to
//! whole chunks of Q, and five einsums: the intra-chunk scores C·B (B·h·T·Q·n), their
//! product with x (B·h·T·Q·p), the chunk states (B·h·T·p·n), the inter-chunk recurrence
//! ((c+1)²·B·h·p·n) and the states' output (B·h·T·n·p); plus `D·x`.
//! Weights: `A_log`, `D` (mamba1 D×N and D; mamba2 one each per head, with `dt_bias`).
//! Saves (fp32): mamba1 dt (twice: before and after softplus), dA and dB·u's factor
//! (B×D×L×N each), the state after every position when autograd records (L × B×D×N,
//! kept by the loop's matmuls), the gated product's operands; mamba2 the repeated B and C, x·dt, the
//! segment-sum decays, C·B and its masked copy, the decayed B, the chunk states and C's
//! product with them. The loop's step outputs, dB·u and the segment sums' intermediates
//! are transients; backward accumulates full-size gradients of dA and dB·u (mamba1) or
//! of the scores (mamba2).
//! FLOPs: only the matrix products (the loop's `s @ C_t` batched matmuls, the einsums),
//! as flop_counter counts them; the elementwise work (exp, softplus, the decays, the
//! recurrence's multiply-add) is not counted. Backward: each product twice (both
//! operands require grad).
use super::{bytes, mm_flops, prod, AmpCast, Cost, Ctx, Out, Param};
use crate::arch::{Ssm, SsmVersion};
use crate::memory::graph::DType;
use crate::memory::{add, mul, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectiveScan {
    pub ssm: Ssm,
    pub batch: u64,
    pub seq: u64,
}

impl SelectiveScan {
    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        match self.ssm.version {
            SsmVersion::Mamba1 => self.mamba1(cx),
            SsmVersion::Mamba2 => self.mamba2(cx),
        }
    }

    /// Inputs: [u, dt, x_proj output (B and C), in_proj output (z)], or with jamba's
    /// norms [u, dt, B, z, C].
    fn mamba1(&self, cx: &Ctx) -> Result<Cost> {
        let s = &self.ssm;
        let (b, l, d, n) = (self.batch, self.seq, s.d_inner, s.d_state);
        let e = prod(&[b, d, l])?;
        let full = mul(e, n)?;
        let f32 = |numel: u64| bytes(numel, DType::F32);
        let mut c = Cost {
            params: vec![
                Param::new(mul(d, n)?, AmpCast::No),
                Param::new(d, AmpCast::No),
            ],
            out: Some(Out::New {
                numel: e,
                dtype: DType::F32,
            }),
            // u (for u·D and dB·u), B and C (their products), z (silu's input)
            save_inputs: (0..cx.in_numel.len()).filter(|&i| i != 1).collect(),
            ..Cost::default()
        };
        // dt + bias and softplus(dt); dA (exp's output), dt·B (kept by its product with
        // u), the state after each position; y + u·D and silu(z) for the gate's product
        c.saved = vec![f32(e)?, f32(e)?, f32(full)?, f32(full)?];
        if cx.record {
            // without autograd each step's state is freed by the next
            c.saved.push(f32(full)?);
        }
        c.saved.extend([f32(e)?, bytes(e, cx.in_dtype[3])?]);
        if cx.in_dtype[0] != DType::F32 {
            // `hidden_states[..., None].float()`
            c.saved.push(f32(e)?);
        }
        // dB·u, the loop's step outputs before `stack`, u·D (A·dt is freed by exp
        // before dB·u exists)
        c.fwd_temp = vec![f32(full)?, f32(e)?, f32(e)?];
        c.bwd_temp = vec![f32(full)?, f32(full)?, f32(full)?];
        c.flops_fwd = prod(&[b, l, mm_flops(d, n, 1)?])?;
        c.flops_bwd = if cx.record { mul(2, c.flops_fwd)? } else { 0 };
        Ok(c)
    }

    /// Inputs: [convolution output (x, B, C), in_proj output (dt)].
    fn mamba2(&self, cx: &Ctx) -> Result<Cost> {
        let s = &self.ssm;
        let (b, l, h, n) = (self.batch, self.seq, s.heads, s.d_state);
        let p = s.d_inner / h;
        let q = s.chunk_size;
        let chunks = l.div_ceil(q);
        let t = mul(chunks, q)?;
        let f32 = |numel: u64| bytes(numel, DType::F32);
        let x = prod(&[b, l, h, p])?;
        let x_padded = prod(&[b, t, h, p])?;
        let bc = prod(&[b, t, h, n])?;
        let scores = prod(&[b, h, t, q])?;
        let states = prod(&[b, add(chunks, 1)?, h, p, n])?;
        let mut c = Cost {
            params: vec![Param::new(h, AmpCast::No); 3],
            out: Some(Out::New {
                numel: x,
                dtype: DType::F32,
            }),
            save_inputs: vec![0],
            ..Cost::default()
        };
        // B and C repeated per head, x·dt, exp(segment_sum) and C·B and its masked
        // copy, the decayed B, the chunk states, C's product with them, D's padded x
        c.saved = vec![
            f32(bc)?,
            f32(bc)?,
            f32(x_padded)?,
            f32(scores)?,
            f32(scores)?,
            f32(scores)?,
            f32(bc)?,
            f32(states)?,
            f32(x_padded)?,
        ];
        if t != l || cx.in_dtype[0] != DType::F32 {
            c.saved.push(f32(x_padded)?);
        }
        // segment_sum's masked, summed and masked copies; the diagonal and off-diagonal
        // outputs and their sum
        c.fwd_temp = vec![f32(scores)?, f32(scores)?, f32(scores)?];
        c.fwd_temp
            .extend([f32(x_padded)?, f32(x_padded)?, f32(x_padded)?]);
        c.bwd_temp = vec![f32(scores)?, f32(scores)?, f32(x_padded)?, f32(x_padded)?];
        let per_head = [
            mm_flops(t, q, n)?,
            mm_flops(t, q, p)?,
            mm_flops(t, p, n)?,
            prod(&[2, add(chunks, 1)?, add(chunks, 1)?, p, n])?,
            mm_flops(t, n, p)?,
        ];
        let total = per_head.iter().try_fold(0u64, |acc, &f| add(acc, f))?;
        c.flops_fwd = prod(&[b, h, total])?;
        c.flops_bwd = if cx.record { mul(2, c.flops_fwd)? } else { 0 };
        Ok(c)
    }
}
