//! Elementwise activations, dropout and noise (no FLOPs counted: flop_counter counts matmuls,
//! convolutions and attention only).
use super::{bytes, AmpCast, Cost, Ctx, Out, Param};
use crate::memory::graph::DType;
use crate::memory::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActKind {
    /// `nn.ReLU` / `F.relu`: threshold_backward uses the output, which is saved.
    Relu,
    /// `F.gelu` (exact or tanh approximation, one fused kernel): saves the input.
    Gelu,
    /// HF `NewGELUActivation` ("gelu_new", GPT-2): the Python formula
    /// `0.5*x*(1+tanh(sqrt(2/π)*(x+0.044715*x³)))`, one tensor per op: autograd keeps
    /// x (for pow), tanh's output, 0.5·x and 1+tanh; pow, the scaled cube, the sum and
    /// the scaled sum are transients.
    GeluPython,
    /// esm's `gelu`, the erf form written out: `x * 0.5 * (1.0 + torch.erf(x / sqrt(2)))`,
    /// one tensor per op (none on autocast's fp32 list): autograd keeps erf's input
    /// x/√2, 0.5·x and 1 + erf; erf's output is a transient.
    GeluErf,
    /// `F.silu`: saves the input.
    Silu,
    /// `torch.clamp` between tensor bounds (Gemma 4's clipped linears): saves the input
    /// (its backward masks the gradient where the input was clipped).
    Clamp,
    /// `torch.tanh`: saves the output.
    Tanh,
    /// `torch.sigmoid` (qwen2_moe's shared-expert gate): saves the output.
    Sigmoid,
    /// `softplus` (keras-hub RWKV-7's decay): saves the input.
    Softplus,
    /// `softmax` over the last axis outside an attention kernel (DeBERTa's hand-written
    /// attention): saves the output; on autocast's fp32 list.
    Softmax,
}

/// An elementwise activation over the whole input; output of the input's shape and dtype.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Act {
    pub kind: ActKind,
}

impl Act {
    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        let (n, dt) = (cx.in_numel[0], cx.in_dtype[0]);
        let b = bytes(n, dt)?;
        let mut c = Cost {
            out: Some(Out::New {
                numel: n,
                dtype: dt,
            }),
            ..Cost::default()
        };
        match self.kind {
            ActKind::Relu | ActKind::Tanh | ActKind::Sigmoid => c.save_output = true,
            ActKind::Softmax => {
                c.save_output = true;
                if cx.amp() {
                    c.out = Some(Out::New {
                        numel: n,
                        dtype: DType::F32,
                    });
                }
            }
            ActKind::Gelu | ActKind::Silu | ActKind::Clamp | ActKind::Softplus => {
                c.save_inputs.push(0)
            }
            ActKind::GeluPython => {
                // Under autocast `pow` is on the fp32 list: it saves an fp32 copy of x, and
                // everything computed from it (tanh, 1 + tanh, the product) is fp32 too;
                // only 0.5·x keeps x's dtype, and nothing keeps x itself.
                let widened = cx.amp() && dt != DType::F32;
                let (wide, w) = if widened {
                    (DType::F32, bytes(n, DType::F32)?)
                } else {
                    (dt, b)
                };
                c.out = Some(Out::New {
                    numel: n,
                    dtype: wide,
                });
                if cx.record {
                    if widened {
                        c.saved = vec![w, w, w, b];
                    } else {
                        c.save_inputs.push(0);
                        c.saved = vec![b, b, b];
                    }
                    // the chain rule through six elementwise ops: a few live partials
                    c.bwd_temp = vec![w, w, w];
                }
                c.fwd_temp = vec![w, w];
            }
            ActKind::GeluErf => {
                if cx.record {
                    c.saved = vec![b, b, b];
                    c.bwd_temp = vec![b, b];
                }
                c.fwd_temp = vec![b];
            }
        }
        Ok(c)
    }
}

/// `nn.Dropout(p)`. In train mode `native_dropout` returns the output and a bool mask
/// (one byte per element) which backward keeps; in eval mode it returns its input.
#[derive(Debug, Clone, PartialEq)]
pub struct Dropout {
    pub p: f64,
}

impl Dropout {
    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        if !cx.train_mode || self.p <= 0.0 {
            return Ok(Cost {
                out: Some(Out::Alias(0)),
                ..Cost::default()
            });
        }
        let n = cx.in_numel[0];
        let mask = bytes(n, DType::Bool)?;
        let mut c = Cost {
            out: Some(Out::New {
                numel: n,
                dtype: cx.in_dtype[0],
            }),
            ..Cost::default()
        };
        c.saved.push(mask);
        Ok(c)
    }
}

/// `F.prelu(x, alpha)` with a learnt slope of `alpha` elements broadcast over the input
/// (Keras PReLU: one per input element unless `shared_axes`). Saves the input (and the
/// slope, a parameter); output of the input's size. The slope's gradient is made at the
/// input's size and then summed down to the slope's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prelu {
    pub alpha: u64,
}

impl Prelu {
    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        let (n, dt) = (cx.in_numel[0], cx.in_dtype[0]);
        let mut c = Cost {
            params: vec![Param::new(self.alpha, AmpCast::No)],
            out: Some(Out::New {
                numel: n,
                dtype: dt,
            }),
            save_inputs: vec![0],
            ..Cost::default()
        };
        if cx.wgrad() {
            c.bwd_temp.push(bytes(n, dt)?);
        }
        Ok(c)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoiseKind {
    /// `nn.Dropout1d/2d/3d` (Keras SpatialDropout): `x * noise` with a scaled Bernoulli
    /// noise of `mask` elements (batch×channels, broadcast over the positions), which the
    /// product saves.
    Feature { mask: u64 },
    /// Keras GaussianNoise as `x + torch.randn_like(x) * std`: the noise and its scaled
    /// copy are transients; nothing is saved.
    Additive,
    /// Keras GaussianDropout as `x * (torch.randn_like(x) * std + 1)`: the product saves
    /// the input-sized noise; the raw draw is a transient.
    Multiplicative,
    /// `nn.AlphaDropout`: a Bernoulli noise of the input's size (saved by `x * noise`)
    /// and the affine term added to the product (a transient).
    Alpha,
}

/// A regularising noise layer; in eval mode, or at rate 0, it returns its input.
/// Output of the input's size and dtype.
#[derive(Debug, Clone, PartialEq)]
pub struct Noise {
    pub kind: NoiseKind,
    /// Drop rate, or the standard deviation of additive noise.
    pub rate: f64,
}

impl Noise {
    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        if !cx.train_mode || self.rate <= 0.0 {
            return Ok(Cost {
                out: Some(Out::Alias(0)),
                ..Cost::default()
            });
        }
        let (n, dt) = (cx.in_numel[0], cx.in_dtype[0]);
        let full = bytes(n, dt)?;
        let mut c = Cost {
            out: Some(Out::New {
                numel: n,
                dtype: dt,
            }),
            ..Cost::default()
        };
        let kept = match self.kind {
            NoiseKind::Feature { mask } => Some(bytes(mask, dt)?),
            NoiseKind::Additive => {
                c.fwd_temp = vec![full, full];
                None
            }
            NoiseKind::Multiplicative | NoiseKind::Alpha => {
                c.fwd_temp = vec![full];
                Some(full)
            }
        };
        c.saved.extend(kept);
        Ok(c)
    }
}
