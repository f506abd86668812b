//! `F.cross_entropy(logits, labels)` over `rows` rows of `classes` logits: log_softmax,
//! then nll_loss.
//!
//! Under autocast cross_entropy is an fp32 op: bf16 logits are first copied to fp32
//! (a transient). log_softmax's output (rows×classes) is saved (its backward uses the
//! output); nll_loss saves the labels and a scalar. Output: a scalar. Backward:
//! nll_loss_backward makes a zero-filled rows×classes gradient, log_softmax_backward a
//! second one, then (autocast) the cast back to the logits' dtype. `label_copies`
//! counts extra int64 label tensors the caller makes and the loss keeps (HF's shifted
//! labels: `pad` and `.contiguous()`), in numel.
use super::{bytes, Cost, Ctx, Out};
use crate::memory::graph::DType;
use crate::memory::Result;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrossEntropy {
    pub rows: u64,
    pub classes: u64,
    pub label_copies: Vec<u64>,
}

impl CrossEntropy {
    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        let n = crate::memory::mul(self.rows, self.classes)?;
        let in_dt = cx.in_dtype[0];
        let cast = cx.amp() && in_dt != DType::F32;
        let lsm_dt = if cx.amp() { DType::F32 } else { in_dt };
        let lsm = bytes(n, lsm_dt)?;
        let mut c = Cost {
            out: Some(Out::New {
                numel: 1,
                dtype: lsm_dt,
            }),
            ..Cost::default()
        };
        for &l in &self.label_copies {
            c.saved.push(bytes(l, DType::I64)?);
        }
        if cast {
            c.fwd_temp.push(bytes(n, DType::F32)?);
        }
        c.saved.push(lsm);
        c.bwd_temp.push(lsm); // nll_loss_backward's zero-filled gradient
        if cast {
            c.bwd_temp.push(lsm); // log_softmax_backward's fp32 output before the cast
        }
        if !cx.record {
            c.fwd_temp.append(&mut c.saved);
            c.bwd_temp.clear();
        }
        Ok(c)
    }
}

/// `x.pow(2).mean()` (the oracle's loss for headless models, after `.float()`): pow
/// saves its input and makes an input-sized output that mean reduces to a scalar.
/// Backward: mean's expanded gradient and pow's `2·x` partial, input-sized each.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SquareMean;

impl SquareMean {
    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        let b = bytes(cx.in_numel[0], cx.in_dtype[0])?;
        let mut c = Cost {
            out: Some(Out::New {
                numel: 1,
                dtype: cx.in_dtype[0],
            }),
            ..Cost::default()
        };
        c.save_inputs.push(0);
        c.fwd_temp.push(b);
        c.bwd_temp = vec![b, b];
        Ok(c)
    }
}
