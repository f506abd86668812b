//! The selective state-space mixer (Mamba) as a building block: read from a config's
//! keys into an [`Ssm`], and its weights as transformers declares them, for every type
//! that has such layers (mamba, mamba2 in `mamba.rs`, jamba in `jamba.rs`, falcon_h1 in `falcon_h1.rs`).
//!
//! Weights, `MambaMixer` (mamba1): `in_proj` hidden → 2·d_inner (x and the gate z),
//! the depthwise `conv1d` (d_inner × 1 × d_conv, bias with `conv_bias`), `x_proj`
//! d_inner → dt_rank + 2·d_state (no bias), `dt_proj` dt_rank → d_inner (always biased),
//! `A_log` d_inner × d_state, `D` d_inner, `out_proj` d_inner → hidden; jamba adds the
//! RMSNorms `dt_layernorm` (dt_rank), `b_layernorm` and `c_layernorm` (d_state).
//! `Mamba2Mixer`: `in_proj` hidden → z, x, B, C (n_groups · d_state each) and dt (one per
//! head), `conv1d` over x, B and C, `dt_bias`, `A_log` and `D` of one value per head,
//! the gated RMSNorm `norm` (d_inner; optional in falcon_h1), `out_proj` d_inner →
//! hidden. `in_proj` and `out_proj` have biases with `proj_bias` (falcon_h1's `out_proj`
//! with `projectors_bias`).
use crate::arch::{Ssm, SsmVersion};
use crate::error::{add, mul, Result};
use crate::weight::{dim, Weight};

use super::config::Cfg;
use super::modules::{linear, times};

/// Config keys of one type's mixer (mamba's own names, or jamba's `mamba_` ones).
pub struct SsmKeys {
    pub d_state: &'static str,
    pub d_conv: &'static str,
    pub expand: &'static str,
    pub dt_rank: &'static str,
    pub conv_bias: &'static str,
    pub proj_bias: &'static str,
    /// mamba2's positions per chunk of the scan.
    pub chunk_size: &'static str,
}

/// Defaults of the keys, from the type's `configuration_<type>.py`.
pub struct SsmDefaults {
    pub d_state: u64,
    pub d_conv: u64,
    pub expand: u64,
    pub conv_bias: bool,
    pub proj_bias: bool,
    pub chunk_size: u64,
}

/// `key` as a positive integer, or `"auto"` (absent: `"auto"`) for `auto`.
fn dim_or_auto(cfg: &Cfg, key: &str, auto: u64) -> Result<u64> {
    match cfg.string(key, "auto") {
        Ok(s) if s == "auto" => Ok(auto),
        Ok(s) => Err(cfg.invalid(format!(
            "key '{key}' must be a positive integer or \"auto\", got \"{s}\""
        ))),
        Err(_) => cfg.dim(key, auto),
    }
}

/// `s` once its derived widths (conv channels, in_proj's and x_proj's outputs) are
/// known to fit: [`Ssm`]'s width methods then compute them unchecked.
fn fits(cfg: &Cfg, s: Ssm) -> Result<Ssm> {
    let loc = cfg.location;
    let what = "SSM width";
    let bc = mul(2, mul(s.n_groups, s.d_state, loc, what)?, loc, what)?;
    let conv = add(s.d_inner, bc, loc, what)?;
    add(add(s.d_inner, conv, loc, what)?, s.heads, loc, what)?;
    mul(2, s.d_inner, loc, what)?;
    add(s.dt_rank, mul(2, s.d_state, loc, what)?, loc, what)?;
    Ok(s)
}

/// A mamba1 mixer (`MambaMixer`, jamba's `JambaMambaMixer`) over `hidden` channels.
pub fn mamba1(cfg: &Cfg, k: &SsmKeys, d: &SsmDefaults, hidden: u64) -> Result<Ssm> {
    let expand = cfg.dim(k.expand, d.expand)?;
    fits(
        cfg,
        Ssm {
            version: SsmVersion::Mamba1,
            d_inner: mul(expand, hidden, cfg.location, "intermediate size")?,
            d_state: cfg.dim(k.d_state, d.d_state)?,
            d_conv: cfg.dim(k.d_conv, d.d_conv)?,
            // `math.ceil(hidden_size / 16)` for "auto"
            dt_rank: dim_or_auto(cfg, k.dt_rank, hidden.div_ceil(16))?,
            heads: 0,
            n_groups: 0,
            chunk_size: 0,
            conv_bias: cfg.flag(k.conv_bias, d.conv_bias)?,
            proj_bias: cfg.flag(k.proj_bias, d.proj_bias)?,
            out_proj_bias: cfg.flag(k.proj_bias, d.proj_bias)?,
            gated_norm: true,
            mup: false,
            dt_bc_norms: false,
            mixer_only: true,
        },
    )
}

/// A mamba2 mixer of `heads` × `head_dim` channels, checked as transformers' config
/// validation and the mixer's reshapes require.
pub fn mamba2(
    cfg: &Cfg,
    d_inner: u64,
    heads: u64,
    head_dim: u64,
    n_groups: u64,
    k: &SsmKeys,
    d: &SsmDefaults,
) -> Result<Ssm> {
    let width = mul(heads, head_dim, cfg.location, "heads × head_dim")?;
    if width != d_inner {
        return Err(cfg.invalid(format!(
            "the SSM's intermediate size ({d_inner}) must equal num_heads × head_dim \
             ({heads} × {head_dim} = {width})"
        )));
    }
    if heads % n_groups != 0 {
        return Err(cfg.invalid(format!(
            "n_groups ({n_groups}) must divide the SSM's heads ({heads})"
        )));
    }
    fits(
        cfg,
        Ssm {
            version: SsmVersion::Mamba2,
            d_inner,
            d_state: cfg.dim(k.d_state, d.d_state)?,
            d_conv: cfg.dim(k.d_conv, d.d_conv)?,
            dt_rank: 0,
            heads,
            n_groups,
            chunk_size: cfg.dim(k.chunk_size, d.chunk_size)?,
            conv_bias: cfg.flag(k.conv_bias, d.conv_bias)?,
            proj_bias: cfg.flag(k.proj_bias, d.proj_bias)?,
            out_proj_bias: cfg.flag(k.proj_bias, d.proj_bias)?,
            gated_norm: true,
            mup: false,
            dt_bc_norms: false,
            mixer_only: true,
        },
    )
}

/// The weights of one mixer module over `hidden` channels.
pub fn mixer_weights(s: &Ssm, hidden: u64, loc: &str) -> Result<Vec<Weight>> {
    let h = dim(hidden, "hidden");
    let inner = dim(s.d_inner, "d_inner");
    let conv = dim(s.conv_channels(), "conv channels");
    let mut w = Vec::new();
    linear(
        &mut w,
        "in_proj.",
        h.clone(),
        times(1, s.in_proj_width(), "in_proj width", loc)?,
        s.proj_bias,
    );
    w.push(Weight::new(
        "conv1d.weight",
        vec![conv.clone(), dim(1, "1"), dim(s.d_conv, "d_conv")],
    ));
    if s.conv_bias {
        w.push(Weight::new("conv1d.bias", vec![conv]));
    }
    match s.version {
        SsmVersion::Mamba1 => {
            let rank = dim(s.dt_rank, "dt_rank");
            let xw = s.dt_rank + 2 * s.d_state;
            let xw = times(1, xw, "dt_rank+2·d_state", loc)?;
            linear(&mut w, "x_proj.", inner.clone(), xw, false);
            linear(&mut w, "dt_proj.", rank, inner.clone(), true);
            let state = dim(s.d_state, "d_state");
            w.push(Weight::new("A_log", vec![inner.clone(), state.clone()]));
            w.push(Weight::new("D", vec![inner.clone()]));
            if s.dt_bc_norms {
                let rank = dim(s.dt_rank, "dt_rank");
                w.push(Weight::new("dt_layernorm.weight", vec![rank]));
                w.push(Weight::new("b_layernorm.weight", vec![state.clone()]));
                w.push(Weight::new("c_layernorm.weight", vec![state]));
            }
        }
        SsmVersion::Mamba2 => {
            let heads = dim(s.heads, "ssm heads");
            w.push(Weight::new("dt_bias", vec![heads.clone()]));
            w.push(Weight::new("A_log", vec![heads.clone()]));
            if s.gated_norm {
                w.push(Weight::new("norm.weight", vec![inner.clone()]));
            }
            w.push(Weight::new("D", vec![heads]));
        }
    }
    linear(&mut w, "out_proj.", inner, h, s.out_proj_bias);
    Ok(w)
}
