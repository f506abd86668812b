//! Readers of model descriptions, and the detection of which one a MODEL argument is.
pub mod hf;
pub mod json;
pub mod keras;
pub mod keras_hub;
pub mod keras_hub_vision;

use serde_json::Value;

use crate::arch::TransformerArch;
use crate::error::{Error, Result};
use crate::memory::{self, MemoryReport, RunSettings};
use crate::summary::Summary;

/// A model description, its format detected from its content (SPEC.md: one MODEL argument).
pub enum Source {
    /// Read for its summary (`keras::summary_model`: layers without their configs).
    Keras(keras::Model),
    /// A KerasHub text model (`registered_name: "keras_hub>..."`).
    KerasHub(keras_hub::Model),
    /// A KerasHub model no reader knows, counted from its `.keras` archive's weights.
    KerasHubSaved(Summary),
    /// A transformers config.json (it has a `model_type` key).
    Hf(Value),
}

/// Detect and read: a `.keras` zip archive or Keras JSON (it has `class_name`), or a
/// transformers config.json (it has `model_type`).
pub fn read(bytes: &[u8], location: &str) -> Result<Source> {
    read_for_summary(bytes, location, false)
}

/// [`read`], `lenient` as [`detect`] takes it: a plain Keras model's text read straight
/// into its graph, anything else parsed as a JSON tree first.
fn read_for_summary(bytes: &[u8], location: &str, lenient: bool) -> Result<Source> {
    if let Some(model) = keras::summary_model_from_text(bytes, location, lenient) {
        return model.map(Source::Keras);
    }
    let value = keras::parse_bytes(bytes, location)?;
    let saved = keras::saved_weights(bytes, location)?;
    detect(value, saved.as_ref(), location, lenient)
}

/// `saved`: the weight shapes of a `.keras` archive, if the model came in one.
pub fn from_value(value: Value, saved: Option<&keras::h5::Tree>, location: &str) -> Result<Source> {
    detect(value, saved, location, false)
}

/// The one dispatch on a description's content; `lenient`: a Keras model's undeclared
/// custom layers are kept as uncounted rows instead of failing the read.
fn detect(
    value: Value,
    saved: Option<&keras::h5::Tree>,
    location: &str,
    lenient: bool,
) -> Result<Source> {
    if value.get("model_type").is_some() {
        return Ok(Source::Hf(value));
    }
    if let Some(model) = keras_hub::read(&value, location)? {
        return Ok(Source::KerasHub(model));
    }
    if let Some(e) = keras_hub::unsupported(&value, location) {
        let (Some(tree), Some(class)) = (saved, keras_hub::unknown_class(&value)) else {
            return Err(e);
        };
        return keras_hub::saved::summarize(&value, class, tree, location)
            .map(Source::KerasHubSaved);
    }
    if let (Some(tree), Some(class)) = (saved, refused_vision_class(&value, location)) {
        return keras_hub::saved::summarize(&value, class, tree, location)
            .map(Source::KerasHubSaved);
    }
    if value.get("class_name").is_some() {
        return keras::summary_model(&value, saved, location, lenient).map(Source::Keras);
    }
    Err(unknown_format(location))
}

/// The class of a KerasHub vision model whose translation is refused (DeepLabV3 over an
/// encoder with weights past its pyramid): from a `.keras` archive it is counted from
/// the saved weights, as a class no reader knows is.
fn refused_vision_class<'a>(value: &'a Value, location: &str) -> Option<&'a str> {
    keras_hub_vision::read(value, location)?.err()?;
    value["registered_name"]
        .as_str()?
        .strip_prefix("keras_hub>")
}

/// One line for the undeclared custom layers of `summary_with_undeclared`: the first
/// one's error (its name and how to declare it), the others' names, and that the totals
/// are lower bounds. None when every layer is counted.
pub fn undeclared_message(undeclared: &[(String, Error)]) -> Option<String> {
    let ((_, first), rest) = undeclared.split_first()?;
    let mut message = first.to_string();
    if !rest.is_empty() {
        let names: Vec<String> = rest.iter().map(|(n, _)| format!("'{n}'")).collect();
        message += &format!("; also undeclared: {}", names.join(", "));
    }
    message += "; the totals shown are lower bounds (undeclared layers' weights not counted)";
    Some(message)
}

fn unknown_format(location: &str) -> Error {
    Error::parse(
        location,
        "neither a Keras model (no 'class_name') nor a transformers config.json (no 'model_type')",
    )
}

/// `archbudget summary`: rows and totals of any supported description.
pub fn summary(bytes: &[u8], location: &str, head: Option<hf::Head>) -> Result<Summary> {
    summarize(read(bytes, location)?, head, location)
}

fn summarize(source: Source, head: Option<hf::Head>, location: &str) -> Result<Summary> {
    match source {
        Source::Keras(model) => keras::summarize(&model, location),
        Source::Hf(config) => hf::summarize(&config, head, location),
        Source::KerasHub(model) => keras_hub::summarize(&model, location),
        Source::KerasHubSaved(summary) => Ok(summary),
    }
}

/// `summary` that reads on past undeclared custom layers of a Keras model: every other
/// row, totals without those layers' weights (lower bounds), and (layer name, the error
/// naming it and how to declare it) for each undeclared layer.
pub fn summary_with_undeclared(
    bytes: &[u8],
    location: &str,
    head: Option<hf::Head>,
) -> Result<(Summary, Vec<(String, Error)>)> {
    let source = read_for_summary(bytes, location, true)?;
    let undeclared = match &source {
        Source::Keras(model) => model.undeclared(),
        _ => Vec::new(),
    };
    Ok((summarize(source, head, location)?, undeclared))
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
    Prepared::read(bytes, location, head)?.memory(run, seq)
}

/// A model read once and estimated under many run settings (`fit`'s search).
pub struct Prepared {
    location: String,
    model: PreparedModel,
}

enum PreparedModel {
    /// The JSON, read again per estimate: `seq` fills its unknown dimensions; and the
    /// weight shapes of a `.keras` archive, if the model came in one.
    Keras(Value, Option<keras::h5::Tree>),
    Hf {
        arch: Box<TransformerArch>,
        dropouts: memory::hf::Dropouts,
        /// The config's `quantization_config`, for runs that name no `--quantize`.
        quantize: Option<memory::quant::Quant>,
    },
    /// Stable Diffusion 3's denoiser (a KerasHub SD3 backbone or task model): no
    /// transformers twin, its own lowering from the same ops.
    Mmdit(Box<keras_hub::sd3::Sd3>),
    /// Flux's denoiser (a KerasHub Flux backbone or TextToImage): the same.
    Flux(Box<keras_hub::flux::Flux>),
    /// A KerasHub D-FINE backbone (or the detector's): its own lowering, built per
    /// estimate at the image size (`seq` is its side where `image_shape` leaves it open).
    DFine(Value),
}

impl Prepared {
    pub fn read(bytes: &[u8], location: &str, head: Option<hf::Head>) -> Result<Prepared> {
        let value = keras::parse_bytes(bytes, location)?;
        let model = if value.get("model_type").is_some() {
            PreparedModel::Hf {
                arch: Box::new(hf::arch(&value, head, location)?),
                dropouts: memory::hf::Dropouts::from_config(&value),
                quantize: memory::quant::Quant::from_config(&value)?,
            }
        } else if let Some(sd3) = keras_hub::sd3::denoiser(&value, location)? {
            PreparedModel::Mmdit(Box::new(sd3))
        } else if let Some(flux) = keras_hub::flux::denoiser(&value, location)? {
            PreparedModel::Flux(Box::new(flux))
        } else if let Some(backbone) = keras_hub::d_fine::source(&value) {
            // read once for its errors; lowered per estimate
            keras_hub::read(&value, location)?;
            PreparedModel::DFine(backbone.clone())
        } else if let Some(model) = keras_hub::read(&value, location)? {
            // the transformers structure of the same architecture (one source of truth)
            PreparedModel::Hf {
                arch: Box::new(keras_hub::arch(&model, location)?),
                dropouts: keras_hub::dropouts(&model),
                quantize: None,
            }
        } else if let Some(e) = keras_hub::unsupported(&value, location) {
            return Err(match keras_hub::unknown_class(&value) {
                Some(class) if keras::saved_weights(bytes, location)?.is_some() => {
                    keras_hub::saved::memory_refused(class, location)
                }
                _ => e,
            });
        } else if let Some(class) = refused_vision_class(&value, location)
            .filter(|_| matches!(keras::saved_weights(bytes, location), Ok(Some(_))))
        {
            return Err(keras_hub::saved::memory_refused(class, location));
        } else if value.get("class_name").is_some() {
            // built per estimate, once `seq` has filled its unknown dimensions (a
            // KerasHub vision model's as its functional graph: `seq` is its image side)
            let value = keras_hub_vision::read(&value, location)
                .transpose()?
                .unwrap_or(value);
            let saved = keras::saved_weights(bytes, location)?;
            PreparedModel::Keras(value, saved)
        } else {
            return Err(unknown_format(location));
        };
        Ok(Prepared {
            location: location.to_string(),
            model,
        })
    }

    /// The longest sequence the model declares (a transformers config's
    /// `max_position_embeddings` or its kind); `None` where it declares none.
    pub fn max_positions(&self) -> Option<u64> {
        match &self.model {
            PreparedModel::Hf { arch, .. } => {
                (arch.max_positions > 0).then_some(arch.max_positions)
            }
            PreparedModel::Keras(..)
            | PreparedModel::Mmdit(..)
            | PreparedModel::Flux(..)
            | PreparedModel::DFine(..) => None,
        }
    }

    /// Whether `seq` changes the model: a text transformer, or a Keras model whose input
    /// has an unknown time axis.
    pub fn takes_seq(&self) -> bool {
        match &self.model {
            PreparedModel::Hf { arch, .. } => arch.reads_tokens(),
            // the text context's tokens
            PreparedModel::Mmdit(..) | PreparedModel::Flux(..) => true,
            // the image side, where image_shape leaves it unknown
            PreparedModel::DFine(backbone) => {
                keras_hub::d_fine::lowering(backbone, None, &self.location).is_err()
            }
            PreparedModel::Keras(value, _) => {
                let mut filled = value.clone();
                fill_unknown_dims(&mut filled, 1);
                filled != *value
            }
        }
    }

    /// Tokens per sample for throughput: the sequence where the model has one.
    pub fn tokens_per_sample(&self, seq: Option<u64>) -> Option<u64> {
        seq.filter(|_| self.takes_seq())
    }

    /// `memory` of the model under `run`, `seq` as [`memory`] takes it.
    pub fn memory(&self, run: &RunSettings, seq: Option<u64>) -> Result<MemoryReport> {
        let location = self.location.as_str();
        let run = &RunSettings {
            seq: seq.unwrap_or(run.seq),
            ..*run
        };
        let report = match &self.model {
            PreparedModel::Mmdit(..) | PreparedModel::Flux(..)
                if run.lora.is_some() || run.quantize.is_some() =>
            {
                Err(Error::invalid(
                    location,
                    "LoRA and quantized weights are modelled for transformers configs only; the diffusion denoisers (Stable Diffusion 3, Flux) are lowered in full precision",
                ))
            }
            PreparedModel::Mmdit(sd3) => {
                let tokens = seq.or(sd3.context_tokens).ok_or_else(|| {
                    Error::invalid(
                        location,
                        "Stable Diffusion 3 with T5 needs --seq (the text context's tokens: CLIP's and T5's together)",
                    )
                })?;
                memory::mmdit::graph(&sd3.mmdit, tokens, run)
                    .and_then(|g| memory::compiled::estimate(&g, run))
            }
            PreparedModel::Flux(flux) => {
                // --seq: the text tokens, as for SD3's context; text_shape's by default
                let tokens = seq.or(flux.text_tokens).ok_or_else(|| {
                    Error::invalid(
                        location,
                        "Flux whose text_shape leaves the tokens unknown needs --seq (the text encoder's tokens)",
                    )
                })?;
                memory::flux::graph(flux, tokens, run, location)
                    .and_then(|g| memory::compiled::estimate(&g, run))
            }
            PreparedModel::DFine(backbone) => keras_hub::d_fine::lowering(backbone, seq, location)
                .and_then(|d| memory::d_fine::graph(&d, run, location))
                .and_then(|g| memory::compiled::estimate(&g, run)),
            PreparedModel::Keras(..) if run.lora.is_some() || run.quantize.is_some() => {
                Err(Error::invalid(
                    location,
                    "LoRA and quantized weights are modelled for transformers configs only (peft and the quantizers wrap transformers' linears)",
                ))
            }
            PreparedModel::Keras(value, saved) => {
                keras_at_seq(value, saved.as_ref(), seq, location).and_then(|model| {
                    memory::keras::graph(&model, run, location)
                        .and_then(|g| memory::compiled::estimate(&g, run))
                })
            }
            PreparedModel::Hf {
                arch,
                dropouts,
                quantize,
            } => {
                // a vision transformer's sequence is fixed by its image and patch sizes
                if seq.is_none() && arch.reads_tokens() {
                    return Err(Error::invalid(
                        location,
                        "a transformers model needs --seq (tokens per sequence)",
                    ));
                }
                let run = &RunSettings {
                    quantize: memory::hf::quantize_for_run(*quantize, run),
                    ..*run
                };
                memory::hf::graph(arch, dropouts, run).and_then(|g| memory::compiled::estimate(&g, run))
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
}

impl Prepared {
    /// What `memory` assumes that the model's description does not say, a line each: the
    /// output shape of a custom layer no layer consumes (`keras_written::stand_in_output`).
    pub fn memory_notes(&self, seq: Option<u64>) -> Vec<String> {
        match &self.model {
            PreparedModel::Keras(value, saved) => {
                keras_at_seq(value, saved.as_ref(), seq, &self.location)
                    .map(|model| memory::keras_written::stand_in_notes(&model))
                    .unwrap_or_default()
            }
            PreparedModel::Hf { .. }
            | PreparedModel::Mmdit(..)
            | PreparedModel::Flux(..)
            | PreparedModel::DFine(..) => Vec::new(),
        }
    }
}

/// A Keras model read with its unknown non-batch dimensions set to `seq` (as `memory`
/// takes it).
fn keras_at_seq(
    value: &Value,
    saved: Option<&keras::h5::Tree>,
    seq: Option<u64>,
    location: &str,
) -> Result<keras::Model> {
    let mut value = value.clone();
    if let Some(seq) = seq {
        fill_unknown_dims(&mut value, seq);
    }
    keras::model_from_value(&value, saved, location)
}

/// Replace the unknown non-batch dimensions of a Keras model's inputs by `seq`, and
/// those of the shapes its layers recorded of their inputs (`__keras_tensor__` shapes,
/// `build_config`), which give the output shapes of layers without a rule.
fn fill_unknown_dims(value: &mut Value, seq: u64) {
    let fill = |dims: &mut Value| {
        if let Some(dims) = dims.as_array_mut() {
            for d in dims.iter_mut().skip(1).filter(|d| d.is_null()) {
                *d = Value::from(seq);
            }
        }
    };
    match value {
        Value::Object(map) => {
            let is_input = map.get("class_name").and_then(Value::as_str) == Some("InputLayer");
            let is_tensor =
                map.get("class_name").and_then(Value::as_str) == Some("__keras_tensor__");
            if let Some(config) = map.get_mut("config").and_then(Value::as_object_mut) {
                if is_input {
                    for key in ["batch_shape", "batch_input_shape"] {
                        config.get_mut(key).map(fill);
                    }
                }
                if is_tensor {
                    config.get_mut("shape").map(fill);
                }
            }
            if let Some(shape) = map
                .get_mut("build_config")
                .and_then(|b| b.get_mut("input_shape"))
            {
                fill(shape);
            }
            for v in map.values_mut() {
                fill_unknown_dims(v, seq);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| fill_unknown_dims(v, seq)),
        _ => {}
    }
}
