//! qwen3_vl_text (`modular_qwen3_vl.py`): the text decoder inside Qwen3-VL, qwen3's
//! attention (RMSNorms on each head's q and k, `head_dim` 128) without sliding windows,
//! `attention_bias` on all four projections; its multimodal rotary sections and deepstack
//! feature injection change no weight. transformers has only the bare model for it.
use crate::arch::{HeadKind, QkNorm, TransformerArch};
use crate::error::Result;

use super::super::config::Cfg;
use super::super::moe::{qwen3_sparse, Dims};
use super::super::spec::*;
use super::qwen3::QWEN3;

pub const QWEN3_VL_TEXT: TypeSpec = TypeSpec {
    model_type: "qwen3_vl_text",
    base_class: "Qwen3VLTextModel",
    lm_class: "Qwen3VLTextModel",
    defaults: Defaults {
        kv_heads: Some(32),
        max_positions: 128_000,
        sliding_window: None,
        ..QWEN3.defaults
    },
    attention: AttentionSpec {
        class: "Qwen3VLTextAttention",
        windows: Windows::None,
        ..QWEN3.attention
    },
    mlp: MlpSpec {
        class: "Qwen3VLTextMLP",
        ..QWEN3.mlp
    },
    norms: NormSpec {
        class: "Qwen3VLTextRMSNorm",
        ..QWEN3.norms
    },
    ..QWEN3
};

/// qwen3_vl_moe_text (`modular_qwen3_vl_moe.py`): qwen3_moe's decoder (60 experts, top 4,
/// 1408 wide) whose router always renormalises its top-k weights and whose layers never
/// slide; `head_dim` defaults to hidden / heads.
pub fn moe_text(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let d = Dims::read(cfg, 151936, 2048, 5632, 24, 16, Some(16), None, 128_000)?;
    let mut a = d.decoder(cfg, head)?;
    let bias = cfg.flag("attention_bias", false)?;
    (a.qkv_bias, a.o_bias) = (bias, bias);
    a.details.qk_norm = Some(QkNorm::rms_per_head(d.head_dim));
    a.moe = qwen3_sparse(cfg, d.layers, (60, 4, 1408), Some(true))?;
    Ok(a)
}
