//! Pooling.
use super::{bytes, prod, Cost, Ctx, Out};
use crate::memory::graph::DType;
use crate::memory::Result;

/// `nn.MaxPool2d(kernel, stride)` (no padding). Output: batch×C×oh×ow with
/// oh = (h − k) / s + 1. On CUDA `max_pool2d` always runs `max_pool2d_with_indices`, so
/// an int64 index tensor of the output's size is made even in inference (and freed);
/// in training it is saved with the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaxPool2d {
    pub batch: u64,
    pub channels: u64,
    pub in_hw: (u64, u64),
    pub kernel: u64,
    pub stride: u64,
}

impl MaxPool2d {
    pub fn out_hw(&self) -> Result<(u64, u64)> {
        let o = |i: u64| -> Result<u64> {
            if i < self.kernel || self.stride == 0 {
                return Err(crate::Error::shape(
                    "MaxPool2d",
                    format!("pool size {} larger than input {i}", self.kernel),
                ));
            }
            Ok((i - self.kernel) / self.stride + 1)
        };
        Ok((o(self.in_hw.0)?, o(self.in_hw.1)?))
    }

    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        let (oh, ow) = self.out_hw()?;
        let n = prod(&[self.batch, self.channels, oh, ow])?;
        let idx = bytes(n, DType::I64)?;
        let mut c = Cost {
            out: Some(Out::New {
                numel: n,
                dtype: cx.in_dtype[0],
            }),
            ..Cost::default()
        };
        if cx.record {
            c.save_inputs.push(0);
            c.saved.push(idx);
        } else {
            c.fwd_temp.push(idx);
        }
        Ok(c)
    }
}

/// `nn.AdaptiveAvgPool2d(1)`: ATen computes it as `x.mean((-1, -2), keepdim=True)`,
/// whose backward keeps only the shape. Output: batch×C.
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
