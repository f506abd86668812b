//! Pooling.
use super::{bytes, conv::ConvDim, prod, Cost, Ctx, Out};
use crate::memory::graph::DType;
use crate::memory::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolKind {
    /// `nn.MaxPool{1,2,3}d`: on CUDA `max_pool{2,3}d` always runs the `_with_indices`
    /// kernel (1-d pooling is the 2-d kernel on an unsqueezed view), so an int64 index
    /// tensor of the output's size is made even in inference (and freed); in training it
    /// is saved with the input.
    Max,
    /// `nn.AvgPool{1,2,3}d`: autograd saves the input (avg_pool_backward takes `self`).
    Avg,
}

/// Windowed pooling over 1–3 spatial dims (`dims`: kernel, stride, padding per dim; no
/// dilation). Output: batch×C×o… with o = (i + 2·pad − k) / stride + 1, the input's
/// dtype. No FLOPs counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    pub kind: PoolKind,
    pub batch: u64,
    pub channels: u64,
    pub dims: Vec<ConvDim>,
}

impl Pool {
    pub fn out_size(&self) -> Result<Vec<u64>> {
        self.dims.iter().map(|d| d.out(false)).collect()
    }

    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        let n = prod(&[self.batch, self.channels, prod(&self.out_size()?)?])?;
        let mut c = Cost {
            out: Some(Out::New {
                numel: n,
                dtype: cx.in_dtype[0],
            }),
            ..Cost::default()
        };
        if cx.record {
            c.save_inputs.push(0);
        }
        if self.kind == PoolKind::Max {
            let idx = bytes(n, DType::I64)?;
            if cx.record {
                c.saved.push(idx);
            } else {
                c.fwd_temp.push(idx);
            }
        }
        Ok(c)
    }
}

/// `nn.AdaptiveAvgPool{1,2,3}d(1)`: ATen computes it as `x.mean(spatial dims,
/// keepdim=True)`, whose backward keeps only the shape. Output: batch×C.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalAvgPool {
    pub batch: u64,
    pub channels: u64,
}

impl GlobalAvgPool {
    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        let n = crate::memory::mul(self.batch, self.channels)?;
        Ok(Cost {
            out: Some(Out::New {
                numel: n,
                dtype: cx.in_dtype[0],
            }),
            ..Cost::default()
        })
    }
}
