//! clip_vision_model, siglip_vision_model and gemma4_vision: a CLIP, SigLIP or Gemma 4
//! vision tower as a model of its own (`AutoModel` builds `CLIPVisionModel` /
//! `SiglipVisionModel` / `Gemma4VisionModel`; no LM head).
//!
//! Computes: [`super::vision`]'s CLIP or SigLIP tower (patch embedding, positions, CLIP's
//! `pre_layrnorm`, N pre-norm LayerNorm blocks, `post_layernorm`, SigLIP's attention-pooling
//! head when `vision_use_head`; Gemma 4's patch embedder, RMSNorm blocks and weightless
//! pooler), its modules at the top level of the model.
//! Weights: those of the tower in the dual encoders (`clip.rs`).
//! Mirrors: `CLIPVisionModel` and `SiglipVisionModel` of transformers 5.x (which hold the
//! tower's modules themselves, no `vision_model` wrapper) and `CLIPVisionConfig` /
//! `SiglipVisionConfig` defaults (`hidden_act` quick_gelu / gelu_pytorch_tanh), and
//! `Gemma4VisionModel` / `Gemma4VisionConfig` of transformers 5.24 (`hidden_activation`).
use crate::arch::{NormKind, Position, TowerFamily, TransformerArch, VisionModel, VisionOutput};
use crate::error::Result;

use super::config::Cfg;
use super::modules::Modules;
use super::vision::{patches, tower, tower_rows};

pub fn arch(cfg: &Cfg) -> Result<TransformerArch> {
    let (family, act_key, act) = match cfg.model_type {
        "clip_vision_model" => (TowerFamily::Clip, "hidden_act", "quick_gelu"),
        "gemma4_vision" => (
            TowerFamily::Gemma4,
            "hidden_activation",
            "gelu_pytorch_tanh",
        ),
        _ => (TowerFamily::Siglip, "hidden_act", "gelu_pytorch_tanh"),
    };
    let t = tower(cfg, family)?;
    let slots = patches(&t, cfg.location)? + u64::from(family == TowerFamily::Clip);
    let (kv_heads, head_dim) = match &t.gemma4 {
        Some(g) => (g.kv_heads, g.head_dim),
        None => (t.num_heads, t.hidden_size / t.num_heads),
    };
    let gemma4 = t.gemma4.is_some();
    // made before `t` moves into `details`
    let base = TransformerArch::encoder(
        cfg.model_type,
        t.hidden_size,
        t.num_layers,
        t.num_heads,
        t.intermediate_size,
    );
    Ok(TransformerArch {
        num_kv_heads: kv_heads,
        head_dim,
        gated_mlp: gemma4,
        activation: cfg.string(act_key, act)?,
        norm: match gemma4 {
            true => NormKind::RmsNorm,
            false => NormKind::LayerNorm { bias: true },
        },
        norms_per_layer: if gemma4 { 4 } else { 2 },
        final_norm: !gemma4,
        qkv_bias: !gemma4,
        o_bias: !gemma4,
        mlp_bias: !gemma4,
        position: match gemma4 {
            true => Position::Rotary,
            false => Position::Learned { rows: slots },
        },
        max_positions: slots,
        details: crate::arch::BlockDetails {
            vision_model: Some(Box::new(VisionModel {
                tower: t,
                output: VisionOutput::LastHidden,
            })),
            ..Default::default()
        },
        ..base
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
        TowerFamily::Gemma4 => "Gemma4VisionModel",
        _ => "SiglipVisionModel",
    }
    .to_string())
}
