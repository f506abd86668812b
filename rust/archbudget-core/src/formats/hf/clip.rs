//! clip and siglip: the dual encoders `CLIPModel` and `SiglipModel` (`AutoModel`; neither
//! has a language-model head).
//!
//! Computes: a text encoder (`text_model`: token and learned position embeddings, N
//! pre-norm LayerNorm blocks, `final_layer_norm`; clip's is causal) beside a vision tower
//! (`vision_model`, [`super::vision`]'s CLIP or SigLIP tower), joined by a contrastive head.
//! Weights: the text blocks are the vision blocks' kind (`CLIPEncoderLayer`,
//! `SiglipEncoderLayer`); clip: bias-free `visual_projection` and `text_projection` to
//! `projection_dim` and a scalar `logit_scale`; siglip: the text model's biased `head`
//! (`hidden → projection_size`), the vision tower's pooling head, and one-element
//! `logit_scale` and `logit_bias`.
//! Mirrors: `modeling_clip.py` and `modeling_siglip.py` of transformers 5.x (`CLIPModel`,
//! `SiglipModel`) and their configuration defaults.
use serde_json::Value;

use crate::arch::{DualEncoder, Position, TowerFamily, TransformerArch, VisionTower};
use crate::error::Result;
use crate::weight::{dim, Weight};

use super::config::Cfg;
use super::modules::{linear, norm_row, Modules};
use super::vision::{encoder_blocks, tower, tower_rows};
use super::vlm::sub_config;

pub fn arch(config: &Value, cfg: &Cfg) -> Result<TransformerArch> {
    let loc = cfg.location;
    let siglip = cfg.model_type == "siglip";
    let (family, text_type, vision_type) = match siglip {
        true => (
            TowerFamily::Siglip,
            "siglip_text_model",
            "siglip_vision_model",
        ),
        false => (TowerFamily::Clip, "clip_text_model", "clip_vision_model"),
    };
    let text = sub_config(cfg, config, "text_config", text_type, Value::Null)?;
    let text_location = format!("{loc} (text_config)");
    let t = Cfg::new(&text, &text_location)?;
    let vision = sub_config(cfg, config, "vision_config", vision_type, Value::Null)?;
    let vision_location = format!("{loc} (vision_config)");
    let tower = tower(&Cfg::new(&vision, &vision_location)?, family)?;
    let projection_dim = match siglip {
        true => None,
        false => Some(cfg.dim("projection_dim", 512)?),
    };
    text_arch(&t, cfg.model_type, tower, projection_dim)
}

/// The text encoder's structure from its config `t`, beside `tower` (whose kind of block
/// the text blocks are) under `model_type`; clip's `projection_dim` (siglip's text model
/// projects to its own `projection_size`).
pub fn text_arch(
    t: &Cfg,
    model_type: &str,
    tower: VisionTower,
    projection_dim: Option<u64>,
) -> Result<TransformerArch> {
    let siglip = tower.family == TowerFamily::Siglip;
    // (hidden, intermediate, heads, positions, vocab, activation) of each text config
    let (hidden, inter, heads, positions, vocab, act) = match siglip {
        true => (768, 3072, 12, 64, 32000, "gelu_pytorch_tanh"),
        false => (512, 2048, 8, 77, 49408, "quick_gelu"),
    };
    let hidden = t.dim("hidden_size", hidden)?;
    let heads = t.dim("num_attention_heads", heads)?;
    t.require_divisible(("hidden_size", hidden), ("num_attention_heads", heads))?;
    let max_positions = t.dim("max_position_embeddings", positions)?;
    let projection_dim = match projection_dim {
        Some(p) => p,
        None => t.dim_opt("projection_size")?.unwrap_or(hidden),
    };
    let vocab = t.dim("vocab_size", vocab)?;
    let layers = t.layers(&["num_hidden_layers"], 12)?;
    let inter = t.dim("intermediate_size", inter)?;
    Ok(TransformerArch {
        vocab_size: vocab,
        activation: t.string("hidden_act", act)?,
        position: Position::Learned {
            rows: max_positions,
        },
        max_positions,
        details: crate::arch::BlockDetails {
            dual_encoder: Some(Box::new(DualEncoder {
                model_type: model_type.to_string(),
                tower,
                projection_dim,
            })),
            ..Default::default()
        },
        ..TransformerArch::encoder(model_type, hidden, layers, heads, inter)
    })
}

pub fn modules(a: &TransformerArch, m: &mut Modules) -> Result<String> {
    let de = a
        .details
        .dual_encoder
        .as_deref()
        .ok_or_else(|| crate::Error::Internal("dual encoder without its tower".into()))?;
    text_rows(a, de, "text_model.", m)?;
    let siglip = de.tower.family == TowerFamily::Siglip;
    let h = dim(a.hidden_size, "text_hidden");
    let projection = dim(de.projection_dim, "projection");
    tower_rows(&de.tower, "vision_model", m)?;
    if siglip {
        // one-element tensors (`torch.randn(1)`)
        for name in ["logit_scale", "logit_bias"] {
            m.add(
                name.to_string(),
                "Parameter",
                vec![Weight::new(name, vec![dim(1, "1")])],
            )?;
        }
        return Ok("SiglipModel".to_string());
    }
    let mut w = Vec::new();
    let vision_hidden = dim(de.tower.hidden_size, "vision_hidden");
    linear(&mut w, "", vision_hidden, projection.clone(), false);
    m.add("visual_projection".to_string(), "Linear", w)?;
    let mut w = Vec::new();
    linear(&mut w, "", h, projection, false);
    m.add("text_projection".to_string(), "Linear", w)?;
    // a 0-d tensor (`torch.tensor(logit_scale_init_value)`)
    m.add(
        "logit_scale".to_string(),
        "Parameter",
        vec![Weight::new("logit_scale", Vec::new())],
    )?;
    Ok("CLIPModel".to_string())
}

/// The text encoder's rows under `base` (`text_model.` in the dual encoder, nothing in
/// the text model alone): embeddings, blocks, `final_layer_norm`, siglip's `head`.
pub fn text_rows(a: &TransformerArch, de: &DualEncoder, base: &str, m: &mut Modules) -> Result<()> {
    let siglip = de.tower.family == TowerFamily::Siglip;
    let family = de.tower.family;
    let text_class = match siglip {
        true => "SiglipTextEmbeddings",
        false => "CLIPTextEmbeddings",
    };
    let h = dim(a.hidden_size, "text_hidden");
    m.add(
        format!("{base}embeddings"),
        text_class,
        vec![
            Weight::new(
                "token_embedding.weight",
                vec![dim(a.vocab_size, "vocab"), h.clone()],
            ),
            Weight::new(
                "position_embedding.weight",
                vec![dim(a.max_positions, "positions"), h.clone()],
            ),
        ],
    )?;
    // the text blocks are the vision tower's kind of block at the text widths
    let text_blocks = VisionTower {
        family,
        hidden_size: a.hidden_size,
        intermediate_size: a.intermediate_size,
        num_layers: a.num_layers,
        num_heads: a.num_heads,
        ..de.tower.clone()
    };
    encoder_blocks(
        &text_blocks,
        base.trim_end_matches('.'),
        ("text_hidden", "text_intermediate"),
        m,
    )?;
    norm_row(
        m,
        format!("{base}final_layer_norm"),
        "LayerNorm",
        a.hidden_size,
        a.norm,
    )?;
    if siglip {
        let mut w = Vec::new();
        let projection = dim(de.projection_dim, "projection");
        linear(&mut w, "", h, projection, true);
        m.add(format!("{base}head"), "Linear", w)?;
    }
    Ok(())
}
