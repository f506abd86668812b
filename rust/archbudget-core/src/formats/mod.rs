//! Readers of model descriptions, and the detection of which one a MODEL argument is.
pub mod hf;
pub mod keras;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::memory::{self, MemoryReport, RunSettings};
use crate::summary::Summary;

/// A model description, its format detected from its content (SPEC.md: one MODEL argument).
pub enum Source {
    Keras(keras::Model),
    /// A transformers config.json (it has a `model_type` key).
    Hf(Value),
}

/// Detect and read: a `.keras` zip archive or Keras JSON (it has `class_name`), or a
/// transformers config.json (it has `model_type`).
pub fn read(bytes: &[u8], location: &str) -> Result<Source> {
    let value = keras::parse_bytes(bytes, location)?;
    from_value(value, location)
}

pub fn from_value(value: Value, location: &str) -> Result<Source> {
    if value.get("model_type").is_some() {
        return Ok(Source::Hf(value));
    }
    if value.get("class_name").is_some() {
        return keras::model_from_value(&value, location).map(Source::Keras);
    }
    Err(Error::parse(
        location,
        "neither a Keras model (no 'class_name') nor a transformers config.json (no 'model_type')",
    ))
}

/// `archbudget summary`: rows and totals of any supported description.
pub fn summary(bytes: &[u8], location: &str, head: Option<hf::Head>) -> Result<Summary> {
    match read(bytes, location)? {
        Source::Keras(model) => keras::summarize(&model, location),
        Source::Hf(config) => hf::summarize(&config, head, location),
    }
}

/// `archbudget memory`: peak bytes, counts and FLOPs of one step of the model's PyTorch
/// equivalent (a Keras model layer for layer; a transformers config as transformers
/// builds it).
pub fn memory(bytes: &[u8], location: &str, head: Option<hf::Head>, run: &RunSettings) -> Result<MemoryReport> {
    match read(bytes, location)? {
        Source::Keras(model) => memory::estimate(&memory::keras::graph(&model, run, location)?, run),
        Source::Hf(config) => {
            let arch = hf::arch(&config, head, location)?;
            memory::estimate(&memory::hf::graph(&arch, &memory::hf::Dropouts::from_config(&config), run)?, run)
        }
    }
}
