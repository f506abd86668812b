//! keras-hub's RWKV-7 recurrence (`rnn_generalized_delta_rule`, rwkv7_layer.py of
//! keras-hub 0.32) as its torch backend runs it when the optional `rwkv_ops` CUDA
//! kernels are not installed: a Python loop over the T positions (`ops.fori_loop`).
//!
//! What it computes (inputs r, w, k, v, a, b: batch×T×heads×N each, N the head size):
//! every input cast to fp32 (copies unless already fp32), the decay `exp(-exp(w))`, a
//! zero state S (batch×heads×N×N, fp32) and a zero output; per position
//! `S = S·w_t + (S @ a_t) @ b_t + v_t @ k_t` and `out[:, t] = S @ r_t`.
//! Saves (fp32, when autograd records): `exp(w)` and the decay (exp keeps its output);
//! the zero state and the state after every position (T + 1 of them: the next
//! position's product and matmul keep each); per position the contiguous copies
//! `torch.matmul` makes of the five N-vectors it reads through `[:, t]` views (a batch
//! and a heads axis that do not merge) and `S @ a_t` (batch×heads×N each); under
//! autocast the two bf16 copies of each state its matmuls read. Transients: the fp32
//! copies of non-fp32 inputs, `-exp(w)`, and per position three state-sized
//! intermediates. Backward: state-sized gradients and one full-size zero gradient
//! per `[:, t]` view (`select_backward`) before it is accumulated.
//! FLOPs: the four matmuls per position and head, 8·N² (S @ a_t is N×N·N×1, the two
//! outer products N×1·1×N, S @ r_t N×N·N×1); backward two per matmul, but the first
//! position's `S @ a_t`, whose zero state needs no gradient.
use super::{bytes, mm_flops, prod, Cost, Ctx, Out};
use crate::memory::graph::DType;
use crate::memory::{mul, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wkv7 {
    pub batch: u64,
    pub seq: u64,
    pub heads: u64,
    pub head_size: u64,
}

impl Wkv7 {
    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        let (b, t, h, n) = (self.batch, self.seq, self.heads, self.head_size);
        let full = prod(&[b, t, h, n])?;
        let f32 = |numel: u64| bytes(numel, DType::F32);
        let state = f32(prod(&[b, h, n, n])?)?;
        let vector = bytes(prod(&[b, h, n])?, cx.mm_dtype())?;
        let mut c = Cost {
            // `out = zeros((B, T, H, N), r.dtype)`, written in place per position
            out: Some(Out::New {
                numel: full,
                dtype: cx.in_dtype[0],
            }),
            ..Cost::default()
        };
        // exp(w) and exp(-exp(w)); the zero state
        c.saved = vec![f32(full)?, f32(full)?, state];
        let mut per_step = vec![state];
        per_step.extend([vector; 6]);
        if cx.amp() {
            let half = bytes(prod(&[b, h, n, n])?, DType::BF16)?;
            per_step.extend([half, half]);
        }
        for _ in 0..t {
            c.saved.extend_from_slice(&per_step);
        }
        let casts = cx.in_dtype.iter().filter(|&&d| d != DType::F32).count();
        c.fwd_temp = vec![f32(full)?; casts];
        // -exp(w); S·w_t, (S @ a_t) @ b_t and their sum, alive together
        c.fwd_temp.extend([f32(full)?, state, state, state]);
        c.bwd_temp = vec![f32(full)?, state, state, state];
        let per_head = mul(4, mm_flops(n, n, 1)?)?;
        c.flops_fwd = prod(&[b, h, t, per_head])?;
        c.flops_bwd = if cx.record {
            // 2× every matmul, less the first position's S @ a_t (zero state)
            let first = prod(&[b, h, mm_flops(n, n, 1)?])?;
            mul(2, c.flops_fwd)?.saturating_sub(first)
        } else {
            0
        };
        Ok(c)
    }
}
