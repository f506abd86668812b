//! Tensor plumbing: views, copies, casts, residual adds, products, slicing.
use super::{bytes, AmpCast, Cost, Ctx, Out, Param};
use crate::memory::graph::DType;
use crate::memory::Result;

/// `flatten`, `view`, `reshape` of a contiguous tensor, `transpose`: no new storage.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct View;

impl View {
    pub fn lower(&self, _cx: &Ctx) -> Result<Cost> {
        Ok(Cost {
            out: Some(Out::Alias(0)),
            ..Cost::default()
        })
    }
}

/// `.contiguous()` of a non-contiguous view, or `torch.cat` onto an empty tensor (HF's
/// `DynamicCache.update`): a new tensor of the input's size (or of `numel` elements when
/// it copies a part, such as k and v out of a fused qkv); saves nothing. Also every op
/// whose output is a rearranged copy and whose backward needs only shapes: `torch.cat`,
/// `F.pad`, `F.interpolate` (nearest, linear), `repeat`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Copy {
    pub numel: Option<u64>,
}

impl Copy {
    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        let numel = self.numel.unwrap_or(cx.in_numel[0]);
        Ok(Cost {
            out: Some(Out::New {
                numel,
                dtype: cx.in_dtype[0],
            }),
            ..Cost::default()
        })
    }
}

/// `.to(dtype)`: a copy when the dtype changes, else the input itself. Saves nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cast {
    pub to: DType,
}

impl Cast {
    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        if cx.in_dtype[0] == self.to {
            return Ok(Cost {
                out: Some(Out::Alias(0)),
                ..Cost::default()
            });
        }
        Ok(Cost {
            out: Some(Out::New {
                numel: cx.in_numel[0],
                dtype: self.to,
            }),
            ..Cost::default()
        })
    }
}

/// `a + b` (residual), `a - b`, and with one input `x / c` (a scalar): output of the
/// larger operand's size in the promoted dtype (fp32 + bf16 → fp32); saves nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Add;

impl Add {
    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        Ok(Cost {
            out: Some(Out::New {
                numel: max_numel(cx),
                dtype: promote(cx),
            }),
            ..Cost::default()
        })
    }
}

/// `a * b` (gated MLP, scaling), `torch.maximum` / `torch.minimum`: saves both operands
/// (each one's gradient needs the other).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mul;

impl Mul {
    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        let save_inputs = (0..cx.in_numel.len()).collect();
        Ok(Cost {
            out: Some(Out::New {
                numel: max_numel(cx),
                dtype: promote(cx),
            }),
            save_inputs,
            ..Cost::default()
        })
    }
}

/// `x * gamma` with a learnt scale of `numel` elements broadcast over the input (Keras
/// and timm LayerScale: one per channel). Output of the input's size in the promoted
/// dtype of the input and the parameter (mul is no autocast op: bf16 · fp32 → fp32).
/// Saves the input when gamma gets a gradient (`dgamma = sum(grad · x)`, made at the
/// input's size, a backward transient, then summed down); dx = grad · gamma needs only
/// the parameter. No FLOPs (elementwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scale {
    pub numel: u64,
}

impl Scale {
    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        let n = cx.in_numel[0];
        let dtype = if cx.in_dtype[0] == DType::F32 || cx.param_dtype() == DType::F32 {
            DType::F32
        } else {
            cx.in_dtype[0]
        };
        let mut c = Cost {
            params: vec![Param::new(self.numel, AmpCast::No)],
            out: Some(Out::New { numel: n, dtype }),
            ..Cost::default()
        };
        if cx.wgrad() {
            c.save_inputs.push(0);
            c.bwd_temp.push(bytes(n, dtype)?);
        }
        Ok(c)
    }
}

/// `h[:, -1]` (last time step) and similar `select`/`slice` views (cropping, one
/// direction `out[..., :H]` of a bidirectional RNN's output) whose
/// backward allocates a zero gradient of the whole input (`select_backward`,
/// `slice_backward`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectLast {
    pub out_numel: u64,
}

impl SelectLast {
    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        let _ = cx;
        Ok(Cost {
            out: Some(Out::View {
                input: 0,
                numel: self.out_numel,
            }),
            ..Cost::default()
        })
    }
}

fn max_numel(cx: &Ctx) -> u64 {
    cx.in_numel.iter().copied().max().unwrap_or(0)
}

fn promote(cx: &Ctx) -> DType {
    if cx.in_dtype.contains(&DType::F32) {
        DType::F32
    } else {
        cx.in_dtype.first().copied().unwrap_or(DType::F32)
    }
}

/// A tensor the model makes from nothing (an `arange`, a causal mask, rotary cos/sin):
/// `numel` elements of `dtype` (`None`: the model's parameter dtype). Never requires grad.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fill {
    pub numel: u64,
    pub dtype: Option<DType>,
    /// A module buffer it is made from (rotary `inv_freq`, BERT's `position_ids`):
    /// counted with the model's buffers.
    pub buffer: Option<(u64, DType)>,
}

impl Fill {
    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        let dtype = self.dtype.unwrap_or(cx.param_dtype());
        Ok(Cost {
            out: Some(Out::New {
                numel: self.numel,
                dtype,
            }),
            buffers: self.buffer.into_iter().collect(),
            ..Cost::default()
        })
    }
}

/// A parameter the forward never reads (bert's untied head `bias`): counted with the
/// weights; it gets no gradient, so the optimizer keeps no state for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnusedParam {
    pub numel: u64,
}

impl UnusedParam {
    pub fn lower(&self, _cx: &Ctx) -> Result<Cost> {
        Ok(Cost {
            params: vec![Param::new(self.numel, AmpCast::No)],
            ..Cost::default()
        })
    }
}

/// HF `apply_rotary_pos_emb` on one of q / k: `x * cos + rotate_half(x) * sin`, with
/// `rotate_half = cat(-x2, x1)`. Inputs: x, cos, sin. Output in the promoted dtype
/// (fp32 under autocast, where cos/sin follow the fp32 residual stream). Nothing is
/// saved but cos and sin (which never require grad); x·cos, −x2, the cat and its
/// product with sin are transients; backward runs the same chain on the gradient.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rotary;

impl Rotary {
    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        let n = cx.in_numel[0];
        let dt = promote(cx);
        let full = bytes(n, dt)?;
        let half = bytes(n / 2, cx.in_dtype[0])?;
        let xdt = bytes(n, cx.in_dtype[0])?;
        Ok(Cost {
            out: Some(Out::New {
                numel: n,
                dtype: dt,
            }),
            fwd_temp: vec![full, half, xdt, full],
            bwd_temp: vec![full, full, xdt],
            ..Cost::default()
        })
    }
}

/// `torch.matmul` of two activations (`keras.ops.matmul` in a functional graph):
/// `batch` products of (m×k)·(k×n). Output in the matmul dtype; saves both operands
/// (each one's gradient needs the other). FLOPs: 2·batch·m·k·n forward, the same again
/// for each operand that gets a gradient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matmul {
    pub batch: u64,
    pub m: u64,
    pub k: u64,
    pub n: u64,
}

impl Matmul {
    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        let f = crate::memory::mul(super::mm_flops(self.m, self.k, self.n)?, self.batch)?;
        let grads = (0..2).filter(|&i| cx.grad(i)).count() as u64;
        Ok(Cost {
            out: Some(Out::New {
                numel: super::prod(&[self.batch, self.m, self.n])?,
                dtype: cx.mm_dtype(),
            }),
            save_inputs: vec![0, 1],
            flops_fwd: f,
            flops_bwd: crate::memory::mul(f, grads)?,
            ..Cost::default()
        })
    }
}

/// A layer whose computation archbudget does not know (a custom layer counted from its
/// saved weights, a Lambda): its parameters (with their gradients and optimizer state),
/// a new output of `out_numel` elements, and its first input saved for backward, as a
/// layer with weights keeps it. No FLOPs: they are unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opaque {
    pub params: Vec<u64>,
    pub out_numel: u64,
}

impl Opaque {
    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        Ok(Cost {
            params: self
                .params
                .iter()
                .map(|&n| Param::new(n, AmpCast::No))
                .collect(),
            out: Some(Out::New {
                numel: self.out_numel,
                dtype: cx.in_dtype.first().copied().unwrap_or(DType::F32),
            }),
            save_inputs: if cx.in_numel.is_empty() {
                vec![]
            } else {
                vec![0]
            },
            ..Cost::default()
        })
    }
}

/// `F.grid_sample` (bilinear) of a map (input 0) at sampling locations (input 1), D-FINE's
/// deformable attention reading one pyramid level: a new tensor of `out_numel` values in
/// the map's dtype. Saves both inputs (each one's gradient reads the other); no FLOPs
/// (flop_counter counts no grid sampler).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GridSample {
    pub out_numel: u64,
}

impl GridSample {
    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        Ok(Cost {
            out: Some(Out::New {
                numel: self.out_numel,
                dtype: cx.in_dtype[0],
            }),
            save_inputs: vec![0, 1],
            ..Cost::default()
        })
    }
}
