//! phimoe (`modeling_phimoe.py`): mixtral's sparse decoder with LayerNorms (biased) in
//! place of RMSNorms, `attention_bias` on all four projections, a bias-free `router`
//! (sparsemixer top-2 routing) over 16 experts `intermediate_size` wide, no shared
//! expert, and `lm_head_bias`.
use crate::arch::{HeadKind, Moe, NormKind, TransformerArch};
use crate::error::Result;

use super::super::config::Cfg;
use super::super::moe::Dims;

pub fn phimoe(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let d = Dims::read(cfg, 32064, 4096, 6400, 32, 32, Some(8), None, 131_072)?;
    let mut a = d.decoder(cfg, head)?;
    let bias = cfg.flag("attention_bias", false)?;
    (a.qkv_bias, a.o_bias) = (bias, bias);
    a.norm = NormKind::LayerNorm { bias: true };
    a.details.lm_head_bias = cfg.flag("lm_head_bias", false)?;
    a.moe = Some(Moe {
        num_experts: cfg.dim("num_local_experts", 16)?,
        experts_per_token: cfg.dim("num_experts_per_tok", 2)?,
        expert_intermediate_size: d.inter,
        ..Moe::softmax_router()
    });
    Ok(a)
}
