//! State-space layers ([`LayerMixer::Ssm`](crate::arch::LayerMixer)) lowered as
//! transformers runs them: `MambaBlock` / `Mamba2Block` (RMSNorm → mixer → residual kept
//! in fp32 with `residual_in_fp32`) around `MambaMixer` / `Mamba2Mixer`; in jamba the
//! mixer takes attention's place in an otherwise ordinary decoder layer, in falcon_h1
//! it runs beside attention on the same input (`hf`).
//!
//! The mixers' PyTorch path is modelled (`in_proj` → causal depthwise `conv1d` → SiLU →
//! selective scan → gate → `out_proj`): transformers takes it whenever the optional
//! `mamba-ssm` / `causal-conv1d` CUDA kernels are not installed, which is what a plain
//! `pip install transformers` gives, and it is the path the FLOP counter sees on CPU.
//! The fused kernels keep far less (no B×D×L×N tensors); their figures would differ.
//!
//! Cache (`DynamicCache` with `LinearAttentionLayer`s; mamba's models make one unless
//! training, jamba's whenever attention layers would):
//! per layer a conv state of batch × conv channels × d_conv in `in_proj`'s dtype and a
//! recurrent state in fp32 (mamba1 batch × d_inner × d_state, mamba2 batch × heads ×
//! head_dim × d_state), allocated once at the prompt and updated in place by every
//! decoded token ([`CacheGrowth::Fixed`]).
use super::graph::{CacheGrowth, DType, Graph, ValueId};
use super::hf_decoder::norm_op;
use super::lora::{Linears, Module};
use super::ops::*;
use super::{mul, Precision, Result, RunSettings};
use crate::arch::{NormKind, Ssm, SsmVersion, TransformerArch};

/// Where one layer's mixer runs: batch × seq positions of `hidden` channels, and
/// whether the model updates a cache (which then holds the layer's states).
pub(super) struct SsmIn {
    pub batch: u64,
    pub seq: u64,
    pub hidden: u64,
    pub use_cache: bool,
}

/// peft refuses LoRA on the mixers' `out_proj` (and `conv1d`) of mamba, mamba2 and
/// falcon_h1 (`_check_lora_target_modules_mamba`): so does the lowering.
pub(super) fn check_lora(a: &TransformerArch, run: &RunSettings) -> Result<()> {
    let refused = matches!(a.model_type.as_str(), "mamba" | "mamba2" | "falcon_h1");
    match run.lora {
        Some(l) if refused && l.targets.matches(Module::linear("out_proj")) => {
            Err(crate::Error::invalid(
                "lora targets",
                format!(
                    "peft refuses LoRA on out_proj and conv1d of {} models, and its \
                     all-linear includes out_proj: no LoRA target set is lowered for them yet",
                    a.model_type
                ),
            ))
        }
        _ => Ok(()),
    }
}

/// `MambaBlock`: `x + mixer(norm(x))`, the residual upcast to fp32.
pub(super) fn block(
    g: &mut Graph,
    lx: &mut Linears,
    a: &TransformerArch,
    s: &Ssm,
    at: &SsmIn,
    x: ValueId,
    run: &RunSettings,
) -> Result<ValueId> {
    let rows = mul(at.batch, at.seq)?;
    // `hidden_states.to(dtype=self.norm.weight.dtype)`
    let xin = g.push(
        Op::Cast(Cast {
            to: weight_dtype(run),
        }),
        &[x],
    );
    let n = g.push(norm_op(a.norm, rows, at.hidden), &[xin]);
    let residual = g.push(Op::Cast(Cast { to: DType::F32 }), &[x]);
    let m = mixer(g, lx, s, at, n, run)?;
    Ok(g.push(Op::Add(Add), &[residual, m]))
}

/// The dtype of parameters (and so of `.to(weight.dtype)` casts).
fn weight_dtype(run: &RunSettings) -> DType {
    if run.precision == Precision::Bf16 {
        DType::BF16
    } else {
        DType::F32
    }
}

/// One mixer on `x` (rows × hidden): its output, rows × hidden.
pub(super) fn mixer(
    g: &mut Graph,
    lx: &mut Linears,
    s: &Ssm,
    at: &SsmIn,
    x: ValueId,
    run: &RunSettings,
) -> Result<ValueId> {
    let (b, l) = (at.batch, at.seq);
    let rows = mul(b, l)?;
    let lin = |inp: u64, out: u64, bias: bool| Linear {
        rows,
        in_features: inp,
        out_features: out,
        bias,
        tied_weight: false,
    };
    let proj = lin(at.hidden, s.in_proj_width(), s.proj_bias);
    let projected = if s.mup {
        // falcon_h1: `x * ssm_in_multiplier`, in_proj, `* mup_vector` (a buffer of one
        // value per channel, whose product keeps nothing for backward)
        let x = g.push(Op::Add(Add), &[x]);
        let p = lx.push(g, Module::linear("in_proj"), proj, x)?;
        let width = s.in_proj_width();
        let mup = Fill {
            numel: width,
            dtype: None,
            buffer: Some((width, weight_dtype(run))),
        };
        g.push(Op::Fill(mup), &[]);
        g.push(Op::Add(Add), &[p])
    } else {
        lx.push(g, Module::linear("in_proj"), proj, x)?
    };
    let channels = s.conv_channels();
    if at.use_cache {
        hold_states(g, s, b, run)?;
    }
    // the conv's part of the projection (a view), `.to(weight.dtype)`, the causal
    // depthwise conv padded by d_conv − 1 on both sides and cut back to seq positions
    let part = g.push(
        Op::SelectLast(SelectLast {
            out_numel: mul(rows, channels)?,
        }),
        &[projected],
    );
    let part = g.push(
        Op::Cast(Cast {
            to: weight_dtype(run),
        }),
        &[part],
    );
    let conv = g.push(
        Op::Conv(Conv {
            batch: b,
            in_channels: channels,
            out_channels: channels,
            dims: vec![ConvDim::new(l, s.d_conv, 1, s.d_conv - 1)],
            groups: channels,
            bias: s.conv_bias,
            transposed: false,
            shared_weights: false,
        }),
        &[part],
    );
    let cut = g.push(
        Op::SelectLast(SelectLast {
            out_numel: mul(rows, channels)?,
        }),
        &[conv],
    );
    let u = g.push(
        Op::Act(Act {
            kind: ActKind::Silu,
        }),
        &[cut],
    );
    let scan = SelectiveScan {
        ssm: *s,
        batch: b,
        seq: l,
    };
    let y = match s.version {
        SsmVersion::Mamba1 => {
            // x_proj reads the transposed conv output (a contiguous copy); dt_proj's
            // weight multiplies the dt part (`dt_proj.weight @ time_step`, its bias added
            // inside the scan). peft and the quantizers still wrap dt_proj as a linear:
            // lowered as one, its adapter and quantized weight are counted as they make
            // them (the adapter's small product is charged though the matmul skips it)
            let ut = g.push(Op::Copy(Copy::default()), &[u]);
            let xw = s.dt_rank + 2 * s.d_state;
            let xdbc = lx.push(g, Module::linear("x_proj"), lin(s.d_inner, xw, false), ut)?;
            let part = |g: &mut Graph, width: u64| -> Result<ValueId> {
                let part = SelectLast {
                    out_numel: mul(rows, width)?,
                };
                let v = g.push(Op::SelectLast(part), &[xdbc]);
                // jamba's `dt_layernorm`, `b_layernorm`, `c_layernorm`
                Ok(match s.dt_bc_norms {
                    true => g.push(norm_op(NormKind::RmsNorm, rows, width), &[v]),
                    false => v,
                })
            };
            let rank = part(g, s.dt_rank)?;
            let dt_lin = lin(s.dt_rank, s.d_inner, true);
            let dt = lx.push(g, Module::linear("dt_proj"), dt_lin, rank)?;
            let y = if s.dt_bc_norms {
                let (bn, cn) = (part(g, s.d_state)?, part(g, s.d_state)?);
                g.push(Op::SelectiveScan(scan), &[u, dt, bn, projected, cn])
            } else {
                g.push(Op::SelectiveScan(scan), &[u, dt, xdbc, projected])
            };
            // `scan_output.transpose(1, 2).to(dtype)` into out_proj: a contiguous copy
            let y = g.push(
                Op::Cast(Cast {
                    to: weight_dtype(run),
                }),
                &[y],
            );
            g.push(Op::Copy(Copy::default()), &[y])
        }
        SsmVersion::Mamba2 => {
            let y = g.push(Op::SelectiveScan(scan), &[u, projected]);
            // `MambaRMSNormGated(y, z)`: y · silu(z) normalised per group (the same
            // bytes as one norm over d_inner), weight d_inner
            let z = g.push(
                Op::SelectLast(SelectLast {
                    out_numel: mul(rows, s.d_inner)?,
                }),
                &[projected],
            );
            let z = g.push(
                Op::Act(Act {
                    kind: ActKind::Silu,
                }),
                &[z],
            );
            let gated = g.push(Op::Mul(Mul), &[y, z]);
            // falcon_h1 without `mamba_rms_norm`: `y * silu(z)` alone
            let n = match s.gated_norm {
                true => g.push(norm_op(NormKind::RmsNorm, rows, s.d_inner), &[gated]),
                false => gated,
            };
            g.push(
                Op::Cast(Cast {
                    to: weight_dtype(run),
                }),
                &[n],
            )
        }
    };
    let out = lin(s.d_inner, at.hidden, s.out_proj_bias);
    lx.push(g, Module::linear("out_proj"), out, y)
}

/// The layer's conv and recurrent states, kept by the cache for the whole generation.
fn hold_states(g: &mut Graph, s: &Ssm, batch: u64, run: &RunSettings) -> Result<()> {
    // the conv state takes in_proj's output dtype (bf16 under autocast)
    let conv_dt = if run.precision == Precision::Fp32 {
        DType::F32
    } else {
        DType::BF16
    };
    // mamba1 d_inner × d_state, mamba2 heads × head_dim × d_state: the same count
    let states = [
        (mul(mul(batch, s.conv_channels())?, s.d_conv)?, conv_dt),
        (mul(mul(batch, s.d_inner)?, s.d_state)?, DType::F32),
    ];
    for (numel, dtype) in states {
        let v = g.push(
            Op::Fill(Fill {
                numel,
                dtype: Some(dtype),
                buffer: None,
            }),
            &[],
        );
        g.forward_held.push(v);
        g.held_caches.push((v, CacheGrowth::Fixed));
    }
    Ok(())
}
