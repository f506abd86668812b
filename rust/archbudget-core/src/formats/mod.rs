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
/// `seq` fills the unknown time axis of a Keras input (`Input((None, 16))`) and is the
/// tokens per sequence of a transformer; it is required where it is needed.
pub fn memory(
    bytes: &[u8],
    location: &str,
    head: Option<hf::Head>,
    run: &RunSettings,
    seq: Option<u64>,
) -> Result<MemoryReport> {
    let mut value = keras::parse_bytes(bytes, location)?;
    if let Some(seq) = seq {
        fill_unknown_dims(&mut value, seq);
    }
    let run = &RunSettings {
        seq: seq.unwrap_or(run.seq),
        ..*run
    };
    let report = match from_value(value, location)? {
        Source::Keras(_) if run.lora.is_some() || run.quantize.is_some() => Err(Error::invalid(
            location,
            "LoRA and quantized weights are modelled for transformers configs only (peft and the quantizers wrap transformers' linears)",
        )),
        Source::Keras(model) => {
            memory::keras::graph(&model, run, location).and_then(|g| memory::estimate(&g, run))
        }
        Source::Hf(config) => {
            let arch = hf::arch(&config, head, location)?;
            // a vision transformer's sequence is fixed by its image and patch sizes
            if seq.is_none() && arch.vision.is_none() {
                return Err(Error::invalid(
                    location,
                    "a transformers model needs --seq (tokens per sequence)",
                ));
            }
            let run = &memory::hf::run_for_config(&config, run)?;
            memory::hf::graph(&arch, &memory::hf::Dropouts::from_config(&config), run)
                .and_then(|g| memory::estimate(&g, run))
        }
    };
    // The memory model knows no file: its overflows name the model and the run instead.
    report.map_err(|e| match e {
        Error::Overflow { location: at, what } if at == "memory" => Error::overflow(
            format!("{location} (batch {}, seq {})", run.batch, run.seq),
            what,
        ),
        e => e,
    })
}

/// Replace the unknown non-batch dimensions of a Keras model's inputs by `seq`.
fn fill_unknown_dims(value: &mut Value, seq: u64) {
    let Some(layers) = value
        .pointer_mut("/config/layers")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for layer in layers {
        if layer.get("class_name").and_then(Value::as_str) != Some("InputLayer") {
            continue;
        }
        for key in ["batch_shape", "batch_input_shape"] {
            if let Some(dims) = layer
                .pointer_mut(&format!("/config/{key}"))
                .and_then(Value::as_array_mut)
            {
                for d in dims.iter_mut().skip(1).filter(|d| d.is_null()) {
                    *d = Value::from(seq);
                }
            }
        }
    }
}
