//! clip_text_model and siglip_text_model: the text encoder of clip / siglip alone
//! (`CLIPTextModel`, `SiglipTextModel`; AutoModel maps the first, transformers builds
//! the second by its class). Their modules sit at the root (`embeddings`,
//! `encoder.layers.N`, `final_layer_norm`, siglip's `head`): the dual encoder's text rows
//! ([`super::clip::text_rows`]) without its `text_model.` prefix. Neither has a
//! language-model head.
//! Mirrors: `modeling_clip.py` and `modeling_siglip.py` of transformers 5.x.
use serde_json::json;

use crate::arch::{TowerFamily, TransformerArch};
use crate::error::Result;

use super::config::Cfg;
use super::modules::Modules;
use super::vision::tower;

pub fn arch(cfg: &Cfg) -> Result<TransformerArch> {
    let (family, vision_type) = match cfg.model_type {
        "siglip_text_model" => (TowerFamily::Siglip, "siglip_vision_model"),
        _ => (TowerFamily::Clip, "clip_vision_model"),
    };
    // the text blocks are the tower's kind of block: a default tower of that family
    // carries the kind; it is not part of the model
    let defaults = json!({ "model_type": vision_type });
    let kind = tower(&Cfg::new(&defaults, cfg.location)?, family)?;
    super::clip::text_arch(cfg, cfg.model_type, kind, None)
}

pub fn modules(a: &TransformerArch, m: &mut Modules) -> Result<String> {
    let de = a
        .details
        .dual_encoder
        .as_deref()
        .ok_or_else(|| crate::Error::Internal("text encoder without its block kind".into()))?;
    super::clip::text_rows(a, de, "", m)?;
    Ok(match de.tower.family {
        TowerFamily::Siglip => "SiglipTextModel",
        _ => "CLIPTextModel",
    }
    .to_string())
}
