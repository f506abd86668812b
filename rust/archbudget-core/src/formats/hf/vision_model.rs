//! clip_vision_model and siglip_vision_model: a CLIP or SigLIP vision tower as a model of
//! its own (`AutoModel` builds `CLIPVisionModel` / `SiglipVisionModel`; no LM head).
//!
//! Computes: [`super::vision`]'s CLIP or SigLIP tower (patch embedding, positions, CLIP's
//! `pre_layrnorm`, N pre-norm LayerNorm blocks, `post_layernorm`, SigLIP's attention-pooling
//! head when `vision_use_head`), its modules at the top level of the model.
//! Weights: those of the tower in the dual encoders (`clip.rs`).
//! Mirrors: `CLIPVisionModel` and `SiglipVisionModel` of transformers 5.x (which hold the
//! tower's modules themselves, no `vision_model` wrapper) and `CLIPVisionConfig` /
//! `SiglipVisionConfig` defaults (`hidden_act` quick_gelu / gelu_pytorch_tanh).
use crate::arch::{
    ArchKind, HeadKind, NormKind, Position, TowerFamily, TransformerArch, VisionModel, VisionOutput,
};
use crate::error::Result;

use super::config::Cfg;
use super::modules::Modules;
use super::vision::{tower, tower_rows};

pub fn arch(cfg: &Cfg) -> Result<TransformerArch> {
    let (family, act) = match cfg.model_type {
        "clip_vision_model" => (TowerFamily::Clip, "quick_gelu"),
        _ => (TowerFamily::Siglip, "gelu_pytorch_tanh"),
    };
    let t = tower(cfg, family)?;
    let side = t.image_size / t.patch_size;
    let slots = side * side + u64::from(family == TowerFamily::Clip);
    Ok(TransformerArch {
        model_type: cfg.model_type.to_string(),
        kind: ArchKind::Encoder,
        head: HeadKind::Base,
        vocab_size: 0,
        embed_dim: t.hidden_size,
        hidden_size: t.hidden_size,
        num_layers: t.num_layers,
        num_decoder_layers: 0,
        num_heads: t.num_heads,
        num_kv_heads: t.num_heads,
        head_dim: t.hidden_size / t.num_heads,
        intermediate_size: t.intermediate_size,
        gated_mlp: false,
        activation: cfg.string("hidden_act", act)?,
        norm: NormKind::LayerNorm { bias: true },
        norms_per_layer: 2,
        final_norm: true,
        pre_norm: true,
        qkv_bias: true,
        o_bias: true,
        mlp_bias: true,
        fused_qkv: false,
        position: Position::Learned { rows: slots },
        max_positions: slots,
        type_vocab_size: 0,
        tie_word_embeddings: false,
        moe: None,
        parallel_attn: false,
        kv_broadcast: false,
        cross_attention: false,
        pooler: None,
        mlm_head: None,
        vision: None,
        scale_decoder_outputs: false,
        details: crate::arch::BlockDetails {
            vision_model: Some(Box::new(VisionModel {
                tower: t,
                output: VisionOutput::LastHidden,
            })),
            ..Default::default()
        },
    })
}

pub fn modules(a: &TransformerArch, m: &mut Modules) -> Result<String> {
    let t = &a
        .details
        .vision_model
        .as_deref()
        .ok_or_else(|| crate::Error::Internal("vision model without its tower".into()))?
        .tower;
    tower_rows(t, "", m)?;
    Ok(match t.family {
        TowerFamily::Clip => "CLIPVisionModel",
        _ => "SiglipVisionModel",
    }
    .to_string())
}
