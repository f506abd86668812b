//! Keras 3 model reader: the JSON of `model.to_json()` (Sequential, Functional with
//! `inbound_nodes`, nested models used as layers, shared layers) or a `.keras` archive.
//!
//! Shapes are propagated call by call through the layer rules of `crate::layers`; a layer
//! builds its weights on its first call, as Keras does, so a shared layer is counted once.
use std::io::Read;

use serde_json::{Map, Value};

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
}

impl Layer {
    pub fn is_input(&self) -> bool {
        self.class_name == "InputLayer"
    }
}

/// Whether a functional layer entry is a `keras.ops` node (module `keras.src.ops.numpy`).
fn is_op_entry(entry: &Value) -> bool {
    entry
        .get("module")
        .and_then(Value::as_str)
        .is_some_and(|m| m.starts_with("keras.src.ops") || m.starts_with("keras.ops"))
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

    /// Every weight of the model, each shared layer once.
    pub fn weights(&self) -> impl Iterator<Item = &Weight> {
        self.layers.iter().flat_map(|l| l.weights.iter())
    }
}

/// Read a model from bytes: JSON text, or a `.keras` zip archive holding `config.json`.
pub fn read(bytes: &[u8], location: &str) -> Result<Model> {
    let value = parse_bytes(bytes, location)?;
    model_from_value(&value, location)
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
        let text = archive_config(bytes, location)?;
        return parse_json(&text, &format!("{location}:config.json"));
    }
    parse_json(bytes, location)
}

pub fn parse_json(bytes: &[u8], location: &str) -> Result<Value> {
    serde_json::from_slice(bytes)
        .map_err(|e| Error::parse(location, format!("malformed JSON: {e}")))
}

fn archive_config(bytes: &[u8], location: &str) -> Result<Vec<u8>> {
    let bad = |e: &dyn std::fmt::Display| {
        Error::parse(location, format!("not a readable .keras archive: {e}"))
    };
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| bad(&e))?;
    let file = zip
        .by_name("config.json")
        .map_err(|_| Error::parse(location, ".keras archive has no config.json"))?;
    let mut text = Vec::new();
    file.take(MAX_INPUT_BYTES as u64 + 1)
        .read_to_end(&mut text)
        .map_err(|e| bad(&e))?;
    if text.len() > MAX_INPUT_BYTES {
        return Err(Error::invalid(
            location,
            "config.json in the archive is too large",
        ));
    }
    Ok(text)
}

/// Build a model from the parsed JSON of `model.to_json()`.
pub fn model_from_value(value: &Value, location: &str) -> Result<Model> {
    build_model(value, None, 0, location)
}

fn obj<'v>(v: &'v Value, what: &str, location: &str) -> Result<&'v Map<String, Value>> {
    v.as_object()
        .ok_or_else(|| Error::invalid(location, format!("{what} must be a JSON object")))
}

pub fn is_model_class(class_name: &str) -> bool {
    matches!(class_name, "Sequential" | "Functional" | "Model")
}

/// Build a (possibly nested) model. `inputs` replaces its declared input shapes when it
/// is called as a layer of an outer model.
fn build_model(
    value: &Value,
    inputs: Option<&[Shape]>,
    depth: usize,
    location: &str,
) -> Result<Model> {
    if depth > MAX_DEPTH {
        return Err(Error::invalid(
            location,
            format!("models nested deeper than {MAX_DEPTH}"),
        ));
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
    match class_name {
        "Sequential" => sequential(name, config, inputs, depth, location),
        "Functional" | "Model" => functional(name, class_name, config, inputs, depth, location),
        other => Err(Error::invalid(
            location,
            format!("top-level class_name is '{other}', expected Sequential, Functional or Model"),
        )),
    }
}

fn layer_list<'v>(config: &'v Map<String, Value>, location: &str) -> Result<&'v Vec<Value>> {
    config
        .get("layers")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::invalid(location, "model config has no 'layers' list"))
}

fn layer_header<'v>(
    v: &'v Value,
    index: usize,
    location: &str,
) -> Result<(&'v str, &'v str, &'v Map<String, Value>)> {
    let entry = obj(v, &format!("layer #{index}"), location)?;
    let class_name = entry
        .get("class_name")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::invalid(location, format!("layer #{index} has no 'class_name'")))?;
    let config = obj(
        entry.get("config").unwrap_or(&Value::Null),
        &format!("the config of layer #{index}"),
        location,
    )?;
    let name = entry
        .get("name")
        .or_else(|| config.get("name"))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            Error::invalid(
                location,
                format!("layer #{index} ({class_name}) has no 'name'"),
            )
        })?;
    Ok((class_name, name, config))
}

/// What `Layer::config` keeps of a layer's config: its hyperparameters. Initializers,
/// regularizers, constraints and the dtype policy object weigh most of a Keras JSON and
/// nothing after the build reads them, so they are not copied.
fn retained(config: &Map<String, Value>) -> Map<String, Value> {
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
}

fn apply_layer(
    entry: &Value,
    class_name: &str,
    name: &str,
    config: &Map<String, Value>,
    inputs: &[Shape],
    call: Option<&Map<String, Value>>,
    depth: usize,
    location: &str,
) -> Result<Applied> {
    let here = format!("{location}: layer '{name}'");
    if is_model_class(class_name) {
        let model = build_model(entry, Some(inputs), depth + 1, &here)?;
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
        });
    }
    let ctx = LayerCtx {
        class_name,
        name,
        config,
        location: here,
        depth,
        call,
    };
    let built = if is_op_entry(entry) {
        layers::apply_op(&ctx, inputs)?
    } else {
        layers::apply(&ctx, inputs)?
    };
    Ok(Applied {
        weights: built.weights,
        outputs: built.outputs,
        nested: None,
    })
}

fn sequential(
    name: String,
    config: &Map<String, Value>,
    inputs: Option<&[Shape]>,
    depth: usize,
    location: &str,
) -> Result<Model> {
    let entries = layer_list(config, location)?;
    let mut layers: Vec<Layer> = Vec::with_capacity(entries.len() + 1);
    let first_is_input = entries
        .first()
        .and_then(|e| e.get("class_name"))
        .and_then(Value::as_str)
        == Some("InputLayer");
    let mut shape: Shape = match inputs {
        Some([one]) => one.clone(),
        Some(many) => {
            return Err(Error::shape(
                location,
                format!("a Sequential model takes one input, got {}", many.len()),
            ))
        }
        None => {
            let declared = if first_is_input {
                let (_, _, cfg) = layer_header(&entries[0], 0, location)?;
                declared_shape(cfg)
            } else {
                config
                    .get("build_input_shape")
                    .filter(|v| !v.is_null())
                    .or_else(|| {
                        let first = entries.first()?.get("config")?;
                        declared_shape(first.as_object()?)
                            .or_else(|| first.get("build_config")?.get("input_shape"))
                    })
            };
            let declared = declared.ok_or_else(|| {
                Error::invalid(
                    location,
                    "Sequential model has no input shape (no InputLayer and no build_input_shape)",
                )
            })?;
            shape_from_json(declared, "the input shape", location)?
        }
    };
    // The input is a layer of its own (hidden from Sequential's summary), so every call
    // refers to a real tensor.
    let (input_name, input_config) = if first_is_input {
        let (_, n, cfg) = layer_header(&entries[0], 0, location)?;
        (n.to_string(), retained(cfg))
    } else {
        ("input_layer".to_string(), Map::new())
    };
    layers.push(Layer {
        name: input_name,
        class_name: "InputLayer".into(),
        config: input_config,
        weights: Vec::new(),
        calls: vec![Call {
            inputs: Vec::new(),
            outputs: vec![shape.clone()],
        }],
        nested: None,
        op: false,
    });
    let mut previous = TensorRef {
        layer: 0,
        node: 0,
        tensor: 0,
    };
    for (i, entry) in entries.iter().enumerate().skip(usize::from(first_is_input)) {
        let (class_name, lname, cfg) = layer_header(entry, i, location)?;
        let applied = apply_layer(
            entry,
            class_name,
            lname,
            cfg,
            std::slice::from_ref(&shape),
            None,
            depth,
            location,
        )?;
        if applied.outputs.len() != 1 {
            return Err(Error::shape(
                format!("{location}: layer '{lname}'"),
                format!(
                    "a layer of a Sequential model must return one tensor, {class_name} returns {}",
                    applied.outputs.len()
                ),
            ));
        }
        let call = Call {
            inputs: vec![(previous, shape.clone())],
            outputs: applied.outputs,
        };
        shape = call.outputs[0].clone();
        layers.push(Layer {
            name: lname.to_string(),
            class_name: class_name.to_string(),
            config: retained(cfg),
            weights: applied.weights,
            calls: vec![call],
            nested: applied.nested,
            op: false,
        });
        previous = TensorRef {
            layer: layers.len() - 1,
            node: 0,
            tensor: 0,
        };
    }
    Ok(Model {
        name,
        class_name: "Sequential".into(),
        functional: false,
        layers,
        inputs: vec![TensorRef {
            layer: 0,
            node: 0,
            tensor: 0,
        }],
        outputs: vec![previous],
    })
}

/// A `keras_history` reference by layer name, resolved later.
#[derive(Clone)]
struct NamedRef {
    layer: String,
    node: usize,
    tensor: usize,
}

/// One inbound node: the tensors it consumes and its keyword arguments.
struct NodeSpec {
    tensors: Vec<NamedRef>,
    kwargs: Option<Map<String, Value>>,
}

/// `[name, node, tensor]`, as in `keras_history`, `input_layers` and `output_layers`.
fn named_ref(v: &Value, location: &str) -> Result<NamedRef> {
    let bad = || {
        Error::invalid(
            location,
            format!("tensor reference must be [layer name, node, tensor], got {v}"),
        )
    };
    let items = v.as_array().ok_or_else(bad)?;
    match items.as_slice() {
        [Value::String(layer), node, tensor, ..] => Ok(NamedRef {
            layer: layer.clone(),
            node: node.as_u64().ok_or_else(bad)? as usize,
            tensor: tensor.as_u64().ok_or_else(bad)? as usize,
        }),
        _ => Err(bad()),
    }
}

/// The references of `input_layers` / `output_layers`: one `[name, 0, 0]`, a list of
/// them, or a dict of them (a model built on dicts of tensors).
fn ref_list(v: Option<&Value>, what: &str, location: &str) -> Result<Vec<NamedRef>> {
    let v = v.ok_or_else(|| {
        Error::invalid(location, format!("functional model config has no '{what}'"))
    })?;
    match v {
        Value::Array(items) if matches!(items.first(), Some(Value::String(_))) => {
            Ok(vec![named_ref(v, location)?])
        }
        Value::Array(items) => items.iter().map(|x| named_ref(x, location)).collect(),
        Value::Object(map) => sorted_values(map).map(|x| named_ref(x, location)).collect(),
        _ => Err(Error::invalid(
            location,
            format!("'{what}' must be a list or a dict"),
        )),
    }
}

/// Keras tensors found in call arguments, in argument order.
fn collect_tensors(v: &Value, out: &mut Vec<NamedRef>, location: &str) -> Result<()> {
    match v {
        Value::Array(items) => items
            .iter()
            .try_for_each(|x| collect_tensors(x, out, location)),
        Value::Object(map)
            if map.get("class_name").and_then(Value::as_str) == Some("__keras_tensor__") =>
        {
            let history = map
                .get("config")
                .and_then(|c| c.get("keras_history"))
                .ok_or_else(|| {
                    Error::invalid(location, "a __keras_tensor__ has no keras_history")
                })?;
            out.push(named_ref(history, location)?);
            Ok(())
        }
        Value::Object(map) => {
            sorted_values(map).try_for_each(|x| collect_tensors(x, out, location))
        }
        _ => Ok(()),
    }
}

/// A dict's values in key order: Keras flattens dicts of tensors (a model's inputs, the
/// arguments of a call) with sorted keys, so both sides of a call line up.
fn sorted_values(map: &Map<String, Value>) -> impl Iterator<Item = &Value> {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_by_key(|(k, _)| *k);
    entries.into_iter().map(|(_, v)| v)
}

/// Keyword tensors that are data inputs, in the order the layer's call signature takes
/// them (masks are not inputs whose shapes a layer's output depends on).
const TENSOR_KWARGS: [&str; 6] = [
    "inputs",
    "query",
    "value",
    "key",
    "initial_state",
    "constants",
];

fn node_spec(node: &Value, location: &str) -> Result<NodeSpec> {
    let mut tensors = Vec::new();
    match node {
        // Keras 3: {"args": [...], "kwargs": {...}}
        Value::Object(map) => {
            if let Some(args) = map.get("args") {
                collect_tensors(args, &mut tensors, location)?;
            }
            let kwargs = map.get("kwargs").and_then(Value::as_object);
            if let Some(kwargs) = kwargs {
                for key in TENSOR_KWARGS {
                    if let Some(v) = kwargs.get(key) {
                        collect_tensors(v, &mut tensors, location)?;
                    }
                }
            }
            Ok(NodeSpec {
                tensors,
                kwargs: kwargs.cloned(),
            })
        }
        // Keras 2: [[name, node, tensor, {kwargs}], ...]
        Value::Array(items) => {
            let mut kwargs = None;
            for item in items {
                tensors.push(named_ref(item, location)?);
                if let Some(kw) = item.get(3).and_then(Value::as_object) {
                    kwargs = Some(kw.clone());
                }
            }
            Ok(NodeSpec { tensors, kwargs })
        }
        _ => Err(Error::invalid(
            location,
            format!("inbound node must be an object or a list, got {node}"),
        )),
    }
}

fn functional(
    name: String,
    class_name: &str,
    config: &Map<String, Value>,
    inputs: Option<&[Shape]>,
    depth: usize,
    location: &str,
) -> Result<Model> {
    let entries = layer_list(config, location)?;
    let input_refs = ref_list(config.get("input_layers"), "input_layers", location)?;
    let output_refs = ref_list(config.get("output_layers"), "output_layers", location)?;
    let mut index = std::collections::HashMap::with_capacity(entries.len());
    let mut headers = Vec::with_capacity(entries.len());
    let mut nodes: Vec<Vec<NodeSpec>> = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let (class_name, lname, cfg) = layer_header(entry, i, location)?;
        if index.insert(lname, i).is_some() {
            return Err(Error::invalid(
                location,
                format!("two layers are named '{lname}'"),
            ));
        }
        let here = format!("{location}: layer '{lname}'");
        let specs = match entry.get("inbound_nodes") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(list)) => list
                .iter()
                .map(|n| node_spec(n, &here))
                .collect::<Result<_>>()?,
            Some(other) => {
                return Err(Error::invalid(
                    here,
                    format!("'inbound_nodes' must be a list, got {other}"),
                ))
            }
        };
        if class_name == "InputLayer" && !specs.is_empty() {
            return Err(Error::invalid(
                here,
                "an InputLayer is not called on other tensors: its 'inbound_nodes' must be empty",
            ));
        }
        headers.push((class_name, lname, cfg));
        nodes.push(specs);
    }
    let resolve = |r: &NamedRef| -> Result<TensorRef> {
        let layer = *index.get(r.layer.as_str()).ok_or_else(|| {
            Error::invalid(
                location,
                format!(
                    "a tensor refers to layer '{}', which the model does not have",
                    r.layer
                ),
            )
        })?;
        Ok(TensorRef {
            layer,
            node: r.node,
            tensor: r.tensor,
        })
    };

    let mut layers: Vec<Layer> = headers
        .iter()
        .zip(entries)
        .map(|((c, n, cfg), entry)| Layer {
            name: n.to_string(),
            class_name: c.to_string(),
            config: retained(cfg),
            weights: Vec::new(),
            calls: Vec::new(),
            nested: None,
            op: is_op_entry(entry),
        })
        .collect();

    // Input layers: their declared shape, or the shapes given by an outer model.
    let model_inputs = input_refs
        .iter()
        .map(&resolve)
        .collect::<Result<Vec<_>>>()?;
    if let Some(given) = inputs {
        if given.len() != model_inputs.len() {
            return Err(Error::shape(
                location,
                format!(
                    "model '{name}' takes {} inputs, got {}",
                    model_inputs.len(),
                    given.len()
                ),
            ));
        }
    }
    for (i, (class_name, lname, cfg)) in headers.iter().enumerate() {
        if *class_name != "InputLayer" {
            continue;
        }
        let here = format!("{location}: layer '{lname}'");
        let position = model_inputs.iter().position(|t| t.layer == i);
        let shape = match (inputs, position) {
            (Some(given), Some(p)) => given[p].clone(),
            _ => {
                let declared = declared_shape(cfg)
                    .ok_or_else(|| Error::invalid(&here, "InputLayer has no 'batch_shape'"))?;
                shape_from_json(declared, "'batch_shape'", &here)?
            }
        };
        layers[i].calls.push(Call {
            inputs: Vec::new(),
            outputs: vec![shape],
        });
    }

    // Resolve calls in passes: a call runs once all its input tensors exist. Configs are
    // topologically ordered, so one pass suffices except around shared layers.
    let mut remaining: usize = nodes.iter().map(Vec::len).sum();
    while remaining > 0 {
        let mut progressed = false;
        for i in 0..layers.len() {
            while layers[i].calls.len() < nodes[i].len() + usize::from(layers[i].is_input()) {
                let spec = &nodes[i][layers[i].calls.len()];
                let refs = spec
                    .tensors
                    .iter()
                    .map(&resolve)
                    .collect::<Result<Vec<_>>>()?;
                let ready = refs.iter().all(|t| t.node < layers[t.layer].calls.len());
                if !ready {
                    break;
                }
                let mut call_inputs = Vec::with_capacity(refs.len());
                for t in refs {
                    let shape = layers[t.layer].calls[t.node]
                        .outputs
                        .get(t.tensor)
                        .cloned()
                        .ok_or_else(|| {
                            Error::invalid(
                                format!("{location}: layer '{}'", layers[i].name),
                                format!(
                                    "input refers to output {} of '{}', which has {}",
                                    t.tensor,
                                    layers[t.layer].name,
                                    layers[t.layer].calls[t.node].outputs.len()
                                ),
                            )
                        })?;
                    call_inputs.push((t, shape));
                }
                let shapes: Vec<Shape> = call_inputs.iter().map(|(_, s)| s.clone()).collect();
                let (class_name, lname, cfg) = headers[i];
                let applied = apply_layer(
                    &entries[i],
                    class_name,
                    lname,
                    cfg,
                    &shapes,
                    spec.kwargs.as_ref(),
                    depth,
                    location,
                )?;
                let layer = &mut layers[i];
                if layer.calls.is_empty() {
                    layer.weights = applied.weights;
                    layer.nested = applied.nested;
                }
                layer.calls.push(Call {
                    inputs: call_inputs,
                    outputs: applied.outputs,
                });
                remaining -= 1;
                progressed = true;
            }
        }
        if !progressed {
            let stuck = layers
                .iter()
                .zip(&nodes)
                .find(|(l, n)| l.calls.len() < n.len() + usize::from(l.is_input()))
                .map(|(l, _)| l.name.clone())
                .unwrap_or_default();
            return Err(Error::invalid(
                format!("{location}: layer '{stuck}'"),
                "its inputs never become available (a cycle, or a reference to a missing call)",
            ));
        }
    }

    let outputs = output_refs
        .iter()
        .map(&resolve)
        .collect::<Result<Vec<_>>>()?;
    for t in outputs.iter().chain(&model_inputs) {
        let ok = layers[t.layer]
            .calls
            .get(t.node)
            .is_some_and(|c| t.tensor < c.outputs.len());
        if !ok {
            return Err(Error::invalid(
                location,
                format!(
                    "model input/output refers to a missing tensor of layer '{}'",
                    layers[t.layer].name
                ),
            ));
        }
    }
    Ok(Model {
        name,
        class_name: class_name.to_string(),
        functional: true,
        layers,
        inputs: model_inputs,
        outputs,
    })
}

/// The rows and totals of `model.summary()`.
pub fn summarize(model: &Model, location: &str) -> Result<Summary> {
    let mut rows = Vec::with_capacity(model.layers.len());
    for layer in &model.layers {
        if (!model.functional && layer.is_input()) || layer.op {
            continue;
        }
        let here = format!("{location}: layer '{}'", layer.name);
        let (params, trainable, non_trainable) = weight::totals(&layer.weights, &here)?;
        let output_shape = layer.calls.first().map(|c| match c.outputs.as_slice() {
            [one] => OutputShape::Single(one.clone()),
            many => OutputShape::Multi(many.to_vec()),
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
            None => weight::explain(&layer.class_name, &layer.weights, &here)?,
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
    let all: Vec<Weight> = model.weights().cloned().collect();
    let (total, trainable, non_trainable) = weight::totals(&all, location)?;
    Ok(Summary {
        name: model.name.clone(),
        format: ModelFormat::Keras,
        total_params: total,
        trainable_params: trainable,
        non_trainable_params: non_trainable,
        active_params: total,
        layers: rows,
        functional: model.functional,
    })
}
