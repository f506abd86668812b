//! Linear-attention token mixers ([`LinearAttention`]): Gated DeltaNet, as qwen3_next's
//! `linear_attention` layers build it (`Qwen3NextGatedDeltaNet` of transformers 5.x).
//!
//! Weights: `conv1d.weight` [conv_dim, 1, kernel] (depthwise, no bias) over q‖k‖v;
//! `in_proj_qkvz` hidden → 2·key_dim + 2·value_dim (q, k, v and the output gate z);
//! `in_proj_ba` hidden → 2·value heads (β and the decay input a); per value head
//! `dt_bias` and `A_log`; the gated RMSNorm `norm.weight` [value_head_dim];
//! `out_proj` value_dim → hidden. No biases.
use crate::arch::LinearAttention;
use crate::error::{add, mul, Result};
use crate::weight::{dim, Weight};

use super::config::Cfg;
use super::modules::{linear, times};

/// The `linear_*` keys of the config, with qwen3_next's defaults.
pub fn read(cfg: &Cfg) -> Result<LinearAttention> {
    let la = LinearAttention {
        num_key_heads: cfg.dim("linear_num_key_heads", 16)?,
        num_value_heads: cfg.dim("linear_num_value_heads", 32)?,
        key_head_dim: cfg.dim("linear_key_head_dim", 128)?,
        value_head_dim: cfg.dim("linear_value_head_dim", 128)?,
        conv_kernel: cfg.dim("linear_conv_kernel_dim", 4)?,
    };
    // the value heads are grouped over the key heads (`view(..., num_k_heads, ...)`)
    cfg.require_divisible(
        ("linear_num_value_heads", la.num_value_heads),
        ("linear_num_key_heads", la.num_key_heads),
    )?;
    // every width later multiplied unchecked, checked once here
    let loc = cfg.location;
    let key_dim = mul(la.num_key_heads, la.key_head_dim, loc, "linear key width")?;
    let value_dim = mul(
        la.num_value_heads,
        la.value_head_dim,
        loc,
        "linear value width",
    )?;
    let qk = mul(2, key_dim, loc, "linear q/k width")?;
    add(
        qk,
        mul(2, value_dim, loc, "linear v/z width")?,
        loc,
        "in_proj_qkvz width",
    )?;
    Ok(la)
}

/// The weights of one Gated DeltaNet module; `split`: its input projections as qwen3_5
/// names them (`in_proj_qkv` and `in_proj_z` for `in_proj_qkvz`, `in_proj_b` and
/// `in_proj_a` for `in_proj_ba`: the same weights).
pub fn weights(la: &LinearAttention, hidden: u64, loc: &str, split: bool) -> Result<Vec<Weight>> {
    let h = dim(hidden, "hidden");
    let conv = dim(la.conv_dim(), "conv_dim");
    let mut w = vec![Weight::new(
        "conv1d.weight",
        vec![conv, dim(1, "1"), dim(la.conv_kernel, "kernel")],
    )];
    if split {
        let qkv = dim(la.conv_dim(), "2·key_dim+value_dim");
        linear(&mut w, "in_proj_qkv.", h.clone(), qkv, false);
        let z = dim(la.value_dim(), "value_dim");
        linear(&mut w, "in_proj_z.", h.clone(), z, false);
        for name in ["in_proj_b.", "in_proj_a."] {
            let heads = dim(la.num_value_heads, "value_heads");
            linear(&mut w, name, h.clone(), heads, false);
        }
    } else {
        let qkvz = add(la.conv_dim(), la.value_dim(), loc, "in_proj_qkvz width")?;
        linear(
            &mut w,
            "in_proj_qkvz.",
            h.clone(),
            dim(qkvz, "2·key_dim+2·value_dim"),
            false,
        );
        let ba = times(2, la.num_value_heads, "2×value_heads", loc)?;
        linear(&mut w, "in_proj_ba.", h.clone(), ba, false);
    }
    w.push(Weight::new(
        "dt_bias",
        vec![dim(la.num_value_heads, "value_heads")],
    ));
    w.push(Weight::new(
        "A_log",
        vec![dim(la.num_value_heads, "value_heads")],
    ));
    w.push(Weight::new(
        "norm.weight",
        vec![dim(la.value_head_dim, "value_head_dim")],
    ));
    linear(
        &mut w,
        "out_proj.",
        dim(la.value_dim(), "value_dim"),
        h,
        false,
    );
    Ok(w)
}
