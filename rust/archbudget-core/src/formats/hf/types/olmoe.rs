//! olmoe (`modular_olmoe.py`) and granitemoe (`modular_granitemoe.py`): llama-like decoders
//! whose every MLP is a sparse block of routed experts (stored `[experts, 2·inter,
//! hidden]` / `[experts, hidden, inter]`, the router a `[experts, hidden]` weight), no
//! shared expert.
//! - olmoe: RMSNorms over the whole q projection (`hidden_size` wide) and k projection
//!   (`hidden / heads · kv_heads`); 64 experts, top 8, weights not renormalised by default.
//! - granitemoe: `block_sparse_moe` with a `router`, softmax over the top-k logits;
//!   granite's multipliers (no weights); `attention_bias` on all four projections.
//! - granitemoeshared: granitemoe with a gated `shared_mlp` beside the sparse block
//!   (`input_linear` 2·`shared_intermediate_size` wide, `output_linear`) when that size
//!   is not 0.
//! - flex_olmo: olmo2's decoder (norms on each branch's output, RMSNorms over the whole
//!   q and k projections) with olmoe's sparse block on every layer: 7 experts, top 5.
use crate::arch::{HeadKind, Moe, NormKind, QkNorm, QkNormKind, TransformerArch};
use crate::error::{mul, Result};

use super::super::config::Cfg;
use super::super::moe::Dims;

pub fn olmoe(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let d = Dims::read(cfg, 50304, 2048, 2048, 16, 16, None, None, 4096)?;
    let mut a = d.decoder(cfg, head)?;
    let bias = cfg.flag("attention_bias", false)?;
    (a.qkv_bias, a.o_bias) = (bias, bias);
    let k_width = mul(d.hidden / d.heads, d.kv_heads, cfg.location, "k norm width")?;
    a.details.qk_norm = Some(QkNorm {
        kind: QkNormKind::Learned(NormKind::RmsNorm),
        dim: d.hidden,
        q_width: d.hidden,
        k_width,
    });
    a.moe = Some(Moe {
        num_experts: cfg.dim("num_experts", 64)?,
        experts_per_token: cfg.dim("num_experts_per_tok", 8)?,
        expert_intermediate_size: d.inter,
        renormalize: cfg.flag("norm_topk_prob", false)?,
        weights_in_logits_dtype: true,
        ..Moe::softmax_router()
    });
    Ok(a)
}

pub fn granitemoeshared(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let mut a = granitemoe(cfg, head)?;
    if let Some(moe) = a.moe.as_mut() {
        moe.shared_expert_intermediate_size = cfg.count("shared_intermediate_size", 0)?;
    }
    Ok(a)
}

pub fn flex_olmo(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let d = Dims::read(cfg, 100_352, 4096, 11008, 32, 32, None, None, 4096)?;
    let mut a = d.decoder(cfg, head)?;
    let bias = cfg.flag("attention_bias", false)?;
    (a.qkv_bias, a.o_bias) = (bias, bias);
    a.details.post_branch_norms = true;
    let q_width = mul(d.heads, d.head_dim, cfg.location, "q norm width")?;
    a.details.qk_norm = Some(QkNorm {
        kind: QkNormKind::Learned(NormKind::RmsNorm),
        dim: q_width,
        q_width,
        k_width: mul(d.kv_heads, d.head_dim, cfg.location, "k norm width")?,
    });
    a.moe = Some(Moe {
        num_experts: cfg.dim("num_experts", 7)?,
        experts_per_token: cfg.dim("num_experts_per_tok", 5)?,
        expert_intermediate_size: d.inter,
        renormalize: cfg.flag("norm_topk_prob", false)?,
        weights_in_logits_dtype: true,
        ..Moe::softmax_router()
    });
    Ok(a)
}

pub fn granitemoe(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let d = Dims::read(cfg, 32000, 4096, 11008, 32, 32, None, None, 2048)?;
    let mut a = d.decoder(cfg, head)?;
    let bias = cfg.flag("attention_bias", false)?;
    (a.qkv_bias, a.o_bias) = (bias, bias);
    a.moe = Some(Moe {
        num_experts: cfg.dim("num_local_experts", 8)?,
        experts_per_token: cfg.dim("num_experts_per_tok", 2)?,
        expert_intermediate_size: d.inter,
        renormalize: true,
        ..Moe::softmax_router()
    });
    Ok(a)
}
