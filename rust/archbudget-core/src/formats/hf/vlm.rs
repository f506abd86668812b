//! The multimodal wrappers gemma3, llava, mistral3, paligemma, qwen2_5_vl and llama4: a
//! vision tower (`vision.rs`), a projector onto the text width, and a text model read by
//! its own reader from `text_config` (any supported decoder type under llava, mistral3
//! and paligemma, whose PaliGemma 2 is gemma2).
//!
//! `AutoModel` builds `<Type>Model` (`vision_tower` or `visual`, `multi_modal_projector`,
//! `language_model`); `AutoModelForImageTextToText` builds `<Type>ForConditionalGeneration`
//! (that model as `model`, and `lm_head`, tied to the text embedding when the top-level
//! `tie_word_embeddings` says so; llava and qwen2_5_vl also take it from `text_config`).
//! llama4 differs: both heads build `Llama4ForConditionalGeneration`, which holds
//! `vision_model`, `multi_modal_projector` and `Llama4ForCausalLM` (with its own head,
//! tied as `text_config` says) as `language_model`.
//! A missing sub-config takes the wrapper's `SubConfigSpec` defaults (its `init_kwargs`);
//! a given one the defaults of its own config class.
//! Mirrors: `configuration_{gemma3,llava,mistral3,paligemma,qwen2_5_vl,llama4}.py` and their
//! modeling files, transformers 5.x.
use serde_json::{json, Map, Value};

use crate::arch::{HeadKind, Projector, TowerFamily, TransformerArch, VisionLanguage};
use crate::error::{mul, Result};
use crate::weight::{dim, Weight};

use super::config::Cfg;
use super::modules::{linear, lm_head, norm, Modules};
use super::vision::{family_of, tower, tower_rows, TOWER_TYPES};

pub const WRAPPERS: &[&str] = &[
    "gemma3",
    "llama4",
    "llava",
    "mistral3",
    "paligemma",
    "qwen2_5_vl",
];

/// Wrappers whose vision tower no block here describes (Qwen2-VL's LayerNorm blocks and
/// `ln_q` merger, Qwen3-VL's learned positions and deepstack mergers), each with the text
/// type its `text_config` holds, which is read alone.
const UNREAD_TOWERS: &[(&str, &str)] = &[
    ("qwen2_vl", "qwen2_vl_text"),
    ("qwen3_vl", "qwen3_vl_text"),
    ("qwen3_vl_moe", "qwen3_vl_moe_text"),
    ("qwen3_5", "qwen3_5_text"),
    ("qwen3_5_moe", "qwen3_5_moe_text"),
];

/// The one-line refusal of a wrapper in [`UNREAD_TOWERS`] (`None` for other types).
pub fn unread_tower(cfg: &Cfg) -> Option<crate::error::Error> {
    let (_, text) = UNREAD_TOWERS.iter().find(|(t, _)| *t == cfg.model_type)?;
    let route = match super::SUPPORTED.contains(text) {
        true => {
            format!("to count its language model, pass its text_config alone (model_type '{text}')")
        }
        false => format!("nor is its text model ('{text}')"),
    };
    Some(cfg.invalid(format!(
        "model_type '{}': its vision tower is not read yet; {route}",
        cfg.model_type
    )))
}

/// A wrapper read, before its text model is.
pub struct Wrapper {
    /// The text model's config, for its own reader.
    pub text: Value,
    pub text_location: String,
    /// The top-level `tie_word_embeddings` with the wrapper's default.
    pub tie: bool,
    /// The wrapper also ties when the text config does (llava's and qwen2_5_vl's
    /// backward compatibility with configs saved before transformers 5).
    pub tie_from_text: bool,
    pub vision: VisionLanguage,
}

impl Wrapper {
    /// The arch of the wrapper for `head`, from its text model's (read as the bare model).
    pub fn arch(self, mut text: TransformerArch, head: HeadKind) -> TransformerArch {
        text.head = if self.vision.lm_inside {
            HeadKind::CausalLm
        } else {
            head
        };
        text.tie_word_embeddings = self.tie || (self.tie_from_text && text.tie_word_embeddings);
        text.details.vision_language = Some(Box::new(self.vision));
        text
    }
}

/// The sub-config under `key`: the given object (its `model_type` defaulting to
/// `default_type`), or the spec's `init_kwargs` when absent or null.
pub(super) fn sub_config(
    cfg: &Cfg,
    config: &Value,
    key: &str,
    default_type: &str,
    init: Value,
) -> Result<Value> {
    let mut map = match config.get(key) {
        None | Some(Value::Null) => match init {
            Value::Object(map) => map,
            _ => Map::new(),
        },
        Some(Value::Object(map)) => map.clone(),
        Some(v) => return Err(cfg.invalid(format!("key '{key}' must be a JSON object, got {v}"))),
    };
    map.entry("model_type")
        .or_insert_with(|| json!(default_type));
    Ok(Value::Object(map))
}

/// `vision_feature_layer`: one layer index, or a list whose features are concatenated.
fn feature_layers(cfg: &Cfg, config: &Value) -> Result<u64> {
    match config.get("vision_feature_layer") {
        None | Some(Value::Null) | Some(Value::Number(_)) => Ok(1),
        Some(Value::Array(items)) if !items.is_empty() => Ok(items.len() as u64),
        Some(v) => Err(cfg.invalid(format!(
            "key 'vision_feature_layer' must be an integer or a non-empty list of integers, got {v}"
        ))),
    }
}

pub fn read(config: &Value, cfg: &Cfg) -> Result<Wrapper> {
    let loc = cfg.location;
    let (text, vision, tie, tie_from_text) = match cfg.model_type {
        "llava" => (
            sub_config(cfg, config, "text_config", "llama", Value::Null)?,
            sub_config(
                cfg,
                config,
                "vision_config",
                "clip_vision_model",
                json!({
                "intermediate_size": 4096, "hidden_size": 1024, "patch_size": 14,
                "image_size": 336, "num_hidden_layers": 24, "num_attention_heads": 16}),
            )?,
            cfg.flag("tie_word_embeddings", false)?,
            true,
        ),
        "mistral3" => (
            sub_config(
                cfg,
                config,
                "text_config",
                "mistral",
                json!({
                "head_dim": 128, "hidden_size": 5120, "intermediate_size": 32768,
                "max_position_embeddings": 131072, "num_attention_heads": 32,
                "num_hidden_layers": 40, "num_key_value_heads": 8, "sliding_window": null,
                "vocab_size": 131072}),
            )?,
            sub_config(
                cfg,
                config,
                "vision_config",
                "pixtral",
                json!({
                "intermediate_size": 4096, "hidden_size": 1024, "patch_size": 14,
                "image_size": 1540, "num_hidden_layers": 24, "num_attention_heads": 16}),
            )?,
            cfg.flag("tie_word_embeddings", true)?,
            false,
        ),
        // the text config class is fixed, whatever model_type it names
        "gemma3" => {
            let mut text = sub_config(cfg, config, "text_config", "gemma3_text", Value::Null)?;
            text["model_type"] = json!("gemma3_text");
            let vision = sub_config(
                cfg,
                config,
                "vision_config",
                "siglip_vision_model",
                Value::Null,
            )?;
            (text, vision, cfg.flag("tie_word_embeddings", true)?, false)
        }
        // `PaliGemmaConfig`'s sub-config defaults (PaliGemma 1: SigLIP So400m, Gemma 2B)
        "paligemma" => (
            sub_config(
                cfg,
                config,
                "text_config",
                "gemma",
                json!({
                "hidden_size": 2048, "num_hidden_layers": 18, "intermediate_size": 16384,
                "num_attention_heads": 8, "num_key_value_heads": 1, "vocab_size": 257152}),
            )?,
            sub_config(
                cfg,
                config,
                "vision_config",
                "siglip_vision_model",
                json!({
                "intermediate_size": 4096, "hidden_size": 1152, "patch_size": 14,
                "image_size": 224, "num_hidden_layers": 27, "num_attention_heads": 16,
                "vision_use_head": false}),
            )?,
            cfg.flag("tie_word_embeddings", true)?,
            false,
        ),
        "llama4" => {
            let mut text = sub_config(cfg, config, "text_config", "llama4_text", Value::Null)?;
            text["model_type"] = json!("llama4_text");
            let vision = sub_config(
                cfg,
                config,
                "vision_config",
                "llama4_vision_model",
                Value::Null,
            )?;
            (text, vision, false, true)
        }
        _ => (
            qwen2_5_vl_text(cfg, config)?,
            sub_config(
                cfg,
                config,
                "vision_config",
                "qwen2_5_vl_vision",
                Value::Null,
            )?,
            cfg.flag("tie_word_embeddings", false)?,
            true,
        ),
    };
    let vision_location = format!("{loc} (vision_config)");
    let vcfg = Cfg::new(&vision, &vision_location)?;
    let family = match cfg.model_type {
        "qwen2_5_vl" => TowerFamily::Qwen25Vl,
        "llama4" => TowerFamily::Llama4,
        _ => family_of(vcfg.model_type).ok_or_else(|| {
            vcfg.invalid(format!(
                "vision model_type '{}' is not supported (supported: {TOWER_TYPES})",
                vcfg.model_type
            ))
        })?,
    };
    let t = tower(&vcfg, family)?;
    let (base_class, lm_class, tower_path, projector) = match cfg.model_type {
        "llama4" => {
            let class = "Llama4ForConditionalGeneration";
            let vision_output_dim = vcfg.dim("vision_output_dim", 7680)?;
            (
                class,
                class,
                "vision_model",
                Projector::Llama4 { vision_output_dim },
            )
        }
        "llava" => (
            "LlavaModel",
            "LlavaForConditionalGeneration",
            "vision_tower",
            Projector::Llava {
                feature_layers: feature_layers(cfg, config)?,
                bias: cfg.flag("multimodal_projector_bias", true)?,
            },
        ),
        "mistral3" => (
            "Mistral3Model",
            "Mistral3ForConditionalGeneration",
            "vision_tower",
            Projector::Mistral3 {
                feature_layers: feature_layers(cfg, config)?,
                bias: cfg.flag("multimodal_projector_bias", false)?,
                spatial_merge: cfg.dim("spatial_merge_size", 2)?,
            },
        ),
        "gemma3" => (
            "Gemma3Model",
            "Gemma3ForConditionalGeneration",
            "vision_tower",
            Projector::Gemma3,
        ),
        "paligemma" => (
            "PaliGemmaModel",
            "PaliGemmaForConditionalGeneration",
            "vision_tower",
            Projector::PaliGemma {
                projection_dim: cfg.dim("projection_dim", 2048)?,
            },
        ),
        _ => (
            "Qwen2_5_VLModel",
            "Qwen2_5_VLForConditionalGeneration",
            "visual",
            Projector::InTower,
        ),
    };
    Ok(Wrapper {
        text,
        text_location: format!("{loc} (text_config)"),
        tie,
        tie_from_text,
        vision: VisionLanguage {
            model_type: cfg.model_type.to_string(),
            base_class,
            lm_class,
            tower_path,
            lm_inside: cfg.model_type == "llama4",
            tower: t,
            projector,
        },
    })
}

/// Qwen2.5-VL's text model (`Qwen2_5_VLTextConfig`, qwen2's decoder with its own
/// defaults): hub configs keep its keys at the top level rather than in `text_config`.
fn qwen2_5_vl_text(cfg: &Cfg, config: &Value) -> Result<Value> {
    let given = match config.get("text_config") {
        None | Some(Value::Null) => config,
        Some(v @ Value::Object(_)) => v,
        Some(v) => {
            return Err(cfg.invalid(format!("key 'text_config' must be a JSON object, got {v}")))
        }
    };
    let mut text: Map<String, Value> = given
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| k.as_str() != "vision_config")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    text.insert("model_type".into(), json!("qwen2_5_vl_text"));
    Ok(Value::Object(text))
}

/// The rows of the wrapper: tower, projector, the text model's (`text_rows`, under
/// `language_model.`) and the LM head; returns the class.
pub fn modules(
    a: &TransformerArch,
    vl: &VisionLanguage,
    m: &mut Modules,
    text_rows: impl FnOnce(&TransformerArch, &mut Modules) -> Result<String>,
) -> Result<String> {
    let root = if a.head.has_lm_head() && !vl.lm_inside {
        "model."
    } else {
        ""
    };
    vision_rows(a, vl, root, m)?;
    let mut text = a.clone();
    if !vl.lm_inside {
        text.head = HeadKind::Base;
    }
    text.details.vision_language = None;
    m.set_prefix(format!("{root}language_model."));
    text_rows(&text, m)?;
    m.set_prefix(String::new());
    if vl.lm_inside || !a.head.has_lm_head() {
        return Ok(vl.base_class.to_string());
    }
    lm_head(m, "lm_head", a, "model.language_model's token embedding")?;
    Ok(vl.lm_class.to_string())
}

/// The tower's and the projector's rows under `root`.
pub fn vision_rows(
    a: &TransformerArch,
    vl: &VisionLanguage,
    root: &str,
    m: &mut Modules,
) -> Result<()> {
    tower_rows(&vl.tower, &format!("{root}{}", vl.tower_path), m)?;
    projector_rows(a, vl, &format!("{root}multi_modal_projector"), m)
}

fn projector_rows(
    a: &TransformerArch,
    vl: &VisionLanguage,
    path: &str,
    m: &mut Modules,
) -> Result<()> {
    let loc = m.location();
    let t = &vl.tower;
    let (vh, th) = (
        dim(t.hidden_size, "vision_hidden"),
        dim(a.hidden_size, "hidden"),
    );
    let mut w = Vec::new();
    let (class, feature_layers, bias) = match vl.projector {
        Projector::InTower => return Ok(()),
        Projector::Llama4 { vision_output_dim } => {
            linear(
                &mut w,
                "linear_1.",
                dim(vision_output_dim, "vision_output"),
                th,
                false,
            );
            return m.add(path.to_string(), "Llama4MultiModalProjector", w);
        }
        Projector::PaliGemma { projection_dim } => {
            linear(
                &mut w,
                "linear.",
                vh,
                dim(projection_dim, "projection"),
                true,
            );
            return m.add(path.to_string(), "PaliGemmaMultiModalProjector", w);
        }
        Projector::Gemma3 => {
            w.push(Weight::new("mm_input_projection_weight", vec![vh, th]));
            norm(
                &mut w,
                "mm_soft_emb_norm.",
                t.hidden_size,
                crate::arch::NormKind::RmsNorm,
            );
            return m.add(path.to_string(), "Gemma3MultiModalProjector", w);
        }
        Projector::Llava {
            feature_layers,
            bias,
        } => ("LlavaMultiModalProjector", feature_layers, bias),
        Projector::Mistral3 {
            feature_layers,
            bias,
            spatial_merge,
        } => {
            norm(
                &mut w,
                "norm.",
                t.hidden_size,
                crate::arch::NormKind::RmsNorm,
            );
            let merged = mul(
                t.hidden_size,
                mul(spatial_merge, spatial_merge, loc, "merger width")?,
                loc,
                "merger width",
            )?;
            linear(
                &mut w,
                "patch_merger.merging_layer.",
                dim(merged, "vision_hidden×merge²"),
                vh.clone(),
                false,
            );
            ("Mistral3MultiModalProjector", feature_layers, bias)
        }
    };
    let inputs = dim(
        mul(t.hidden_size, feature_layers, loc, "projector input")?,
        "vision_hidden×layers",
    );
    linear(&mut w, "linear_1.", inputs, th.clone(), bias);
    linear(&mut w, "linear_2.", th.clone(), th, bias);
    m.add(path.to_string(), class, w)
}
