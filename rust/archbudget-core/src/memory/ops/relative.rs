//! The learned pieces of Transformer-XL-style relative attention that are neither a
//! Linear nor an activation product (keras-hub's XLNet `TwoStreamRelativeAttention`,
//! `memory/hf_xlnet.rs`).
use super::{keep_input_for_weight_grad, mm_flops, prod, AmpCast, Cost, Ctx, Out, Param};
use crate::memory::graph::DType;
use crate::memory::Result;

/// `x + bias` with a learned `numel`-element bias broadcast over the input (XLNet's
/// `query + content_attention_bias`). Output of the input's size in the promoted dtype
/// (add is no autocast op: bf16 + fp32 → fp32). Saves nothing: dx is the gradient, and
/// dbias its sum over the broadcast axes. No FLOPs (elementwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BiasAdd {
    pub numel: u64,
}

impl BiasAdd {
    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        let dtype = if cx.in_dtype[0] == DType::F32 || cx.param_dtype() == DType::F32 {
            DType::F32
        } else {
            cx.in_dtype[0]
        };
        Ok(Cost {
            params: vec![Param::new(self.numel, AmpCast::No)],
            out: Some(Out::New {
                numel: cx.in_numel[0],
                dtype,
            }),
            ..Cost::default()
        })
    }
}

/// `einsum("bind,snd->bnis", x, W)`: each of `heads` heads' `rows × in_features` slice
/// of x times that head's own `in_features × out_features` matrix (XLNet's segment term
/// with `segment_encoding`). Weight: heads·in·out. Output rows×heads×out in the matmul
/// dtype. Saves the input for dW (its bf16 copy under autocast) and the weight for dx.
/// FLOPs: 2·rows·heads·in·out; backward one such product for dx when x requires grad
/// and one for dW.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadMatmul {
    pub rows: u64,
    pub heads: u64,
    pub in_features: u64,
    pub out_features: u64,
}

impl HeadMatmul {
    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        let dx = cx.grad(0);
        let mut c = Cost {
            params: vec![Param::new(
                prod(&[self.heads, self.in_features, self.out_features])?,
                AmpCast::Cast { saved: dx },
            )],
            out: Some(Out::New {
                numel: prod(&[self.rows, self.heads, self.out_features])?,
                dtype: cx.mm_dtype(),
            }),
            ..Cost::default()
        };
        keep_input_for_weight_grad(&mut c, cx)?;
        let rows = crate::memory::mul(self.rows, self.heads)?;
        let f = mm_flops(rows, self.in_features, self.out_features)?;
        c.flops_fwd = f;
        c.flops_bwd = crate::memory::mul(f, dx as u64 + cx.wgrad() as u64)?;
        Ok(c)
    }
}
