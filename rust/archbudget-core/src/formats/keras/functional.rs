//! Functional graphs: layers called on `__keras_tensor__` references (Keras 3) or
//! `[name, node, tensor]` lists (Keras 2), resolved call by call.
use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::{Map, Value};

use super::entry::{Entry, Inbound, Json, NamedRef, NodeSpec};
use super::{apply_layer, declared_shape, is_model_entry, shape_from_json, Reading};
use super::{saved_names, Call, CallInfo, Layer, Model, Saved, TensorRef};
use crate::error::{Error, Result};
use crate::shape::Shape;

/// Where a message about a tensor or node points, formatted only when one is raised
/// (the graph of a large model has thousands).
type Here<'a> = &'a dyn Fn() -> String;

/// `[name, node, tensor]`, as in `keras_history`, `input_layers` and `output_layers`.
fn named_ref<'v>(v: &'v Value, here: Here) -> Result<NamedRef<'v>> {
    let bad = || {
        Error::invalid(
            here(),
            format!("tensor reference must be [layer name, node, tensor], got {v}"),
        )
    };
    let items = v.as_array().ok_or_else(bad)?;
    match items.as_slice() {
        [Value::String(layer), node, tensor, ..] => Ok(NamedRef {
            layer: Cow::Borrowed(layer),
            node: node.as_u64().ok_or_else(bad)? as usize,
            tensor: tensor.as_u64().ok_or_else(bad)? as usize,
            shape: None,
        }),
        _ => Err(bad()),
    }
}

/// The references of `input_layers` / `output_layers`: one `[name, 0, 0]`, a list of
/// them, or a dict of them (a model built on dicts of tensors).
fn ref_list<'v>(v: Option<&'v Value>, what: &str, location: &str) -> Result<Vec<NamedRef<'v>>> {
    let v = v.ok_or_else(|| {
        Error::invalid(location, format!("functional model config has no '{what}'"))
    })?;
    let here: Here = &|| location.to_string();
    match v {
        Value::Array(items) if matches!(items.first(), Some(Value::String(_))) => {
            Ok(vec![named_ref(v, here)?])
        }
        Value::Array(items) => items.iter().map(|x| named_ref(x, here)).collect(),
        Value::Object(map) => sorted_values(map).map(|x| named_ref(x, here)).collect(),
        _ => Err(Error::invalid(
            location,
            format!("'{what}' must be a list or a dict"),
        )),
    }
}

/// Keras tensors found in call arguments, in argument order.
fn collect_tensors<'v>(v: &'v Value, out: &mut Vec<NamedRef<'v>>, here: Here) -> Result<()> {
    match v {
        Value::Array(items) => items.iter().try_for_each(|x| collect_tensors(x, out, here)),
        Value::Object(map)
            if map.get("class_name").and_then(Value::as_str) == Some("__keras_tensor__") =>
        {
            let config = map.get("config");
            let history = config
                .and_then(|c| c.get("keras_history"))
                .ok_or_else(|| Error::invalid(here(), "a __keras_tensor__ has no keras_history"))?;
            let mut r = named_ref(history, here)?;
            r.shape = config.and_then(|c| c.get("shape")).map(Json::Value);
            out.push(r);
            Ok(())
        }
        Value::Object(map) => sorted_values(map).try_for_each(|x| collect_tensors(x, out, here)),
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
pub(super) const TENSOR_KWARGS: [&str; 6] = [
    "inputs",
    "query",
    "value",
    "key",
    "initial_state",
    "constants",
];

fn node_spec<'v>(node: &'v Value, here: Here) -> Result<NodeSpec<'v>> {
    let mut tensors = Vec::new();
    match node {
        // Keras 3: {"args": [...], "kwargs": {...}}
        Value::Object(map) => {
            if let Some(args) = map.get("args") {
                collect_tensors(args, &mut tensors, here)?;
            }
            let kwargs = map.get("kwargs").and_then(Value::as_object);
            if let Some(kwargs) = kwargs {
                for key in TENSOR_KWARGS {
                    if let Some(v) = kwargs.get(key) {
                        collect_tensors(v, &mut tensors, here)?;
                    }
                }
            }
            Ok(NodeSpec {
                tensors,
                kwargs: kwargs.map(Cow::Borrowed),
                args: map.get("args").map(Json::Value),
            })
        }
        // Keras 2: [[name, node, tensor, {kwargs}], ...]
        Value::Array(items) => {
            let mut kwargs = None;
            for item in items {
                tensors.push(named_ref(item, here)?);
                if let Some(kw) = item.get(3).and_then(Value::as_object) {
                    kwargs = Some(Cow::Borrowed(kw));
                }
            }
            Ok(NodeSpec {
                tensors,
                kwargs,
                args: None,
            })
        }
        _ => Err(Error::invalid(
            here(),
            format!("inbound node must be an object or a list, got {node}"),
        )),
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn build(
    name: String,
    class_name: &str,
    config: &Map<String, Value>,
    entries: &[Entry],
    inputs: Option<&[Shape]>,
    at: Reading,
    location: &str,
    saved: Option<&Saved>,
) -> Result<Model> {
    let names = saved
        .map(|_| saved_names(entries, false))
        .unwrap_or_default();
    let input_refs = ref_list(config.get("input_layers"), "input_layers", location)?;
    let output_refs = ref_list(config.get("output_layers"), "output_layers", location)?;
    let mut index = std::collections::HashMap::with_capacity(entries.len());
    let mut headers = Vec::with_capacity(entries.len());
    // the nodes of entries read from a `Value`; the text reader's are read already
    let mut parsed: Vec<Option<Vec<NodeSpec>>> = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let (class_name, lname, cfg) = entry.header(i, location)?;
        if index.insert(lname, i).is_some() {
            return Err(Error::invalid(
                location,
                format!("two layers are named '{lname}'"),
            ));
        }
        let here: Here = &|| format!("{location}: layer '{lname}'");
        let specs = match &entry.inbound {
            Inbound::Read(specs) => {
                parsed.push(None);
                specs.len()
            }
            Inbound::Json(None | Some(Value::Null)) => {
                parsed.push(Some(Vec::new()));
                0
            }
            Inbound::Json(Some(Value::Array(list))) => {
                let specs = list
                    .iter()
                    .map(|n| node_spec(n, here))
                    .collect::<Result<Vec<_>>>()?;
                let n = specs.len();
                parsed.push(Some(specs));
                n
            }
            Inbound::Json(Some(other)) => {
                return Err(Error::invalid(
                    here(),
                    format!("'inbound_nodes' must be a list, got {other}"),
                ))
            }
        };
        if class_name == "InputLayer" && specs > 0 {
            return Err(Error::invalid(
                here(),
                "an InputLayer is not called on other tensors: its 'inbound_nodes' must be empty",
            ));
        }
        headers.push((class_name, lname, cfg));
    }
    let nodes: Vec<&[NodeSpec]> = entries
        .iter()
        .zip(&parsed)
        .map(|(entry, parsed)| match (parsed, &entry.inbound) {
            (Some(specs), _) | (None, Inbound::Read(specs)) => specs.as_slice(),
            (None, Inbound::Json(_)) => &[],
        })
        .collect();
    let resolve = |r: &NamedRef| -> Result<TensorRef> {
        let layer = *index.get(&*r.layer).ok_or_else(|| {
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
            config: at.retained(cfg),
            weights: Vec::new(),
            calls: Vec::new(),
            nested: None,
            op: entry.is_op(),
            shape_known: true,
            undeclared: None,
        })
        .collect();
    let consumers = consumer_shapes(&nodes, &index, &layers);

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
    let mut remaining: usize = nodes.iter().map(|n| n.len()).sum();
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
                // only `keras.ops` nodes read their positional arguments
                let args = spec.args.filter(|_| layers[i].op).and_then(Json::value);
                let info = CallInfo {
                    kwargs: spec.kwargs.as_deref(),
                    args: args.as_deref(),
                    consumers: consumers
                        .get(&(i, layers[i].calls.len()))
                        .map(Vec::as_slice),
                };
                let applied = apply_layer(
                    &entries[i],
                    class_name,
                    lname,
                    cfg,
                    &shapes,
                    info,
                    at,
                    location,
                    saved
                        .zip(names.get(i).and_then(Option::as_deref))
                        .map(|(s, n)| s.layer(n))
                        .as_ref(),
                )?;
                let layer = &mut layers[i];
                if layer.calls.is_empty() {
                    layer.weights = applied.weights;
                    layer.nested = applied.nested;
                    layer.shape_known = applied.custom.as_ref().is_none_or(|c| c.shape_known);
                    layer.undeclared = applied.custom.and_then(|c| c.undeclared);
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

    // Keras numbers a nested functional model's calls in `output_layers` from 1 (node 0
    // is the model's own input-to-output node; `functional_from_config`'s `get_tensor`
    // subtracts it), and from 0 in the other layers' inbound nodes.
    let outputs = output_refs
        .iter()
        .map(|r| {
            let mut t = resolve(r)?;
            let (class_name, _, cfg) = headers[t.layer];
            if class_name != "Sequential" && is_model_entry(class_name, cfg) && t.node > 0 {
                t.node -= 1;
            }
            Ok(t)
        })
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
    let structured_outputs = match config.get("output_layers") {
        Some(Value::Array(items)) => !matches!(items.first(), Some(Value::String(_))),
        other => other.is_some(),
    };
    Ok(Model {
        name,
        class_name: class_name.to_string(),
        functional: true,
        layers,
        inputs: model_inputs,
        outputs,
        structured_outputs,
        unlisted: Vec::new(),
        own_outputs: None,
    })
}

/// The shapes each call's outputs had where other calls consumed them, by (layer, call):
/// what a layer without a shape rule (a custom layer, a Lambda) returned. Only calls
/// whose every output was seen are listed.
fn consumer_shapes(
    nodes: &[&[NodeSpec]],
    index: &HashMap<&str, usize>,
    layers: &[Layer],
) -> HashMap<(usize, usize), Vec<Shape>> {
    let needs: Vec<bool> = layers.iter().map(needs_consumer_shapes).collect();
    let mut seen: HashMap<(usize, usize), Vec<Option<Shape>>> = HashMap::new();
    if !needs.contains(&true) {
        return HashMap::new();
    }
    for r in nodes.iter().copied().flatten().flat_map(|n| &n.tensors) {
        let Some(&layer) = index.get(&*r.layer).filter(|&&l| needs[l]) else {
            continue;
        };
        let shape = r.shape.and_then(Json::value);
        let Some(shape) = shape.and_then(|s| shape_from_json(&s, "a shape", "").ok()) else {
            continue;
        };
        let outputs = seen.entry((layer, r.node)).or_default();
        if outputs.len() <= r.tensor {
            outputs.resize(r.tensor + 1, None);
        }
        outputs[r.tensor] = Some(shape);
    }
    seen.into_iter()
        .filter_map(|(k, v)| Some((k, v.into_iter().collect::<Option<Vec<_>>>()?)))
        .collect()
}

/// Layers without a shape rule of their own: custom layers, Lambda, unruled ops.
fn needs_consumer_shapes(layer: &Layer) -> bool {
    if layer.op {
        crate::layers::op_rule(&layer.class_name).is_none()
    } else {
        crate::layers::rule(&layer.class_name).is_none() && !layer.is_input()
    }
}
