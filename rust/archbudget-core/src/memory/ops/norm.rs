//! Normalisation layers.
use super::{bytes, AmpCast, Cost, Ctx, Out, Param};
use crate::memory::graph::DType;
use crate::memory::Result;

/// `nn.BatchNorm2d(C)` (cuDNN batch norm).
///
/// Weights: γ, β (C each). Buffers: running_mean, running_var (C, fp32) and
/// num_batches_tracked (one int64) — buffers, not parameters, in PyTorch.
/// Output: same shape and dtype as the input (autocast leaves batch_norm alone: bf16 in,
/// bf16 out, fp32 statistics). Training saves the input, save_mean and save_invstd
/// (C fp32 each) and cuDNN's reserve space (empty for spatial BN); eval saves nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchNorm2d {
    pub channels: u64,
}

impl BatchNorm2d {
    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        let pd = cx.param_dtype();
        let mut c = Cost::default();
        c.params.push(Param::new(self.channels, AmpCast::No));
        c.params.push(Param::new(self.channels, AmpCast::No));
        c.buffers = vec![(self.channels, pd), (self.channels, pd), (1, DType::I64)];
        c.out = Some(Out::New {
            numel: cx.in_numel[0],
            dtype: cx.in_dtype[0],
        });
        if cx.train_mode {
            c.save_inputs.push(0);
            let stat = bytes(self.channels, DType::F32)?;
            c.saved = vec![stat, stat];
            if !cx.record {
                c.fwd_temp = std::mem::take(&mut c.saved);
            }
        }
        Ok(c)
    }
}

/// `nn.LayerNorm(dim)` over `rows` rows.
///
/// Weights: γ (dim, when `weight`: `elementwise_affine`), β (dim, when `bias`). Under autocast layer_norm is an fp32 op: a
/// bf16 input is cast to fp32 first and the output is fp32. Saves the input, mean and
/// rstd (rows fp32 each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerNorm {
    pub rows: u64,
    pub dim: u64,
    pub weight: bool,
    pub bias: bool,
}

impl LayerNorm {
    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        let mut c = Cost::default();
        if self.weight {
            c.params.push(Param::new(self.dim, AmpCast::No));
        }
        if self.bias {
            c.params.push(Param::new(self.dim, AmpCast::No));
        }
        let out_dt = if cx.amp() { DType::F32 } else { cx.in_dtype[0] };
        let cast = cx.amp() && cx.in_dtype[0] != DType::F32;
        let stat = bytes(self.rows, DType::F32)?;
        if cx.record {
            if cast {
                c.saved.push(bytes(cx.in_numel[0], DType::F32)?);
            } else {
                c.save_inputs.push(0);
            }
            c.saved.extend([stat, stat]);
        } else {
            if cast {
                c.fwd_temp.push(bytes(cx.in_numel[0], DType::F32)?);
            }
            c.fwd_temp.extend([stat, stat]);
        }
        c.out = Some(Out::New {
            numel: cx.in_numel[0],
            dtype: out_dt,
        });
        Ok(c)
    }
}

/// HF `LlamaRMSNorm` (eager PyTorch ops, not a fused kernel):
/// `h = x.to(float32); var = h.pow(2).mean(-1, keepdim=True);
///  h = h * torch.rsqrt(var + eps); return weight * h.to(input_dtype)`.
///
/// Weights: weight (dim). Every intermediate is a tensor: with a bf16 input, the fp32
/// copy (saved by pow and by the multiply), pow's output (freed after mean), the rsqrt
/// (rows, saved), the normalised fp32 product (saved by nothing but its cast), its bf16
/// cast (saved by the weight multiply) and the output. With an fp32 input `.to` is a
/// no-op, so the input itself is saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RmsNorm {
    pub rows: u64,
    pub dim: u64,
}

impl RmsNorm {
    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        let mut c = Cost::default();
        c.params.push(Param::new(self.dim, AmpCast::No));
        let n = cx.in_numel[0];
        let in_dt = cx.in_dtype[0];
        let pd = cx.param_dtype();
        let f32 = bytes(n, DType::F32)?;
        let stat = bytes(self.rows, DType::F32)?;
        // weight (param dtype) * h.to(input dtype): promoted dtype
        let out_dt = if pd == DType::F32 || in_dt == DType::F32 {
            DType::F32
        } else {
            DType::BF16
        };
        let h_cast_needed = in_dt != DType::F32;
        if cx.record {
            // x.to(f32): a copy when x is bf16, else x itself (saved either way)
            if h_cast_needed {
                c.saved.push(f32);
            } else {
                c.save_inputs.push(0);
            }
            c.saved.push(stat); // rsqrt(var + eps), saved by the multiply
            c.fwd_temp.push(f32); // pow(2), freed once mean is taken
            if h_cast_needed {
                c.fwd_temp.push(f32); // h * rsqrt in fp32, freed after its cast
                c.saved.push(bytes(n, in_dt)?); // h.to(bf16), saved by weight * h
            } else {
                c.saved.push(f32); // h * rsqrt (fp32), saved by weight * h
            }
        } else {
            if h_cast_needed {
                c.fwd_temp.push(f32);
            }
            c.fwd_temp.extend([f32, f32, stat]);
        }
        c.out = Some(Out::New {
            numel: n,
            dtype: out_dt,
        });
        Ok(c)
    }
}
