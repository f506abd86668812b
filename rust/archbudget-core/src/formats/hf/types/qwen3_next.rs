//! qwen3_next (`modular_qwen3_next.py`): qwen3_moe's decoder whose layers follow
//! `layer_types` (default: every `full_attention_interval`-th layer, 4, full attention,
//! the others linear attention), with
//! - Gated DeltaNet linear-attention layers (`linear_attn`, [`super::super::linear_attention`]);
//! - full-attention layers whose `q_proj` also computes an output gate (twice as wide),
//!   per-head RMSNorms on q and k, partial rotary (`partial_rotary_factor` 0.25);
//! - qwen2_moe's sparse block: softmax router, routed experts, a shared expert scaled by
//!   `sigmoid(shared_expert_gate(x))`; dense `Qwen3NextMLP` in `mlp_only_layers` and off
//!   the `decoder_sparse_step`.
//!
//! Norms are gemma's `1 + w` RMSNorm (same weights).
use crate::arch::{HeadKind, LayerMixer, Moe, QkNorm, TransformerArch};
use crate::error::Result;

use super::super::config::Cfg;
use super::super::decoder::rotary_dim;
use super::super::layer_kinds::layer_types;
use super::super::linear_attention;
use super::super::moe::Dims;
use super::super::spec::Rotary;

pub fn arch(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let d = Dims::read(cfg, 151936, 2048, 5632, 48, 16, Some(2), Some(256), 32768)?;
    let mut a = hybrid(cfg, &d, head)?;
    let num_experts = cfg.count("num_experts", 512)?;
    let step = cfg.dim("decoder_sparse_step", 1)?;
    let mlp_only = cfg.count_list("mlp_only_layers")?;
    let dense_layers: Vec<u64> = (0..d.layers)
        .filter(|i| num_experts == 0 || mlp_only.contains(i) || (i + 1) % step != 0)
        .collect();
    if (dense_layers.len() as u64) < d.layers {
        a.moe = Some(Moe {
            num_experts,
            experts_per_token: cfg.dim("num_experts_per_tok", 10)?,
            expert_intermediate_size: cfg.dim("moe_intermediate_size", 512)?,
            shared_expert_intermediate_size: cfg.dim("shared_expert_intermediate_size", 512)?,
            shared_expert_gate: true,
            dense_layers,
            renormalize: cfg.flag("norm_topk_prob", true)?,
            weights_in_logits_dtype: true,
            ..Moe::softmax_router()
        });
    }
    Ok(a)
}

/// The decoder qwen3_next and qwen3_5 share, with dense MLPs: linear and full attention
/// layers as `layer_types` (or `full_attention_interval`) say, the full ones gated, with
/// per-head q/k norms and partial rotary.
pub(super) fn hybrid(cfg: &Cfg, d: &Dims, head: HeadKind) -> Result<TransformerArch> {
    let mut a = d.decoder(cfg, head)?;
    let bias = cfg.flag("attention_bias", false)?;
    (a.qkv_bias, a.o_bias) = (bias, bias);
    a.details.qk_norm = Some(QkNorm::rms_per_head(d.head_dim));
    a.details.attn_output_gate = true;
    a.details.rotary_dim = rotary_dim(cfg, Rotary::Factor(0.25), d.head_dim)?;
    let known = ["linear_attention", "full_attention"];
    let mixers: Vec<LayerMixer> = match layer_types(cfg, d.layers, &known)? {
        Some(types) => types
            .iter()
            .map(|&t| match t {
                "linear_attention" => LayerMixer::LinearAttention,
                _ => LayerMixer::Attention,
            })
            .collect(),
        None => {
            let every = cfg.dim("full_attention_interval", 4)?;
            (0..d.layers)
                .map(|i| match (i + 1) % every {
                    0 => LayerMixer::Attention,
                    _ => LayerMixer::LinearAttention,
                })
                .collect()
        }
    };
    if mixers.contains(&LayerMixer::LinearAttention) {
        a.details.linear_attention = Some(linear_attention::read(cfg)?);
    }
    a.details.mixers = mixers;
    Ok(a)
}
