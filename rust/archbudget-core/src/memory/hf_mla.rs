//! Multi-head latent attention (deepseek_v2, deepseek_v3: [`Mla`]) lowered into the op
//! graph of [`super::hf`]; every other attention goes through `hf` itself.
//!
//! What transformers 5.x does that costs memory: q through `q_a_proj` → `q_a_layernorm`
//! → `q_b_proj` (or one `q_proj`), split into its nope and rope parts;
//! `kv_a_proj_with_mqa` gives the compressed latent (normalised by `kv_a_layernorm`) and
//! one rotary key shared by all heads; the cache keeps those two (kv_lora_rank +
//! qk_rope_head_dim per token, not per head); `kv_b_proj` expands the latent into every
//! head's k-nope and v; k is assembled in a new tensor (`new_empty` + two `copy_`), q by
//! `torch.cat`; attention runs with q/k heads of nope + rope and v heads of `v_head_dim`.
use super::graph::{Graph, ValueId};
use super::ops::*;
use super::{add, mul, Result};
use crate::arch::{Mla, TransformerArch};

/// The input width of `o_proj`: heads × v head size.
pub fn o_proj_width(a: &TransformerArch) -> Result<u64> {
    let v = a.details.mla.map_or(a.head_dim, |m| m.v_head_dim);
    mul(a.num_heads, v)
}

/// What one layer's latent attention reads.
pub struct MlaIn {
    /// The normalised hidden states (`rows` × hidden).
    pub x: ValueId,
    pub rows: u64,
    /// Rotary cos and sin.
    pub cos_sin: Option<(ValueId, ValueId)>,
    /// The layer's mask, if any.
    pub mask: Option<ValueId>,
    pub use_cache: bool,
}

/// One layer's latent attention up to (not including) `o_proj`; the value `o_proj`
/// reads. `attn` is the layer's attention as the q/k/v path would run it.
pub fn mla_attention(
    g: &mut Graph,
    a: &TransformerArch,
    mla: Mla,
    p: &MlaIn,
    attn: Attention,
) -> Result<ValueId> {
    let rows = p.rows;
    let lin = |inp: u64, out: u64, bias: bool| {
        Op::Linear(Linear {
            rows,
            in_features: inp,
            out_features: out,
            bias,
            tied_weight: false,
        })
    };
    let rms = |rows: u64, dim: u64| {
        Op::RmsNorm(RmsNorm {
            rows,
            dim,
            keeps_input: false,
        })
    };
    let view = |numel: u64| Op::SelectLast(SelectLast { out_numel: numel });
    let (nh, hd, hsz) = (a.num_heads, a.head_dim, a.hidden_size);
    let rope = mla.qk_rope_head_dim;
    let q = match mla.q_lora_rank {
        Some(r) => {
            let qa = g.push(lin(hsz, r, a.qkv_bias), &[p.x]);
            let qn = g.push(rms(rows, r), &[qa]);
            g.push(lin(r, mul(nh, hd)?, false), &[qn])
        }
        None => g.push(lin(hsz, mul(nh, hd)?, false), &[p.x]),
    };
    let ckv = g.push(lin(hsz, add(mla.kv_lora_rank, rope)?, a.qkv_bias), &[p.x]);
    let latent = g.push(view(mul(rows, mla.kv_lora_rank)?), &[ckv]);
    let latent = g.push(rms(rows, mla.kv_lora_rank), &[latent]);
    let mut k_rot = g.push(view(mul(rows, rope)?), &[ckv]);
    let q_rot = g.push(view(prod(&[rows, nh, rope])?), &[q]);
    let q_rot = match p.cos_sin {
        Some((cos, sin)) => {
            k_rot = g.push(Op::Rotary(Rotary), &[k_rot, cos, sin]);
            g.push(Op::Rotary(Rotary), &[q_rot, cos, sin])
        }
        None => q_rot,
    };
    if p.use_cache {
        let held = [
            g.push(Op::Copy(Copy::default()), &[latent]),
            g.push(Op::Copy(Copy::default()), &[k_rot]),
        ];
        g.forward_held.extend(held);
    }
    let q_full = g.push(
        Op::Copy(Copy {
            numel: Some(prod(&[rows, nh, hd])?),
        }),
        &[q, q_rot],
    );
    let kv_b = g.push(
        lin(
            mla.kv_lora_rank,
            mul(nh, add(mla.qk_nope_head_dim, mla.v_head_dim)?)?,
            false,
        ),
        &[latent],
    );
    let k = g.push(
        Op::Copy(Copy {
            numel: Some(prod(&[rows, nh, hd])?),
        }),
        &[kv_b, k_rot],
    );
    let v = g.push(view(prod(&[rows, nh, mla.v_head_dim])?), &[kv_b]);
    let mut ins = vec![q_full, k, v];
    ins.extend(p.mask);
    let op = Attention {
        kv_heads: nh,
        v_head_dim: mla.v_head_dim,
        ..attn
    };
    Ok(g.push(Op::Attention(op), &ins))
}
