//! transformers config.json reader: exact parameter counts per model type.
//!
//! A config is read once into a [`TransformerArch`] (every transformers 5.x default
//! applied, for the head asked for), and the summary rows are declared from that arch,
//! one row per module with the module's path and class in the real model. Tied tensors
//! are counted once, as `model.parameters()` counts them.
mod bart;
mod bert;
pub mod blip2;
mod clip;
mod clip_text;
mod config;
mod deberta_v2;
mod decoder;
mod deepseek;
pub mod depth_anything;
mod dinov2;
pub mod dinov3_vit;
mod encoders;
mod esm;
mod falcon;
mod falcon_h1;
pub mod gemma3n;
pub mod gemma4;
mod gpt2;
mod gpt_neox;
mod gpt_oss;
mod jamba;
mod layer_kinds;
mod linear_attention;
mod llama;
mod llama4;
mod mamba;
mod modules;
mod moe;
pub mod moonshine;
mod opt;
pub mod sam;
pub mod sam_model;
pub mod segformer;
pub mod spec;
mod ssm;
pub mod swin;
mod t5;
pub mod t5gemma;
mod types;
mod vision;
mod vision_model;
mod vit;
mod vlm;
mod whisper;

pub use esm::contact_head_params as esm_contact_head_params;
pub use gpt2::cross_attention_params as gpt2_cross_attention_params;

use serde_json::Value;

use crate::arch::{ArchKind, HeadKind, TransformerArch, VisionLanguage};
use crate::error::{Error, Result};
use crate::summary::Summary;
use config::Cfg;
use modules::Modules;

/// The head asked for: `Base` is `AutoModel`, `CausalLm` is `AutoModelForCausalLM`, or
/// the type's LM-head class where it has no causal-LM class (distilbert's masked LM,
/// t5's and bart's conditional generation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Head {
    Base,
    CausalLm,
}

/// Every type read, in the order the unknown-type error lists them; the declarative
/// ones (`types/`) are found by their spec, the others by [`family`].
const SUPPORTED: &[&str] = &[
    "albert",
    "arcee",
    "bart",
    "bert",
    "blip-2",
    "bloom",
    "camembert",
    "clip",
    "clip_vision_model",
    "clip_text_model",
    "cohere",
    "cohere2",
    "data2vec-text",
    "deberta-v2",
    "deepseek_v2",
    "deepseek_v3",
    "depth_anything",
    "deit",
    "dinov2",
    "dinov2_with_registers",
    "dinov3_vit",
    "distilbert",
    "dots1",
    "electra",
    "ernie4_5",
    "esm",
    "exaone4",
    "falcon",
    "falcon_h1",
    "flex_olmo",
    "fnet",
    "gemma",
    "gemma2",
    "gemma3",
    "gemma3_text",
    "gemma3n_text",
    "gemma4_text",
    "gemma4_vision",
    "glm",
    "glm4",
    "glm4_moe",
    "glm4_moe_lite",
    "gpt2",
    "gpt_bigcode",
    "gpt_neox",
    "gpt_oss",
    "gptj",
    "helium",
    "hunyuan_v1_dense",
    "granite",
    "granitemoe",
    "granitemoeshared",
    "jamba",
    "llama",
    "llama4",
    "llama4_text",
    "llava",
    "mamba",
    "mamba2",
    "ministral",
    "ministral3",
    "mistral",
    "mistral3",
    "mixtral",
    "moonshine",
    "olmo2",
    "olmo3",
    "olmoe",
    "opt",
    "paligemma",
    "phi",
    "phi3",
    "phimoe",
    "qwen2",
    "qwen2_moe",
    "qwen2_5_vl",
    "qwen3",
    "qwen3_moe",
    "qwen3_next",
    "qwen3_vl_text",
    "qwen3_vl_moe_text",
    "qwen3_5_text",
    "qwen3_5_moe_text",
    "roberta",
    "seed_oss",
    "sam",
    "sam_vision_model",
    "segformer",
    "siglip",
    "siglip_vision_model",
    "siglip_text_model",
    "smollm3",
    "stablelm",
    "starcoder2",
    "swin",
    "t5",
    "t5gemma",
    "vaultgemma",
    "vit",
    "whisper",
    "xlm-roberta",
];

pub fn supported_model_types() -> &'static [&'static str] {
    SUPPORTED
}

/// The spec of a declarative type (`None` for the others).
pub fn type_spec(model_type: &str) -> Option<&'static spec::TypeSpec> {
    types::spec(model_type)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_spec_is_listed_as_supported() {
        for t in super::types::model_types() {
            assert!(super::SUPPORTED.contains(&t), "{t}");
        }
    }
}

#[derive(Clone, Copy)]
enum Family {
    /// A declarative type (`types/`): its spec says everything.
    Spec(&'static spec::TypeSpec),
    Llama,
    Gpt2,
    GptNeox,
    Opt,
    Falcon,
    Bert,
    /// albert, electra, fnet (`encoders.rs`) and deberta-v2: bert's encoder and what
    /// each changes.
    Encoder,
    T5,
    Bart,
    /// esm: bert's modules run pre-norm, rotary or learned positions (`esm.rs`).
    Esm,
    /// whisper: bart's layout with a speech front end (`whisper.rs`).
    Whisper,
    /// moonshine: a raw-audio stem and llama-style stacks (`moonshine.rs`).
    Moonshine,
    Vit,
    /// dinov2, dinov2_with_registers: vit with layer scales and register tokens
    /// (`dinov2.rs`); dinov3_vit: dinov2 with 2-D rotary positions (`dinov3_vit.rs`).
    Dinov2,
    /// swin: a hierarchical vision transformer (`swin.rs`).
    Swin,
    /// segformer: the Mix Transformer encoder (`segformer.rs`).
    Segformer,
    /// sam_vision_model: Segment Anything's windowed image encoder (`sam.rs`).
    SamVision,
    /// sam: that encoder, the prompt encoder and the mask decoder (`sam_model.rs`).
    Sam,
    /// clip, siglip: a text encoder beside a vision tower (`clip.rs`).
    DualEncoder,
    /// clip_vision_model, siglip_vision_model, gemma4_vision: the tower alone
    /// (`vision_model.rs`).
    VisionModel,
    /// clip_text_model, siglip_text_model: that text encoder alone (`clip_text.rs`).
    TextEncoder,
    Moe,
    /// gemma3n_text: gemma3's layers inside AltUp's streams (`gemma3n.rs`).
    Gemma3n,
    /// gemma4_text: gemma3's layers with per-layer inputs, KV sharing and experts (`gemma4.rs`).
    Gemma4,
    /// State-space and hybrid models: `mamba.rs` (mamba, mamba2), `jamba.rs`,
    /// `falcon_h1.rs`.
    Ssm,
}

fn family(cfg: &Cfg) -> Result<Family> {
    if let Some(spec) = types::spec(cfg.model_type) {
        return Ok(Family::Spec(spec));
    }
    Ok(match cfg.model_type {
        "llama" | "mistral" | "mixtral" | "qwen2" | "qwen2_moe" | "gemma" | "gemma2" | "phi3" => {
            Family::Llama
        }
        // qwen2_5_vl's text model, read inside its wrapper (not listed: transformers has
        // no causal-LM class for it, and the wrapper is what configs name)
        "qwen2_5_vl_text" => Family::Llama,
        "gpt2" => Family::Gpt2,
        "gpt_neox" => Family::GptNeox,
        "opt" => Family::Opt,
        "falcon" | "bloom" => Family::Falcon,
        "bert" | "roberta" | "xlm-roberta" | "camembert" | "data2vec-text" | "distilbert" => {
            Family::Bert
        }
        "albert" | "electra" | "fnet" | "deberta-v2" => Family::Encoder,
        "esm" => Family::Esm,
        "t5" | "t5gemma" => Family::T5,
        "bart" => Family::Bart,
        "whisper" => Family::Whisper,
        "moonshine" => Family::Moonshine,
        "vit" | "deit" => Family::Vit,
        "dinov2" | "dinov2_with_registers" | "dinov3_vit" | "depth_anything" => Family::Dinov2,
        "swin" => Family::Swin,
        "segformer" => Family::Segformer,
        "sam_vision_model" => Family::SamVision,
        "sam" => Family::Sam,
        "clip" | "siglip" => Family::DualEncoder,
        "clip_vision_model" | "siglip_vision_model" | "gemma4_vision" => Family::VisionModel,
        "clip_text_model" | "siglip_text_model" => Family::TextEncoder,
        "qwen3_moe" | "qwen3_next" | "deepseek_v2" | "deepseek_v3" | "glm4_moe" | "gpt_oss"
        | "llama4_text" | "qwen3_5_text" | "qwen3_5_moe_text" | "olmoe" | "granitemoe"
        | "qwen3_vl_moe_text" | "granitemoeshared" | "phimoe" | "flex_olmo" | "dots1"
        | "glm4_moe_lite" => Family::Moe,
        "mamba" | "mamba2" | "jamba" | "falcon_h1" => Family::Ssm,
        "gemma3n_text" => Family::Gemma3n,
        "gemma4_text" => Family::Gemma4,
        "gemma4" => return Err(gemma4::wrapper_refusal(cfg)),
        other => {
            return Err(Error::UnknownModelType {
                location: cfg.location.to_string(),
                model_type: other.to_string(),
                supported: SUPPORTED.join(", "),
            })
        }
    })
}

/// The class counted for `head` on this type.
fn resolve(cfg: &Cfg, head: Option<Head>) -> Result<HeadKind> {
    let lm = match cfg.model_type {
        "distilbert" | "albert" | "fnet" | "deberta-v2" | "esm" => Some(HeadKind::MaskedLm),
        "t5" | "t5gemma" | "bart" | "whisper" | "moonshine" => Some(HeadKind::Seq2SeqLm),
        "vit"
        | "deit"
        | "qwen2_5_vl_text"
        | "qwen3_vl_text"
        | "qwen3_vl_moe_text"
        | "clip"
        | "siglip"
        | "clip_vision_model"
        | "siglip_vision_model"
        | "gemma4_vision"
        | "dinov2"
        | "dinov2_with_registers"
        | "dinov3_vit"
        | "depth_anything"
        | "swin"
        | "segformer"
        | "sam_vision_model"
        | "sam"
        | "clip_text_model"
        | "siglip_text_model" => None,
        _ => Some(HeadKind::CausalLm),
    };
    match (head, lm) {
        // SPEC.md: causal_lm is the default only where the type has a causal-LM class.
        (Some(Head::Base), _) | (None, None | Some(HeadKind::MaskedLm | HeadKind::Seq2SeqLm)) => {
            Ok(HeadKind::Base)
        }
        (_, Some(kind)) => Ok(kind),
        (Some(Head::CausalLm), None) => Err(cfg.invalid(format!(
            "model_type '{}' has no language-model head; use head 'base'",
            cfg.model_type
        ))),
    }
}

fn read(config: &Value, head: Option<Head>, location: &str) -> Result<(Family, TransformerArch)> {
    let cfg = Cfg::new(config, location)?;
    if blip2::is_blip2(cfg.model_type) {
        return read_blip2(config, &cfg, head);
    }
    if vlm::WRAPPERS.contains(&cfg.model_type) {
        return read_wrapper(config, &cfg, head);
    }
    if let Some(refusal) = vlm::unread_tower(&cfg) {
        return Err(refusal);
    }
    let fam = family(&cfg)?;
    let head = resolve(&cfg, head)?;
    let arch = match fam {
        Family::Spec(spec) => decoder::arch(spec, &cfg, head)?,
        Family::Llama => llama::arch(&cfg, head)?,
        Family::Gpt2 => gpt2::arch(&cfg, head)?,
        Family::GptNeox => gpt_neox::arch(&cfg, head)?,
        Family::Opt => opt::arch(&cfg, head)?,
        Family::Falcon if cfg.model_type == "bloom" => falcon::bloom(&cfg, head)?,
        Family::Falcon => falcon::arch(&cfg, head)?,
        Family::Bert => bert::arch(&cfg, head)?,
        Family::Encoder if cfg.model_type == "deberta-v2" => deberta_v2::arch(&cfg, head)?,
        Family::Encoder => encoders::arch(&cfg, head)?,
        Family::Esm => esm::arch(&cfg, head)?,
        Family::T5 if cfg.model_type == "t5gemma" => t5gemma::arch(config, &cfg, head)?,
        Family::T5 => t5::arch(&cfg, head)?,
        Family::Bart => bart::arch(&cfg, head)?,
        Family::Whisper => whisper::arch(&cfg, head)?,
        Family::Moonshine => moonshine::arch(&cfg, head)?,
        Family::Vit => vit::arch(&cfg, head)?,
        Family::Dinov2 if cfg.model_type == "dinov3_vit" => dinov3_vit::arch(&cfg, head)?,
        Family::Dinov2 if cfg.model_type == "depth_anything" => {
            depth_anything::arch(&cfg, config, head)?
        }
        Family::Dinov2 => dinov2::arch(&cfg, head)?,
        Family::Swin => swin::arch(&cfg, head)?,
        Family::Segformer => segformer::arch(&cfg, head)?,
        Family::SamVision => sam::arch(&cfg, head)?,
        Family::Sam => sam_model::arch(&cfg, config)?,
        Family::DualEncoder => clip::arch(config, &cfg)?,
        Family::VisionModel => vision_model::arch(&cfg)?,
        Family::TextEncoder => clip_text::arch(&cfg)?,
        Family::Moe => match cfg.model_type {
            "deepseek_v2" | "deepseek_v3" => deepseek::arch(&cfg, head)?,
            "glm4_moe" => deepseek::glm4_moe(&cfg, head)?,
            "dots1" => deepseek::dots1(&cfg, head)?,
            "glm4_moe_lite" => deepseek::glm4_moe_lite(&cfg, head)?,
            "gpt_oss" => gpt_oss::arch(&cfg, head)?,
            "llama4_text" => llama4::arch(&cfg, head)?,
            "qwen3_next" => types::qwen3_next::arch(&cfg, head)?,
            "qwen3_5_text" => types::qwen3_5::text(&cfg, head)?,
            "qwen3_5_moe_text" => types::qwen3_5::moe_text(&cfg, head)?,
            "olmoe" => types::olmoe::olmoe(&cfg, head)?,
            "granitemoe" => types::olmoe::granitemoe(&cfg, head)?,
            "qwen3_vl_moe_text" => types::qwen3_vl::moe_text(&cfg, head)?,
            "granitemoeshared" => types::olmoe::granitemoeshared(&cfg, head)?,
            "phimoe" => types::phimoe::phimoe(&cfg, head)?,
            "flex_olmo" => types::olmoe::flex_olmo(&cfg, head)?,
            _ => moe::qwen3_moe(&cfg, head)?,
        },
        Family::Gemma3n => gemma3n::arch(&cfg, head)?,
        Family::Gemma4 => gemma4::arch(&cfg, head)?,
        Family::Ssm => match cfg.model_type {
            "mamba2" => mamba::mamba2(&cfg, head)?,
            "jamba" => jamba::arch(&cfg, head)?,
            "falcon_h1" => falcon_h1::arch(&cfg, head)?,
            _ => mamba::mamba(&cfg, head)?,
        },
    };
    Ok((fam, arch))
}

/// A multimodal wrapper: its text model read by that type's reader (as the bare model),
/// with the tower and projector beside it.
fn read_wrapper(
    config: &Value,
    cfg: &Cfg,
    head: Option<Head>,
) -> Result<(Family, TransformerArch)> {
    let head = resolve(cfg, head)?;
    let w = vlm::read(config, cfg)?;
    let (fam, text) = read(&w.text, Some(Head::Base), &w.text_location)?;
    if text.kind != ArchKind::Decoder || text.details.vision_language.is_some() {
        return Err(Error::invalid(
            &w.text_location,
            format!(
                "'{}' wraps a text decoder; model_type '{}' is not one",
                cfg.model_type,
                w.text["model_type"].as_str().unwrap_or_default()
            ),
        ));
    }
    Ok((fam, w.arch(text, head)))
}

/// blip-2: its language model read by that type's reader with its LM head, the vision
/// model and Q-Former beside it.
fn read_blip2(config: &Value, cfg: &Cfg, head: Option<Head>) -> Result<(Family, TransformerArch)> {
    let head = resolve(cfg, head)?;
    let b = blip2::read(cfg, config, head)?;
    let text = blip2::text_config(cfg, config)?;
    let location = format!("{} (text_config)", cfg.location);
    let (fam, arch) = read(&text, Some(Head::CausalLm), &location)?;
    Ok((fam, blip2::arch(arch, b, &location)?))
}

/// Parameters of a multimodal wrapper's vision tower and projector: what a text-only
/// prompt leaves unused.
pub fn vision_params(a: &TransformerArch, vl: &VisionLanguage) -> Result<u64> {
    let mut m = Modules::counting("vision tower");
    vlm::vision_rows(a, vl, "", &mut m)?;
    Ok(m.finish("")?.total_params)
}

/// The text model's config inside a multimodal wrapper's config (`None` for other
/// types, or where the wrapper does not read).
pub fn wrapped_text_config(config: &Value) -> Option<Value> {
    let cfg = Cfg::new(config, "config.json").ok()?;
    if blip2::is_blip2(cfg.model_type) {
        return blip2::text_config(&cfg, config).ok();
    }
    match vlm::WRAPPERS.contains(&cfg.model_type) {
        true => vlm::read(config, &cfg).ok().map(|w| w.text),
        false => None,
    }
}

/// The structure of the model `config` describes, for `head` (see [`Head`]; `None` is the
/// causal-LM class where the type has one, else its LM-head class, else the bare model).
pub fn arch(config: &Value, head: Option<Head>, location: &str) -> Result<TransformerArch> {
    Ok(read(config, head, location)?.1)
}

/// Per-module rows and exact totals, as transformers 5.x builds the model.
pub fn summarize(config: &Value, head: Option<Head>, location: &str) -> Result<Summary> {
    let (fam, arch) = read(config, head, location)?;
    build(fam, &arch, Modules::new(location))
}

/// The totals of [`summarize`] (no rows), and the structure they were counted from.
pub fn count(
    config: &Value,
    head: Option<Head>,
    location: &str,
) -> Result<(Summary, TransformerArch)> {
    let (fam, arch) = read(config, head, location)?;
    let summary = build(fam, &arch, Modules::counting(location))?;
    Ok((summary, arch))
}

fn build(fam: Family, arch: &TransformerArch, mut m: Modules) -> Result<Summary> {
    let class_name = match (&arch.details.vision_language, &arch.details.blip2) {
        (Some(vl), _) => vlm::modules(arch, vl, &mut m, |text, m| text_rows(fam, text, m))?,
        (None, Some(b)) => blip2::modules(arch, b, &mut m, |text, m| text_rows(fam, text, m))?,
        (None, None) => text_rows(fam, arch, &mut m)?,
    };
    m.finish(&class_name)
}

fn text_rows(fam: Family, arch: &TransformerArch, m: &mut Modules) -> Result<String> {
    Ok(match fam {
        Family::Spec(spec) => decoder::modules(spec, arch, m)?,
        Family::Llama => llama::modules(arch, m)?,
        Family::Gpt2 => gpt2::modules(arch, m)?,
        Family::GptNeox => gpt_neox::modules(arch, m)?,
        Family::Opt => opt::modules(arch, m)?,
        Family::Falcon => falcon::modules(arch, m)?,
        Family::Bert => bert::modules(arch, m)?,
        Family::Encoder if arch.model_type == "deberta-v2" => deberta_v2::modules(arch, m)?,
        Family::Encoder => encoders::modules(arch, m)?,
        Family::Esm => esm::modules(arch, m)?,
        Family::T5 if arch.model_type == "t5gemma" => t5gemma::modules(arch, m)?,
        Family::T5 => t5::modules(arch, m)?,
        Family::Bart => bart::modules(arch, m)?,
        Family::Whisper => whisper::modules(arch, m)?,
        Family::Moonshine => moonshine::modules(arch, m)?,
        Family::Vit => vit::modules(arch, m)?,
        Family::Dinov2 if arch.model_type == "dinov3_vit" => dinov3_vit::modules(arch, m)?,
        Family::Dinov2 if arch.model_type == "depth_anything" => depth_anything::modules(arch, m)?,
        Family::Dinov2 => dinov2::modules(arch, m)?,
        Family::Swin => swin::modules(arch, m)?,
        Family::Segformer => segformer::modules(arch, m)?,
        Family::SamVision => sam::modules(arch, m)?,
        Family::Sam => sam_model::modules(arch, m)?,
        Family::DualEncoder => clip::modules(arch, m)?,
        Family::VisionModel => vision_model::modules(arch, m)?,
        Family::TextEncoder => clip_text::modules(arch, m)?,
        Family::Moe => moe::modules(arch, m)?,
        Family::Gemma3n => gemma3n::modules(arch, m)?,
        Family::Gemma4 => gemma4::modules(arch, m)?,
        Family::Ssm if arch.model_type == "jamba" => jamba::modules(arch, m)?,
        Family::Ssm if arch.model_type == "falcon_h1" => falcon_h1::modules(arch, m)?,
        Family::Ssm => mamba::modules(arch, m)?,
    })
}
