//! Custom layers the user declares (`--custom-layers FILE`, `archbudget.register_layer`),
//! for a model given as JSON alone, whose custom layers no saved weights describe.
//!
//! ```toml
//! [VectorQuantizer]
//! weights = { embeddings = ["embedding_dim", "num_embeddings"] }
//! [DepthToSpace]
//! output = ["in1 * block_size", "in2 * block_size", "in3 // (block_size * block_size)"]
//! ```
//! Weights: each a list of sizes (all trainable, or `non_trainable = ["name", ...]`).
//! Output shape: its non-batch sizes (the batch is the input's); without `output`, the
//! shape the layer's consumers recorded. Formulas use the constraint language of sweep
//! spaces over the layer's numeric config keys and its first input's sizes `in1` … `inN`
//! (`last` for the last; `in1_2` is size 1 of the second input); an unknown input size
//! makes an output size unknown.
//! Declarations live for the process, as Keras's `register_keras_serializable` does.
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use serde_json::Value;

use super::LayerCtx;
use crate::error::{Error, Result};
use crate::shape::Shape;
use crate::space::{Constraint, Scalar, Slot};
use crate::weight::{dim, Weight};

/// One size: a formula and the names it reads, in slot order.
#[derive(Debug)]
struct Formula {
    expr: Constraint,
    names: Vec<String>,
}

#[derive(Debug)]
pub struct Declared {
    weights: Vec<(String, Vec<Formula>, bool)>,
    output: Option<Vec<Formula>>,
}

static REGISTRY: RwLock<BTreeMap<String, Arc<Declared>>> = RwLock::new(BTreeMap::new());

/// The declaration of a class, if the user made one.
pub fn lookup(class_name: &str) -> Option<Arc<Declared>> {
    REGISTRY.read().ok()?.get(class_name).cloned()
}

/// Register the classes of a declaration document (TOML or JSON of the same shape);
/// returns their names. All or none: a bad entry registers nothing.
pub fn register(text: &str, toml: bool, location: &str) -> Result<Vec<String>> {
    let value: Value = if toml {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            Error::parse(location, format!("malformed TOML: {}", e.message()))
        })?;
        serde_json::to_value(table).map_err(|e| Error::parse(location, e.to_string()))?
    } else {
        serde_json::from_str(text)
            .map_err(|e| Error::parse(location, format!("malformed JSON: {e}")))?
    };
    let classes = value
        .as_object()
        .ok_or_else(|| Error::invalid(location, "custom layers must be a table of classes"))?;
    let mut parsed = Vec::with_capacity(classes.len());
    for (class_name, entry) in classes {
        let here = format!("{location}: [{class_name}]");
        parsed.push((class_name.clone(), Arc::new(declaration(entry, &here)?)));
    }
    let mut registry = REGISTRY
        .write()
        .map_err(|_| Error::Internal("custom layer registry poisoned".into()))?;
    let names = parsed.iter().map(|(n, _)| n.clone()).collect();
    registry.extend(parsed);
    Ok(names)
}

fn declaration(entry: &Value, here: &str) -> Result<Declared> {
    let entry = entry
        .as_object()
        .ok_or_else(|| Error::invalid(here, "must be a table with 'weights' and/or 'output'"))?;
    if let Some(key) = entry
        .keys()
        .find(|k| !matches!(k.as_str(), "weights" | "output" | "non_trainable"))
    {
        return Err(Error::invalid(
            here,
            format!("unknown key '{key}' (weights, output, non_trainable)"),
        ));
    }
    let frozen: Vec<&str> = match entry.get("non_trainable") {
        None => Vec::new(),
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        Some(_) => {
            return Err(Error::invalid(
                here,
                "'non_trainable' must be a list of weight names",
            ))
        }
    };
    let weights = match entry.get("weights") {
        None => Vec::new(),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(name, sizes)| {
                let at = format!("{here} weights.{name}");
                Ok((
                    name.clone(),
                    formulas(sizes, &at)?,
                    !frozen.contains(&name.as_str()),
                ))
            })
            .collect::<Result<_>>()?,
        Some(_) => {
            return Err(Error::invalid(
                here,
                "'weights' must be a table of name = [sizes]",
            ))
        }
    };
    let output = entry
        .get("output")
        .map(|sizes| formulas(sizes, &format!("{here} output")))
        .transpose()?;
    Ok(Declared { weights, output })
}

fn formulas(sizes: &Value, here: &str) -> Result<Vec<Formula>> {
    let items = sizes
        .as_array()
        .ok_or_else(|| Error::invalid(here, "must be a list of sizes (integers or formulas)"))?;
    items
        .iter()
        .map(|item| {
            let text = match item {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                other => {
                    return Err(Error::invalid(
                        here,
                        format!("a size must be an integer or a formula, got {other}"),
                    ))
                }
            };
            let names = std::cell::RefCell::new(Vec::<String>::new());
            let resolve = |name: &str| {
                let mut names = names.borrow_mut();
                let slot = names.iter().position(|n| n == name).unwrap_or_else(|| {
                    names.push(name.to_string());
                    names.len() - 1
                });
                Some(Slot::Axis(slot))
            };
            let expr = Constraint::parse(&text, here, &resolve)?;
            Ok(Formula {
                expr,
                names: names.into_inner(),
            })
        })
        .collect()
}

impl Declared {
    /// The weights and, if declared, the output shape of one call.
    pub fn build(&self, ctx: &LayerCtx, inputs: &[Shape]) -> Result<(Vec<Weight>, Option<Shape>)> {
        let input = inputs.first().cloned().unwrap_or_default();
        let mut weights = Vec::with_capacity(self.weights.len());
        for (name, sizes, trainable) in &self.weights {
            let dims = sizes
                .iter()
                .map(|f| {
                    let size = evaluate(f, ctx, inputs)?.ok_or_else(|| {
                        ctx.shape_err(format!("weight '{name}' needs a known input size"))
                    })?;
                    Ok(dim(size, "declared"))
                })
                .collect::<Result<Vec<_>>>()?;
            let w = Weight::new(name.clone(), dims);
            weights.push(if *trainable { w } else { w.frozen() });
        }
        let output = match &self.output {
            None => None,
            Some(sizes) => {
                let mut shape: Shape = vec![input.first().copied().flatten()];
                for f in sizes {
                    shape.push(evaluate(f, ctx, inputs)?);
                }
                Some(shape)
            }
        };
        Ok((weights, output))
    }
}

/// A formula's value for this layer: None when it reads an unknown input size.
fn evaluate(f: &Formula, ctx: &LayerCtx, inputs: &[Shape]) -> Result<Option<u64>> {
    let input = inputs.first().map(Vec::as_slice).unwrap_or_default();
    let mut values = Vec::with_capacity(f.names.len());
    for name in &f.names {
        let size = match name.as_str() {
            "last" => input.last().copied(),
            n => input_size(n, inputs),
        };
        let scalar = match size {
            Some(None) => return Ok(None),
            Some(Some(d)) => Scalar::Int(d as i64),
            None => match ctx.value(name) {
                Some(Value::Number(x)) => Scalar::Float(x.as_f64().unwrap_or(0.0)),
                Some(Value::Bool(b)) => Scalar::Bool(*b),
                _ => {
                    return Err(ctx.err(format!(
                        "declared formula reads '{name}': no numeric config key of that name, and not an input size in1 … in{}",
                        input.len().saturating_sub(1)
                    )))
                }
            },
        };
        values.push(scalar);
    }
    let n = f.expr.number(&|i| &values[i])?;
    if n.fract() != 0.0 || !(1.0..9.0e15).contains(&n) {
        return Err(ctx.err(format!(
            "declared size '{}' is {n}, not a positive integer",
            f.expr.text
        )));
    }
    Ok(Some(n as u64))
}

/// `in3` (size 3 of the first input) or `in3_2` (of the second): Some(size) when the
/// name is one, the size itself None when unknown.
fn input_size(name: &str, inputs: &[Shape]) -> Option<Option<u64>> {
    let rest = name.strip_prefix("in")?;
    let (axis, input) = match rest.split_once('_') {
        Some((axis, input)) => (axis.parse::<usize>().ok()?, input.parse::<usize>().ok()?),
        None => (rest.parse::<usize>().ok()?, 1),
    };
    let shape = inputs.get(input.checked_sub(1)?)?;
    (axis >= 1).then(|| shape.get(axis).copied()).flatten()
}
