//! The attention of the MoE/MLA types (qwen3_moe, deepseek_v2/v3, glm4_moe, gpt_oss,
//! llama4_text) lowered into the op graph of [`super::hf`], from
//! [`TransformerArch::variants`]; their sparse MLPs go through `hf::sparse_moe`.
//!
//! What transformers 5.x does that costs memory, beyond llama's attention:
//! - qk-norm (qwen3_moe, glm4_moe `use_qk_norm`): an RMSNorm over head_dim on q and on k
//!   before the rotary embedding; llama4's parameter-free L2 norm after it, on rotary
//!   layers only; llama4's NoPE layers skip the rotary embedding and scale q by a
//!   per-position temperature (`attn_temperature_tuning`);
//! - MLA (deepseek): q through `q_a_proj` → `q_a_layernorm` → `q_b_proj` (or one
//!   `q_proj`), split into its nope and rope parts; `kv_a_proj_with_mqa` gives the
//!   compressed latent (normalised by `kv_a_layernorm`) and one rotary key shared by all
//!   heads; the cache keeps those two (kv_lora_rank + qk_rope_head_dim per token, not
//!   per head); `kv_b_proj` expands the latent into every head's k-nope and v; k is
//!   assembled in a new tensor (`new_empty` + two `copy_`), q by `torch.cat`; attention
//!   runs with q/k heads of nope + rope and v heads of `v_head_dim`;
//! - gpt_oss's sinks (eager only: the model has no SDPA path) with one float mask per
//!   attention kind (full and sliding); sliding and chunked layers under SDPA need a
//!   boolean mask once the sequence exceeds their window;
//! - the generate-mode cache of a sliding or chunked layer stops growing at its window
//!   (`DynamicSlidingWindowLayer`), see [`Graph::held_windows`].
use super::graph::{DType, Graph, ValueId};
use super::ops::*;
use super::{add, mul, Result};
use crate::arch::{BlockVariants, LayerAttention, QkNorm, TransformerArch};

/// Whether `a` needs this module's attention (any variant set).
pub fn has_variants(a: &TransformerArch) -> bool {
    a.variants != BlockVariants::default()
}

/// The width rotated by the rotary embedding (its `inv_freq` has half as many entries).
pub fn rotary_dim(a: &TransformerArch) -> u64 {
    match a.variants.rotary_dim {
        0 => a.head_dim,
        d => d,
    }
}

/// The input width of `o_proj`: heads × v head size.
pub fn o_proj_width(a: &TransformerArch) -> Result<u64> {
    let v = a.variants.mla.map_or(a.head_dim, |m| m.v_head_dim);
    mul(a.num_heads, v)
}

/// The window of layer `i`'s attention, if it has one.
fn window(a: &TransformerArch, i: u64) -> Option<u64> {
    match a.variants.layer_attention.get(i as usize) {
        Some(LayerAttention::Sliding(w) | LayerAttention::Chunked(w)) => Some(*w),
        _ => None,
    }
}

/// The mask of the windowed layers, made once per forward: under eager attention a
/// float batch×1×S×S mask beside the causal one; under SDPA a boolean one, only when
/// the sequence is longer than a window (else the causal skip applies).
pub fn window_mask(
    g: &mut Graph,
    a: &TransformerArch,
    b: u64,
    s: u64,
    eager: bool,
) -> Result<Option<ValueId>> {
    let windows: Vec<u64> = (0..a.num_layers).filter_map(|i| window(a, i)).collect();
    let needed = match eager {
        true => !windows.is_empty(),
        false => windows.iter().any(|&w| w < s),
    };
    if !needed {
        return Ok(None);
    }
    let numel = prod(&[b, s, s])?;
    let dtype = (!eager).then_some(DType::Bool);
    Ok(Some(g.push(
        Op::Fill(Fill {
            numel,
            dtype,
            buffer: None,
        }),
        &[],
    )))
}

/// What the attention of one layer reads.
pub struct AttnIn {
    pub layer: u64,
    /// The normalised hidden states (rows × hidden).
    pub x: ValueId,
    pub batch: u64,
    pub seq: u64,
    /// Rotary cos and sin.
    pub cos_sin: Option<(ValueId, ValueId)>,
    /// The causal mask (eager) and the windowed layers' mask.
    pub mask: Option<ValueId>,
    pub window_mask: Option<ValueId>,
    pub use_cache: bool,
    pub dropout: f64,
}

/// Layer `i`'s attention up to (not including) `o_proj`; the value `o_proj` reads.
pub fn attention(g: &mut Graph, a: &TransformerArch, p: &AttnIn) -> Result<ValueId> {
    let rows = mul(p.batch, p.seq)?;
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
    let mask = match window(a, p.layer) {
        Some(_) if p.window_mask.is_some() => p.window_mask,
        _ => p.mask,
    };
    let attn = Attention {
        batch: p.batch,
        heads: nh,
        kv_heads: a.num_kv_heads,
        q_len: p.seq,
        kv_len: p.seq,
        head_dim: hd,
        v_head_dim: hd,
        causal: true,
        dropout: p.dropout,
        eager_mask: p.mask.is_some(),
        softmax_fp32: !a.variants.attn_sinks,
        fused_qkv: false,
        score_bias: false,
        sinks: a.variants.attn_sinks,
    };
    if let Some(mla) = a.variants.mla {
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
        ins.extend(mask);
        let op = Attention {
            kv_heads: nh,
            v_head_dim: mla.v_head_dim,
            ..attn
        };
        return Ok(g.push(Op::Attention(op), &ins));
    }
    let (q_dim, kv_dim) = (mul(nh, hd)?, mul(a.num_kv_heads, hd)?);
    let mut q = g.push(lin(hsz, q_dim, a.qkv_bias), &[p.x]);
    let mut k = g.push(lin(hsz, kv_dim, a.qkv_bias), &[p.x]);
    let v = g.push(lin(hsz, kv_dim, a.qkv_bias), &[p.x]);
    if a.variants.qk_norm == QkNorm::RmsPerHead {
        q = g.push(rms(mul(rows, nh)?, hd), &[q]);
        k = g.push(rms(mul(rows, a.num_kv_heads)?, hd), &[k]);
    }
    let rotary = !a.variants.nope_layers.contains(&p.layer);
    match p.cos_sin {
        Some((cos, sin)) if rotary => {
            q = g.push(Op::Rotary(Rotary), &[q, cos, sin]);
            k = g.push(Op::Rotary(Rotary), &[k, cos, sin]);
            if a.variants.qk_norm == QkNorm::L2 {
                let l2 = |rows| {
                    Op::FusedRmsNorm(FusedRmsNorm {
                        rows,
                        dim: hd,
                        weight: false,
                    })
                };
                q = g.push(l2(mul(rows, nh)?), &[q]);
                k = g.push(l2(mul(rows, a.num_kv_heads)?), &[k]);
            }
        }
        _ if a.model_type == "llama4_text" => {
            // NoPE layer: q times a per-position temperature (fp32, no grad)
            let scales = g.push(
                Op::Fill(Fill {
                    numel: p.seq,
                    dtype: Some(DType::F32),
                    buffer: None,
                }),
                &[],
            );
            q = g.push(Op::Mul(Mul), &[q, scales]);
        }
        _ => {}
    }
    if p.use_cache {
        let held = [
            g.push(Op::Copy(Copy::default()), &[k]),
            g.push(Op::Copy(Copy::default()), &[v]),
        ];
        if let Some(w) = window(a, p.layer) {
            g.held_windows.extend(held.iter().map(|&h| (h, w)));
        }
        g.forward_held.extend(held);
    }
    let mut ins = vec![q, k, v];
    ins.extend(mask);
    Ok(g.push(Op::Attention(attn), &ins))
}
