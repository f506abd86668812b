//! `nn.Conv2d` (cuDNN).
//!
//! Weights: W (out×in/groups×kh×kw), b (out). Output: batch×out×oh×ow with
//! oh = (h + 2·pad − kh) / stride + 1. Saves: the input and W (the bfloat16 copies under
//! autocast). FLOPs as flop_counter's conv_flop_count: 2·batch·out·oh·ow·(in/groups)·kh·kw
//! forward; backward the same again for dx (when the input requires grad), and `groups`
//! times it for dW (conv_backward_flop counts the weight gradient as a convolution over
//! all in×out channel pairs, grouped or not).
use super::{keep_input_for_weight_grad, prod, AmpCast, Cost, Ctx, Out, Param};
use crate::memory::graph::DType;
use crate::memory::Result;

/// Calibrated: the workspace cuDNN's heuristically chosen forward algorithm asks for
/// when the input has many channels, in bytes per output element, fp32 (TF32) and bf16
/// (cudnnGetConvolutionForwardWorkspaceSize is not knowable offline). Fitted on the H100
/// dev cases: a 3-channel stem needs none; 32→32 … 512→512 3×3 convolutions about
/// 8 B per output element in fp32 (TF32), 3.5 B in bf16.
pub const CONV_WORKSPACE_PER_OUT_F32: u64 = 8;
/// bf16: half-bytes per output element (7 / 2 = 3.5 B).
pub const CONV_WORKSPACE_HALF_BYTES_PER_OUT_BF16: u64 = 7;
/// Input channels from which the fp32 workspace above applies.
pub const CONV_WORKSPACE_MIN_IN: u64 = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conv2d {
    pub batch: u64,
    pub in_channels: u64,
    pub out_channels: u64,
    pub kernel: (u64, u64),
    pub stride: (u64, u64),
    pub padding: (u64, u64),
    pub groups: u64,
    pub bias: bool,
    pub in_hw: (u64, u64),
}

impl Conv2d {
    pub fn out_hw(&self) -> Result<(u64, u64)> {
        let o = |i: u64, k: u64, s: u64, p: u64| -> Result<u64> {
            let padded = i
                .checked_add(2u64.saturating_mul(p))
                .ok_or_else(crate::memory::overflow)?;
            if padded < k || s == 0 {
                return Err(crate::Error::shape(
                    "Conv2d",
                    format!("kernel {k} larger than padded input {padded}"),
                ));
            }
            Ok((padded - k) / s + 1)
        };
        Ok((
            o(self.in_hw.0, self.kernel.0, self.stride.0, self.padding.0)?,
            o(self.in_hw.1, self.kernel.1, self.stride.1, self.padding.1)?,
        ))
    }

    pub fn out_numel(&self) -> Result<u64> {
        let (oh, ow) = self.out_hw()?;
        prod(&[self.batch, self.out_channels, oh, ow])
    }

    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        let dt = cx.mm_dtype();
        let groups = self.groups.max(1);
        let cin_g = self.in_channels / groups;
        let dx = cx.grad(0);
        let mut c = Cost::default();
        let w = prod(&[self.out_channels, cin_g, self.kernel.0, self.kernel.1])?;
        c.params.push(Param::new(w, AmpCast::Cast { saved: dx }));
        if self.bias {
            c.params.push(Param::new(
                self.out_channels,
                AmpCast::Cast { saved: false },
            ));
        }
        keep_input_for_weight_grad(&mut c, cx)?;
        let (oh, ow) = self.out_hw()?;
        let out = prod(&[self.batch, self.out_channels, oh, ow])?;
        c.out = Some(Out::New {
            numel: out,
            dtype: dt,
        });
        if self.in_channels >= CONV_WORKSPACE_MIN_IN {
            let ws = if dt == DType::F32 {
                crate::memory::mul(out, CONV_WORKSPACE_PER_OUT_F32)?
            } else {
                crate::memory::mul(out, CONV_WORKSPACE_HALF_BYTES_PER_OUT_BF16)? / 2
            };
            c.fwd_temp.push(ws);
        }
        let f = prod(&[
            2,
            self.batch,
            self.out_channels,
            oh,
            ow,
            cin_g,
            self.kernel.0,
            self.kernel.1,
        ])?;
        c.flops_fwd = f;
        let dw = crate::memory::mul(f, groups)?;
        c.flops_bwd = crate::memory::add(
            crate::memory::mul(f, dx as u64)?,
            crate::memory::mul(dw, cx.wgrad() as u64)?,
        )?;
        Ok(c)
    }
}
