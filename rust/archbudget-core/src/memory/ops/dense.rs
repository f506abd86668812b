//! `nn.Linear` (and HF GPT-2's `Conv1D`, the same addmm with a transposed weight).
//!
//! Computes `x @ W.T + b` over `rows` rows (all leading dimensions of the input).
//! Weights: W (out×in), b (out). Output: rows×out.
//! Saves: the input (for dW = gᵀ·x) and W (for dx = g·W; W is a parameter, already
//! alive, except its bfloat16 autocast copy). Under autocast an fp32 input is first cast
//! to a bfloat16 copy, which is what autograd keeps. FLOPs: addmm = 2·rows·in·out (the
//! bias add is not counted); backward: one mm for dx (when the input requires grad) and
//! one for dW. The bias gradient is a sum over the rows, whose cross-block scratch
//! ([`outer_sum_scratch`]) lives while backward's outputs and saved tensors still do.
use super::{keep_input_for_weight_grad, mm_flops, AmpCast, Cost, Ctx, Out, Param};
use crate::memory::reduce::outer_sum_scratch;
use crate::memory::Result;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Linear {
    pub rows: u64,
    pub in_features: u64,
    pub out_features: u64,
    pub bias: bool,
    /// The weight is another op's parameter (an LM head tied to the token embedding).
    pub tied_weight: bool,
}

impl Linear {
    /// A linear layer with a weight of its own (not tied to another op's parameter).
    pub fn new(rows: u64, in_features: u64, out_features: u64, bias: bool) -> Linear {
        Linear {
            rows,
            in_features,
            out_features,
            bias,
            tied_weight: false,
        }
    }

    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        let dt = cx.mm_dtype();
        let w_numel = crate::memory::mul(self.in_features, self.out_features)?;
        let mut c = Cost::default();
        let dx = cx.grad(0);
        let mut w = Param::new(w_numel, AmpCast::Cast { saved: dx });
        w.shared = self.tied_weight;
        c.params.push(w);
        if self.bias {
            c.params.push(Param::new(
                self.out_features,
                AmpCast::Cast { saved: false },
            ));
        }
        keep_input_for_weight_grad(&mut c, cx)?;
        if self.bias && cx.wgrad() {
            let (staging, semaphores) = outer_sum_scratch(self.rows, self.out_features)?;
            c.bwd_temp.extend([staging, semaphores]);
        }
        c.out = Some(Out::New {
            numel: crate::memory::mul(self.rows, self.out_features)?,
            dtype: dt,
        });
        let f = mm_flops(self.rows, self.in_features, self.out_features)?;
        c.flops_fwd = f;
        c.flops_bwd = crate::memory::mul(f, dx as u64 + cx.wgrad() as u64)?;
        Ok(c)
    }
}
