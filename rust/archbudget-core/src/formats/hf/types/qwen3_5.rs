//! qwen3_5_text and qwen3_5_moe_text (`modular_qwen3_5.py`, `modular_qwen3_5_moe.py`),
//! the Qwen3.5 text decoders: qwen3_next's hybrid layers (Gated DeltaNet linear attention,
//! three to each gated full-attention layer by default) with
//! - the linear layers' input projections split (`in_proj_qkv`, `in_proj_z`, `in_proj_b`,
//!   `in_proj_a`: qwen3_next's fused `in_proj_qkvz` and `in_proj_ba`, the same weights);
//! - qwen3_5_text: a dense gated MLP in every layer;
//! - qwen3_5_moe_text: qwen3_next's sparse block (shared expert behind its sigmoid gate) in
//!   every layer, its top-k weights always renormalised (no `mlp_only_layers`,
//!   `decoder_sparse_step` or `norm_topk_prob`).
use crate::arch::{HeadKind, Moe, TransformerArch};
use crate::error::Result;

use super::super::config::Cfg;
use super::super::moe::Dims;
use super::qwen3_next::hybrid;

pub fn text(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let d = Dims::read(
        cfg,
        248_320,
        4096,
        12_288,
        32,
        16,
        Some(4),
        Some(256),
        32768,
    )?;
    hybrid(cfg, &d, head)
}

pub fn moe_text(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let expert_inter = cfg.dim("moe_intermediate_size", 512)?;
    // the config has no dense MLP width: every layer is sparse
    let d = Dims::read(
        cfg,
        248_320,
        2048,
        expert_inter,
        40,
        16,
        Some(2),
        Some(256),
        32768,
    )?;
    let mut a = hybrid(cfg, &d, head)?;
    a.moe = Some(Moe {
        num_experts: cfg.dim("num_experts", 256)?,
        experts_per_token: cfg.dim("num_experts_per_tok", 8)?,
        expert_intermediate_size: expert_inter,
        shared_expert_intermediate_size: cfg.dim("shared_expert_intermediate_size", 512)?,
        shared_expert_gate: true,
        dense_layers: Vec::new(),
        renormalize: true,
        weights_in_logits_dtype: true,
        ..Moe::softmax_router()
    });
    Ok(a)
}
