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
        }
        Ok(c)
    }
}

/// `nn.LayerNorm(dim)` over `rows` rows.
///
/// Weights: γ (dim, when `weight`: `elementwise_affine`), β (dim, when `bias`). Saves the
/// input, mean and rstd (rows fp32 each); see [`fused_norm`] for autocast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerNorm {
    pub rows: u64,
    pub dim: u64,
    pub weight: bool,
    pub bias: bool,
}

impl LayerNorm {
    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        fused_norm(
            cx,
            self.dim,
            self.weight,
            self.bias,
            &[self.rows, self.rows],
            DType::F32,
        )
    }
}

/// `nn.GroupNorm(groups, channels)` (`native_group_norm`).
///
/// Weights: γ, β (channels each, when `affine`). Saves the input, mean and rstd (batch×groups each, in
/// the dtype the kernel computes in: fp32 under autocast, else the input's). See
/// [`fused_norm`] for autocast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupNorm {
    pub batch: u64,
    pub groups: u64,
    pub channels: u64,
    pub affine: bool,
}

impl GroupNorm {
    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        let stats = crate::memory::mul(self.batch, self.groups)?;
        let stat_dt = if cx.amp() { DType::F32 } else { cx.in_dtype[0] };
        fused_norm(
            cx,
            self.channels,
            self.affine,
            self.affine,
            &[stats, stats],
            stat_dt,
        )
    }
}

/// `nn.RMSNorm(dim)` over `rows` rows: `torch.rms_norm`, which on CUDA runs the fused
/// `_fused_rms_norm` kernel (not HF's eager formula, [`RmsNorm`]).
///
/// Weights: γ (dim, when `weight`). Saves the input and rstd (rows fp32); taken to run
/// in fp32 under autocast as layer_norm does ([`fused_norm`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FusedRmsNorm {
    pub rows: u64,
    pub dim: u64,
    pub weight: bool,
}

impl FusedRmsNorm {
    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        fused_norm(cx, self.dim, self.weight, false, &[self.rows], DType::F32)
    }
}

/// A fused normalisation kernel: weights of `affine` elements each (γ when `weight`, β
/// when `bias`), an output of the input's size, and `stats` statistics tensors (numel
/// each, of `stat_dt`) saved with the input. Under autocast layer_norm and group_norm
/// are fp32 ops: a bf16 input is cast to fp32 first (that copy is what is saved) and
/// the output is fp32.
fn fused_norm(
    cx: &Ctx,
    affine: u64,
    weight: bool,
    bias: bool,
    stats: &[u64],
    stat_dt: DType,
) -> Result<Cost> {
    let mut c = Cost::default();
    if weight {
        c.params.push(Param::new(affine, AmpCast::No));
    }
    if bias {
        c.params.push(Param::new(affine, AmpCast::No));
    }
    let out_dt = if cx.amp() { DType::F32 } else { cx.in_dtype[0] };
    let cast = cx.amp() && cx.in_dtype[0] != DType::F32;
    let stats = stats
        .iter()
        .map(|&n| bytes(n, stat_dt))
        .collect::<Result<Vec<_>>>()?;
    if cast {
        c.saved.push(bytes(cx.in_numel[0], DType::F32)?);
    } else {
        c.save_inputs.push(0);
    }
    c.saved.extend(stats);
    c.out = Some(Out::New {
        numel: cx.in_numel[0],
        dtype: out_dt,
    });
    Ok(c)
}

/// `F.normalize(x, dim)` (Keras UnitNormalization), over `rows` rows:
/// `x / x.norm(dim, keepdim=True).clamp_min(eps).expand_as(x)`. The norm saves x and
/// its result (rows), the clamp its result (rows, which the division saves with x);
/// output of the input's size. Under autocast `norm` is an fp32 op: it saves an fp32
/// copy of a bf16 x, and the division promotes the output to fp32.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalize {
    pub rows: u64,
}

impl Normalize {
    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        let (n, dt) = (cx.in_numel[0], cx.in_dtype[0]);
        let wide = cx.amp() && dt != DType::F32;
        let out_dt = if wide { DType::F32 } else { dt };
        let stat = bytes(self.rows, out_dt)?;
        let mut c = Cost {
            out: Some(Out::New {
                numel: n,
                dtype: out_dt,
            }),
            ..Cost::default()
        };
        if cx.record {
            c.save_inputs.push(0);
            if wide {
                c.saved.push(bytes(n, DType::F32)?);
            }
            c.saved.extend([stat, stat]);
        } else {
            if wide {
                c.fwd_temp.push(bytes(n, DType::F32)?);
            }
            c.fwd_temp.extend([stat, stat]);
        }
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
///
/// `keeps_input`: HF `T5LayerNorm` (transformers 5.17 `modeling_t5.py`) computes the
/// variance on the fp32 copy but multiplies the input itself by the rsqrt
/// (`hidden_states * torch.rsqrt(variance + eps)`): with a bf16 input autograd keeps
/// that input too, and the fp32 copy only for pow. Same outputs, FLOPs (none) and
/// weights otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RmsNorm {
    pub rows: u64,
    pub dim: u64,
    pub keeps_input: bool,
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
            }
            if !h_cast_needed || self.keeps_input {
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
