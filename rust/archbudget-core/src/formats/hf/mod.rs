//! transformers config.json reader: exact parameter counts per model type.
//!
//! A config is read once into a [`TransformerArch`] (every transformers 5.x default
//! applied, for the head asked for), and the summary rows are declared from that arch,
//! one row per module with the module's path and class in the real model. Tied tensors
//! are counted once, as `model.parameters()` counts them.
mod bert;
mod config;
mod decoder;
mod deepseek;
mod falcon;
mod falcon_h1;
mod gpt2;
mod gpt_neox;
mod gpt_oss;
mod jamba;
mod layer_kinds;
mod llama;
mod llama4;
mod mamba;
mod modules;
mod moe;
mod opt;
pub mod spec;
mod ssm;
mod t5;
mod types;
mod vit;

pub use gpt2::cross_attention_params as gpt2_cross_attention_params;

use serde_json::Value;

use crate::arch::{HeadKind, TransformerArch};
use crate::error::{Error, Result};
use crate::summary::Summary;
use config::Cfg;
use modules::Modules;

/// The head asked for: `Base` is `AutoModel`, `CausalLm` is `AutoModelForCausalLM`, or
/// the type's LM-head class where it has no causal-LM class (distilbert's masked LM,
/// t5's conditional generation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Head {
    Base,
    CausalLm,
}

/// Every type read, in the order the unknown-type error lists them; the declarative
/// ones (`types/`) are found by their spec, the others by [`family`].
const SUPPORTED: &[&str] = &[
    "bert",
    "cohere",
    "cohere2",
    "deepseek_v2",
    "deepseek_v3",
    "distilbert",
    "falcon",
    "falcon_h1",
    "gemma",
    "gemma2",
    "gemma3_text",
    "glm4_moe",
    "gpt2",
    "gpt_bigcode",
    "gpt_neox",
    "gpt_oss",
    "gptj",
    "jamba",
    "llama",
    "llama4",
    "llama4_text",
    "mamba",
    "mamba2",
    "mistral",
    "mixtral",
    "olmo2",
    "olmo3",
    "opt",
    "phi",
    "phi3",
    "qwen2",
    "qwen2_moe",
    "qwen3",
    "qwen3_moe",
    "roberta",
    "smollm3",
    "stablelm",
    "starcoder2",
    "t5",
    "vit",
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
    T5,
    Vit,
    Moe,
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
        "gpt2" => Family::Gpt2,
        "gpt_neox" => Family::GptNeox,
        "opt" => Family::Opt,
        "falcon" => Family::Falcon,
        "bert" | "roberta" | "distilbert" => Family::Bert,
        "t5" => Family::T5,
        "vit" => Family::Vit,
        "qwen3_moe" | "deepseek_v2" | "deepseek_v3" | "glm4_moe" | "gpt_oss" | "llama4_text"
        | "llama4" => Family::Moe,
        "mamba" | "mamba2" | "jamba" | "falcon_h1" => Family::Ssm,
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
        "distilbert" => Some(HeadKind::MaskedLm),
        "t5" => Some(HeadKind::Seq2SeqLm),
        "vit" => None,
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
    let fam = family(&cfg)?;
    let head = resolve(&cfg, head)?;
    let arch = match fam {
        Family::Spec(spec) => decoder::arch(spec, &cfg, head)?,
        Family::Llama => llama::arch(&cfg, head)?,
        Family::Gpt2 => gpt2::arch(&cfg, head)?,
        Family::GptNeox => gpt_neox::arch(&cfg, head)?,
        Family::Opt => opt::arch(&cfg, head)?,
        Family::Falcon => falcon::arch(&cfg, head)?,
        Family::Bert => bert::arch(&cfg, head)?,
        Family::T5 => t5::arch(&cfg, head)?,
        Family::Vit => vit::arch(&cfg, head)?,
        Family::Moe => match cfg.model_type {
            "deepseek_v2" | "deepseek_v3" => deepseek::arch(&cfg, head)?,
            "glm4_moe" => deepseek::glm4_moe(&cfg, head)?,
            "gpt_oss" => gpt_oss::arch(&cfg, head)?,
            "llama4_text" => llama4::arch(&cfg, head)?,
            "llama4" => llama4::wrapper(&cfg)?,
            _ => moe::qwen3_moe(&cfg, head)?,
        },
        Family::Ssm => match cfg.model_type {
            "mamba2" => mamba::mamba2(&cfg, head)?,
            "jamba" => jamba::arch(&cfg, head)?,
            "falcon_h1" => falcon_h1::arch(&cfg, head)?,
            _ => mamba::mamba(&cfg, head)?,
        },
    };
    Ok((fam, arch))
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
    let class_name = match fam {
        Family::Spec(spec) => decoder::modules(spec, arch, &mut m)?,
        Family::Llama => llama::modules(arch, &mut m)?,
        Family::Gpt2 => gpt2::modules(arch, &mut m)?,
        Family::GptNeox => gpt_neox::modules(arch, &mut m)?,
        Family::Opt => opt::modules(arch, &mut m)?,
        Family::Falcon => falcon::modules(arch, &mut m)?,
        Family::Bert => bert::modules(arch, &mut m)?,
        Family::T5 => t5::modules(arch, &mut m)?,
        Family::Vit => vit::modules(arch, &mut m)?,
        Family::Moe => moe::modules(arch, &mut m)?,
        Family::Ssm if arch.model_type == "jamba" => jamba::modules(arch, &mut m)?,
        Family::Ssm if arch.model_type == "falcon_h1" => falcon_h1::modules(arch, &mut m)?,
        Family::Ssm => mamba::modules(arch, &mut m)?,
    };
    m.finish(&class_name)
}
