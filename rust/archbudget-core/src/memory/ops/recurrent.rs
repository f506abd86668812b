//! `nn.LSTM(input, hidden, num_layers, batch_first=True)` on cuDNN.
//!
//! Weights per layer: W_ih (4H×in), W_hh (4H×H), b_ih (4H), b_hh (4H) — two bias vectors,
//! as PyTorch declares them. Built on the GPU the module flattens them into cuDNN's one
//! weight buffer, so no copy is made per call. Output: batch×seq×H (plus h_n, c_n:
//! layers×batch×H each, dropped by the caller).
//! `_cudnn_rnn` first makes the batch-first input contiguous in seq-first order (a
//! copy); in training it returns cuDNN's reserve space, which backward keeps with the
//! input, the output and the weights; backward makes a contiguous seq-first copy of the
//! output gradient, dx, and one flat zero-filled weight gradient.
//! Autocast does not lower cuDNN RNNs to bf16 here (the measured amp and fp32 peaks
//! agree), so the LSTM runs in its input's dtype.
//! FLOPs (the matmuls of the gates): 2·B·S·4H·(in + H) per layer forward, twice that
//! backward (dx and dW); torch's counter sees them only when the RNN is decomposed.
use super::{bytes, prod, AmpCast, Cost, Ctx, Out, Param};
use crate::memory::Result;

/// Calibrated: cuDNN's reserve-space size is opaque (cudnnGetRNNTempSpaceSizes).
/// Fitted per token, per layer, in multiples of H elements of the compute dtype.
pub const LSTM_RESERVE_H: u64 = 6;
/// Calibrated: cuDNN's forward-training workspace, per token per layer, multiples of H.
pub const LSTM_FWD_WORKSPACE_H: u64 = 0;
/// Calibrated: cuDNN's backward workspace, per token (all layers), multiples of H.
pub const LSTM_BWD_WORKSPACE_H: u64 = 6;
/// Calibrated: inference workspace per token (all layers), multiples of H. The measured
/// inference peaks do not scale cleanly with tokens or layers (the inference path is
/// not the fused training kernel: torch's counter sees its per-step matmuls), so this is
/// a rough fit of the dev cases.
pub const LSTM_INFER_WORKSPACE_H: u64 = 6;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lstm {
    pub batch: u64,
    pub seq: u64,
    pub input_size: u64,
    pub hidden: u64,
    pub layers: u64,
}

impl Lstm {
    pub fn params(&self) -> Result<Vec<u64>> {
        let g = crate::memory::mul(4, self.hidden)?;
        let mut v = Vec::new();
        for l in 0..self.layers {
            let inp = if l == 0 { self.input_size } else { self.hidden };
            v.push(crate::memory::mul(g, inp)?);
            v.push(crate::memory::mul(g, self.hidden)?);
            v.push(g);
            v.push(g);
        }
        Ok(v)
    }

    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        let dt = cx.in_dtype[0];
        let tokens = crate::memory::mul(self.batch, self.seq)?;
        let th = crate::memory::mul(tokens, self.hidden)?;
        let thl = crate::memory::mul(th, self.layers)?;
        let mut c = Cost::default();
        for n in self.params()? {
            c.params.push(Param::new(n, AmpCast::No));
        }
        c.out = Some(Out::New {
            numel: th,
            dtype: dt,
        });
        let x_copy = bytes(cx.in_numel[0], dt)?;
        let hc = bytes(prod(&[self.layers, self.batch, self.hidden])?, dt)?;
        c.fwd_temp = vec![x_copy, hc, hc];
        let g = crate::memory::mul(4, self.hidden)?;
        let mut f = 0u64;
        for l in 0..self.layers {
            let inp = if l == 0 { self.input_size } else { self.hidden };
            let per = prod(&[2, tokens, g, crate::memory::add(inp, self.hidden)?])?;
            f = crate::memory::add(f, per)?;
        }
        c.flops_fwd = f;
        if !cx.record {
            c.fwd_temp
                .push(bytes(crate::memory::mul(th, LSTM_INFER_WORKSPACE_H)?, dt)?);
        }
        if cx.record {
            c.save_inputs.push(0);
            c.save_output = true;
            c.saved
                .push(bytes(crate::memory::mul(thl, LSTM_RESERVE_H)?, dt)?);
            c.fwd_temp
                .push(bytes(crate::memory::mul(thl, LSTM_FWD_WORKSPACE_H)?, dt)?);
            c.bwd_temp = vec![
                bytes(th, dt)?,
                bytes(crate::memory::mul(th, LSTM_BWD_WORKSPACE_H)?, dt)?,
            ];
            let first_dx = prod(&[2, tokens, g, self.input_size])?;
            // dx through every layer, and dW unless frozen
            c.flops_bwd = crate::memory::mul(f, 1 + cx.wgrad() as u64)?;
            if !cx.grad(0) {
                c.flops_bwd -= first_dx;
            }
        }
        Ok(c)
    }
}
