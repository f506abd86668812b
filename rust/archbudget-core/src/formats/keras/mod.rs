//! Keras 3 model reader: the JSON of `model.to_json()` (Sequential, Functional with
//! `inbound_nodes`, nested models used as layers, shared layers) or a `.keras` archive.
//!
//! Shapes are propagated call by call through the layer rules of `crate::layers`; a layer
//! builds its weights on its first call, as Keras does, so a shared layer is counted once.
use std::io::Read;

use serde_json::{Map, Value};

pub(crate) mod custom;
mod entry;
mod functional;
pub mod h5;
mod sequential;
mod text;

use custom::saved_names;
pub use custom::Saved;
use entry::Entry;

use crate::error::{Error, Result};
use crate::layers::{self, LayerCtx, MAX_DEPTH};
use crate::shape::Shape;
use crate::summary::{LayerRow, ModelFormat, OutputShape, Summary};
use crate::weight::{self, Weight};

/// Inputs larger than this are refused before parsing (a Keras JSON of a large
/// Application is a few MB).
pub const MAX_INPUT_BYTES: usize = 256 << 20;

/// A tensor: output `tensor` of call `node` of layer `layer` (indices into the model).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TensorRef {
    pub layer: usize,
    pub node: usize,
    pub tensor: usize,
}

/// One call of a layer: the tensors it took and the shapes it returned.
#[derive(Debug, Clone)]
pub struct Call {
    pub inputs: Vec<(TensorRef, Shape)>,
    pub outputs: Vec<Shape>,
}

#[derive(Debug, Clone)]
pub struct Layer {
    pub name: String,
    pub class_name: String,
    /// The layer's hyperparameters (see `retained`).
    pub config: Map<String, Value>,
    /// Weights built on the first call (all of a nested model's weights for a nested model).
    pub weights: Vec<Weight>,
    pub calls: Vec<Call>,
    /// The model itself when this layer is a nested model (its first call's graph).
    pub nested: Option<Box<Model>>,
    /// A `keras.ops` node of a functional graph (`x + 3.0`): a tensor producer without
    /// weights that is not in `model.layers`, so not a row of the summary.
    pub op: bool,
    /// False for a layer without a rule whose output nobody consumed (a custom layer
    /// that is a model output): its output shape is unknown (a placeholder of rank 0).
    pub shape_known: bool,
    /// A custom layer neither in a `.keras` archive's weights nor declared: the error
    /// naming it and how to declare it. Its weights are unknown (none counted).
    pub undeclared: Option<Error>,
}

impl Layer {
    pub fn is_input(&self) -> bool {
        self.class_name == "InputLayer"
    }
}

#[derive(Debug, Clone)]
pub struct Model {
    pub name: String,
    pub class_name: String,
    pub functional: bool,
    /// All layers in `model.layers` order, InputLayers included (Sequential hides them
    /// in its summary).
    pub layers: Vec<Layer>,
    pub inputs: Vec<TensorRef>,
    pub outputs: Vec<TensorRef>,
    /// Outputs given as a list or dict (`output_layers` `[[...]]` or `{...}`): Keras
    /// returns that structure even for one tensor, and a summary row shows it as a list.
    pub structured_outputs: bool,
    /// Weights of layers the model tracks but never calls (a KerasHub BASNet's encoder
    /// stem): in Keras's totals, in no row.
    pub unlisted: Vec<Weight>,
    /// For a functional model used as a layer whose declared inputs differ from the
    /// call's: its own graph's output shapes, which Keras's `layer.output` (node 0, the
    /// model's own) gives its row.
    pub own_outputs: Option<Vec<Shape>>,
}

impl Model {
    pub fn shape_of(&self, t: TensorRef) -> &Shape {
        &self.layers[t.layer].calls[t.node].outputs[t.tensor]
    }

    pub fn output_shapes(&self) -> Vec<Shape> {
        self.outputs
            .iter()
            .map(|&t| self.shape_of(t).clone())
            .collect()
    }

    /// The undeclared custom layers of this model and the models nested in it, with
    /// the error each raises (`Layer::undeclared`).
    pub fn undeclared(&self) -> Vec<(String, Error)> {
        let mut out = Vec::new();
        for layer in &self.layers {
            if let Some(e) = &layer.undeclared {
                out.push((layer.name.clone(), e.clone()));
            }
            if let Some(inner) = &layer.nested {
                out.extend(inner.undeclared());
            }
        }
        out
    }

    /// `trainable: false` on the model itself: every weight frozen, its nested models'
    /// included.
    fn freeze(&mut self) {
        for layer in &mut self.layers {
            layer.weights.iter_mut().for_each(|w| w.trainable = false);
            if let Some(inner) = &mut layer.nested {
                inner.freeze();
            }
        }
        self.unlisted.iter_mut().for_each(|w| w.trainable = false);
    }

    /// Every weight of the model, each shared layer once.
    pub fn weights(&self) -> impl Iterator<Item = &Weight> {
        self.layers
            .iter()
            .flat_map(|l| l.weights.iter())
            .chain(&self.unlisted)
    }
}

/// Read a model from bytes: JSON text, or a `.keras` zip archive holding `config.json`
/// (and `model.weights.h5`, whose shapes count the layers no rule knows).
pub fn read(bytes: &[u8], location: &str) -> Result<Model> {
    let value = parse_bytes(bytes, location)?;
    let saved = saved_weights(bytes, location)?;
    model_from_value(&value, saved.as_ref(), location)
}

/// The weight shapes of a `.keras` archive's `model.weights.h5`; None for a JSON text
/// or an archive saved without weights.
pub fn saved_weights(bytes: &[u8], location: &str) -> Result<Option<h5::Tree>> {
    if !bytes.starts_with(b"PK\x03\x04") {
        return Ok(None);
    }
    let Some(h5) = archive_member(bytes, "model.weights.h5", location)? else {
        return Ok(None);
    };
    h5::read(&h5, &format!("{location}:model.weights.h5")).map(Some)
}

/// The JSON value of a Keras JSON text or `.keras` archive.
pub fn parse_bytes(bytes: &[u8], location: &str) -> Result<Value> {
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(Error::invalid(
            location,
            format!("input is larger than {} MiB", MAX_INPUT_BYTES >> 20),
        ));
    }
    if bytes.starts_with(b"PK\x03\x04") {
        let text = archive_member(bytes, "config.json", location)?
            .ok_or_else(|| Error::parse(location, ".keras archive has no config.json"))?;
        return parse_json(&text, &format!("{location}:config.json"));
    }
    parse_json(bytes, location)
}

pub fn parse_json(bytes: &[u8], location: &str) -> Result<Value> {
    super::json::parse_model(bytes, location)
}

fn archive_member(bytes: &[u8], member: &str, location: &str) -> Result<Option<Vec<u8>>> {
    let bad = |e: &dyn std::fmt::Display| {
        Error::parse(location, format!("not a readable .keras archive: {e}"))
    };
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| bad(&e))?;
    let Ok(file) = zip.by_name(member) else {
        return Ok(None);
    };
    let mut text = Vec::new();
    file.take(MAX_INPUT_BYTES as u64 + 1)
        .read_to_end(&mut text)
        .map_err(|e| bad(&e))?;
    if text.len() > MAX_INPUT_BYTES {
        return Err(Error::invalid(
            location,
            format!("{member} in the archive is too large"),
        ));
    }
    Ok(Some(text))
}

/// Build a model from the parsed JSON of `model.to_json()`, with the weight shapes of
/// its archive if it came in one, its layers keeping their configs (`Layer::config`).
/// A model with an undeclared custom layer is the error naming it (its weights, and so
/// its totals and memory, are unknown).
pub fn model_from_value(value: &Value, saved: Option<&h5::Tree>, location: &str) -> Result<Model> {
    let at = Reading {
        depth: 0,
        configs: true,
    };
    without_undeclared(build_model(
        value,
        None,
        at,
        location,
        saved.map(Saved::root).as_ref(),
    )?)
}

/// The model of `model.summary()`: `model_from_value`, but its layers' configs left
/// empty (a summary reads none after the build, and copying them was a fifth of its
/// time), and undeclared custom layers kept (no weights counted) where `lenient`, for a
/// summary whose totals are lower bounds.
pub fn summary_model(
    value: &Value,
    saved: Option<&h5::Tree>,
    location: &str,
    lenient: bool,
) -> Result<Model> {
    let at = Reading {
        depth: 0,
        configs: false,
    };
    let model = build_model(value, None, at, location, saved.map(Saved::root).as_ref())?;
    if lenient {
        Ok(model)
    } else {
        without_undeclared(model)
    }
}

/// [`summary_model`] of a plain Keras model read straight from its JSON text, without
/// building the JSON tree of its graph (`text`); None where that reader declines the
/// text (an archive, a KerasHub model, a nested model, malformed input...): read it
/// with [`parse_bytes`] then.
pub fn summary_model_from_text(
    bytes: &[u8],
    location: &str,
    lenient: bool,
) -> Option<Result<Model>> {
    if bytes.len() > MAX_INPUT_BYTES || bytes.starts_with(b"PK\x03\x04") {
        return None;
    }
    let decoded = super::json::decode(bytes).ok()?;
    let doc = text::read(std::str::from_utf8(&decoded).ok()?)?;
    let at = Reading {
        depth: 0,
        configs: false,
    };
    let model = build_graph(&doc.top, Some(&doc.entries), None, at, location, None);
    Some(model.and_then(|model| {
        if lenient {
            Ok(model)
        } else {
            without_undeclared(model)
        }
    }))
}

fn without_undeclared(model: Model) -> Result<Model> {
    match model.undeclared().into_iter().next() {
        Some((_, error)) => Err(error),
        None => Ok(model),
    }
}

/// How deep a (nested) model is read, and whether its layers keep their configs.
#[derive(Clone, Copy)]
struct Reading {
    depth: usize,
    configs: bool,
}

impl Reading {
    fn nested(self) -> Reading {
        Reading {
            depth: self.depth + 1,
            ..self
        }
    }

    /// What `Layer::config` keeps of a layer's config: its hyperparameters, or nothing
    /// for a summary. Initializers, regularizers, constraints and the dtype policy
    /// object weigh most of a Keras JSON and nothing after the build reads them, so they
    /// are not copied.
    fn retained(self, config: &Map<String, Value>) -> Map<String, Value> {
        if !self.configs {
            return Map::new();
        }
        config
            .iter()
            .filter(|(k, v)| {
                !(k.ends_with("_initializer")
                    || k.ends_with("_regularizer")
                    || k.ends_with("_constraint")
                    || (*k == "dtype" && v.is_object()))
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

fn obj<'v>(v: &'v Value, what: &str, location: &str) -> Result<&'v Map<String, Value>> {
    v.as_object()
        .ok_or_else(|| Error::invalid(location, format!("{what} must be a JSON object")))
}

/// A model used as a layer: Sequential, or any functional model, whatever its class (a
/// `keras.Model` subclass that only adds a `train_step` serialises its graph all the same).
fn is_model_entry(class_name: &str, config: &Map<String, Value>) -> bool {
    class_name == "Sequential" || is_functional(config)
}

fn is_functional(config: &Map<String, Value>) -> bool {
    ["layers", "input_layers", "output_layers"]
        .iter()
        .all(|k| config.contains_key(*k))
}

/// Build a (possibly nested) model. `inputs` replaces its declared input shapes when it
/// is called as a layer of an outer model.
fn build_model(
    value: &Value,
    inputs: Option<&[Shape]>,
    at: Reading,
    location: &str,
    saved: Option<&Saved>,
) -> Result<Model> {
    build_graph(value, None, inputs, at, location, saved)
}

/// [`build_model`], its layer list given as `entries` where the text reader read it.
fn build_graph(
    value: &Value,
    entries: Option<&[Entry]>,
    inputs: Option<&[Shape]>,
    at: Reading,
    location: &str,
    saved: Option<&Saved>,
) -> Result<Model> {
    if at.depth > MAX_DEPTH {
        return Err(Error::invalid(
            location,
            format!("models nested deeper than {MAX_DEPTH}"),
        ));
    }
    if let Some(graph) = crate::formats::keras_hub_vision::read(value, location) {
        return build_graph(&graph?, None, inputs, at, location, saved);
    }
    let top = obj(value, "the model", location)?;
    let class_name = top
        .get("class_name")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            Error::invalid(
                location,
                "not a Keras model: no 'class_name' (expected the JSON of model.to_json())",
            )
        })?;
    let config = obj(
        top.get("config").unwrap_or(&Value::Null),
        "'config'",
        location,
    )?;
    let name = config
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("model")
        .to_string();
    let read;
    let entries = match entries {
        Some(entries) => entries,
        None if class_name == "Sequential" || is_functional(config) => {
            read = layer_list(config, location)?
                .iter()
                .map(Entry::from_value)
                .collect::<Vec<_>>();
            &read
        }
        None => &[],
    };
    if class_name == "Sequential" {
        sequential::sequential(name, config, entries, inputs, at, location, saved)
    } else if is_functional(config) {
        let mut model = functional::build(
            name, class_name, config, entries, inputs, at, location, saved,
        )?;
        model.unlisted = unlisted(config, at, location)?;
        if config.get("trainable") == Some(&Value::Bool(false)) {
            model.freeze();
        }
        Ok(model)
    } else if let Some(e) = keras_hub_here(top, location) {
        Err(e)
    } else {
        Err(Error::invalid(
            location,
            format!(
                "top-level class_name is '{class_name}', expected Sequential or a functional model (a config with 'layers', 'input_layers' and 'output_layers')"
            ),
        ))
    }
}

/// The weights of `unlisted`: the models a KerasHub translation writes for layers the
/// model tracks and never calls (not a Keras key), each built from its own inputs.
fn unlisted(config: &Map<String, Value>, at: Reading, location: &str) -> Result<Vec<Weight>> {
    let Some(models) = config.get("unlisted").and_then(Value::as_array) else {
        return Ok(Vec::new());
    };
    let mut weights = Vec::new();
    for model in models {
        let model = build_graph(model, None, None, at.nested(), location, None)?;
        weights.extend(model.weights().cloned());
    }
    Ok(weights)
}

/// A KerasHub model reaching the layer-graph reader: read at the top level only (as a
/// MODEL argument), by `formats::keras_hub`, not as a nested layer or a sweep template.
fn keras_hub_here(top: &Map<String, Value>, location: &str) -> Option<Error> {
    let class = top
        .get("registered_name")
        .and_then(Value::as_str)?
        .strip_prefix("keras_hub>")?;
    Some(Error::invalid(
        location,
        format!("KerasHub model '{class}' is read as a whole model (summary, memory, fit), not as a layer of another model nor as a sweep template"),
    ))
}

fn layer_list<'v>(config: &'v Map<String, Value>, location: &str) -> Result<&'v Vec<Value>> {
    config
        .get("layers")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::invalid(location, "model config has no 'layers' list"))
}

/// The declared shapes of a functional model's inputs, in `input_layers` order; None
/// where one is not declared.
fn declared_inputs(model: &Value) -> Option<Vec<Shape>> {
    let config = model.get("config")?;
    let layers = config.get("layers")?.as_array()?;
    let refs = config.get("input_layers")?.as_array()?;
    // one input is written as a bare [name, node, tensor]
    let refs: Vec<&Value> = match refs.first() {
        Some(Value::String(_)) => vec![config.get("input_layers")?],
        _ => refs.iter().collect(),
    };
    refs.iter()
        .map(|r| {
            let name = r.get(0)?.as_str()?;
            let layer = layers.iter().find(|l| {
                l.get("name").and_then(Value::as_str) == Some(name)
                    || l["config"].get("name").and_then(Value::as_str) == Some(name)
            })?;
            let declared = declared_shape(layer.get("config")?.as_object()?)?;
            shape_from_json(declared, "'batch_shape'", "").ok()
        })
        .collect()
}

/// `batch_shape` of an InputLayer (Keras 3) or `batch_input_shape` (Keras 2).
fn declared_shape(config: &Map<String, Value>) -> Option<&Value> {
    ["batch_shape", "batch_input_shape"]
        .iter()
        .find_map(|k| config.get(*k).filter(|v| !v.is_null()))
}

fn shape_from_json(v: &Value, what: &str, location: &str) -> Result<Shape> {
    let items = v
        .as_array()
        .ok_or_else(|| Error::invalid(location, format!("{what} must be a list, got {v}")))?;
    items
        .iter()
        .map(|d| match d {
            Value::Null => Ok(None),
            _ => layers::positive_int(d).map(Some).ok_or_else(|| {
                Error::invalid(
                    location,
                    format!("{what} must hold positive integers or null, got {d}"),
                )
            }),
        })
        .collect()
}

/// Build one layer's call: apply its rule (or the nested model) to the input shapes.
struct Applied {
    weights: Vec<Weight>,
    outputs: Vec<Shape>,
    nested: Option<Box<Model>>,
    /// Counted from saved weights without a rule; `shape_known` is false when no
    /// consumer recorded the shape of its output either.
    custom: Option<custom::Counted>,
}

/// What the graph records of one call beyond its input shapes.
#[derive(Default, Clone, Copy)]
struct CallInfo<'a> {
    kwargs: Option<&'a Map<String, Value>>,
    args: Option<&'a Value>,
    /// The shapes the call's consumers recorded for its outputs (see `custom`).
    consumers: Option<&'a [Shape]>,
}

#[allow(clippy::too_many_arguments)]
fn apply_layer(
    entry: &Entry,
    class_name: &str,
    name: &str,
    config: &Map<String, Value>,
    inputs: &[Shape],
    info: CallInfo,
    at: Reading,
    location: &str,
    saved: Option<&Saved>,
) -> Result<Applied> {
    let here = format!("{location}: layer '{name}'");
    // (the text reader leaves models with nested models to the `Value` reader)
    let nested = entry.whole.filter(|whole| {
        is_model_entry(class_name, config) || crate::formats::keras_hub_vision::handles(whole)
    });
    if let Some(whole) = nested {
        let mut model = build_model(whole, Some(inputs), at.nested(), &here, saved)?;
        if class_name == "Functional" && declared_inputs(whole).is_some_and(|d| d != inputs) {
            let own = build_model(whole, None, at.nested(), &here, saved)?;
            model.own_outputs = Some(own.output_shapes());
        }
        let frozen = config.get("trainable") == Some(&Value::Bool(false));
        let weights = model
            .weights()
            .map(|w| {
                if frozen {
                    w.clone().frozen()
                } else {
                    w.clone()
                }
            })
            .collect();
        let outputs = model.output_shapes();
        return Ok(Applied {
            weights,
            outputs,
            nested: Some(Box::new(model)),
            custom: None,
        });
    }
    let ctx = LayerCtx {
        class_name,
        name,
        config,
        location: here,
        depth: at.depth,
        call: info.kwargs,
        args: info.args,
        consumers: info.consumers,
    };
    let op = entry.is_op();
    let known = if op {
        layers::op_rule(class_name).is_some()
    } else {
        layers::rule(class_name).is_some()
    };
    if !known {
        let counted = custom::count(&ctx, inputs, op, saved)?;
        return Ok(Applied {
            weights: counted.weights.clone(),
            outputs: counted.outputs.clone(),
            nested: None,
            custom: Some(counted),
        });
    }
    let built = if op {
        layers::apply_op(&ctx, inputs)?
    } else {
        layers::apply(&ctx, inputs)?
    };
    Ok(Applied {
        weights: built.weights,
        outputs: built.outputs,
        nested: None,
        custom: None,
    })
}

/// `count(location)`, its error naming the layer: the layer's location is formatted
/// only for the error (a summary counts a thousand layers that never raise).
fn at_layer<T>(location: &str, name: &str, count: impl Fn(&str) -> Result<T>) -> Result<T> {
    count(location).or_else(|_| count(&format!("{location}: layer '{name}'")))
}

/// The rows and totals of `model.summary()`.
pub fn summarize(model: &Model, location: &str) -> Result<Summary> {
    let mut rows = Vec::with_capacity(model.layers.len());
    for layer in &model.layers {
        if (!model.functional && layer.is_input()) || layer.op {
            continue;
        }
        let (params, trainable, non_trainable) = at_layer(location, &layer.name, |at| {
            weight::totals(&layer.weights, at)
        })?;
        let own = layer.nested.as_ref().and_then(|m| m.own_outputs.as_ref());
        let output_shape = layer.calls.first().filter(|_| layer.shape_known).map(|c| {
            match own.unwrap_or(&c.outputs).as_slice() {
                [one] if !layer.nested.as_ref().is_some_and(|m| m.structured_outputs) => {
                    OutputShape::Single(one.clone())
                }
                many => OutputShape::Multi(many.to_vec()),
            }
        });
        let connected_to = layer
            .calls
            .iter()
            .flat_map(|c| c.inputs.iter())
            .map(|(t, _)| format!("{}[{}][{}]", model.layers[t.layer].name, t.node, t.tensor))
            .collect();
        let explain = match &layer.nested {
            Some(inner) => format!(
                "{}: the weights of its {} layers = {params}",
                layer.class_name,
                inner.layers.len()
            ),
            None => at_layer(location, &layer.name, |at| {
                weight::explain(&layer.class_name, &layer.weights, at)
            })?,
        };
        rows.push(LayerRow {
            name: layer.name.clone(),
            class_name: layer.class_name.clone(),
            output_shape,
            params,
            trainable,
            non_trainable,
            explain,
            connected_to,
        });
    }
    let (total, trainable, non_trainable) = weight::totals(model.weights(), location)?;
    Ok(Summary {
        name: model.name.clone(),
        format: ModelFormat::Keras,
        total_params: total,
        trainable_params: trainable,
        non_trainable_params: non_trainable,
        active_params: total,
        layers: rows,
        functional: model.functional,
        notes: Vec::new(),
    })
}
