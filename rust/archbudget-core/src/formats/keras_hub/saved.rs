//! KerasHub models no reader here knows (Bloom, DeiT, Swin, RWKV-7, ...), counted from
//! the `model.weights.h5` of their `.keras` archive, which holds every weight's shape.
//!
//! Keras's `saving_lib._save_state` writes a Functional model's `model.layers` under
//! `layers/<class in snake_case>[_N]/` (`_save_container_state`), each layer's own
//! variables in its `vars` group (whose `name` attribute is the layer's name) and the
//! layers it holds under further groups; a layer already saved is skipped, so a weight
//! shared by two layers (a tied LM head) is written once, under the first. So each
//! top-level layer with a group is one row, rows in the order the groups were written
//! (`model.layers` order), and the totals are exact.
//!
//! Not known from the file: output shapes; classes, other than the model's nested
//! backbone / encoders (named in the config) and plain Keras layers (from the saved
//! name); which variables a layer holds as non-trainable (Keras records no flag): the
//! trainable split follows the config's `trainable` flags of the model and of its
//! nested backbone / encoders.
use serde_json::Value;

use crate::error::{Error, Result};
use crate::formats::keras::custom::snake_case;
use crate::formats::keras::h5::Tree;
use crate::summary::{LayerRow, ModelFormat, Summary};
use crate::weight::{dim, totals, Weight};

use super::MEMORY;

/// What each row's explanation and the summary's notes say is known and what is not.
const WHAT_IS_READ: &str = "counted from the .keras archive's model.weights.h5 (no reader here knows this KerasHub class): totals exact, one row per top-level layer in model.layers order; output shapes are unknown, classes are known only for plain Keras layers and the config's nested models, and the trainable split follows the config's 'trainable' flags (non-trainable variables inside a layer are not told apart)";

/// The summary of the KerasHub model `value` (of keras-hub class `class`) from the
/// weight shapes `tree` of its archive.
pub fn summarize(value: &Value, class: &str, tree: &Tree, location: &str) -> Result<Summary> {
    let config = value.get("config").and_then(Value::as_object);
    let name = config
        .and_then(|c| c.get("name"))
        .and_then(Value::as_str)
        .unwrap_or(class)
        .to_string();
    let model_trainable = trainable_flag(value);
    let nested = nested_models(value);
    let mut groups: Vec<(&str, u64)> = tree
        .created
        .iter()
        .filter_map(|(path, &order)| {
            let saved = path.strip_prefix("layers/")?;
            (!saved.contains('/')).then_some((saved, order))
        })
        .collect();
    if groups.is_empty() {
        return Err(Error::invalid(
            location,
            format!("KerasHub {class}: the archive's model.weights.h5 holds no layers (was the model saved with model.save('model.keras')?)"),
        ));
    }
    groups.sort_by_key(|&(_, order)| order);
    let mut layers = Vec::with_capacity(groups.len() + 1);
    let mut all: Vec<Weight> = Vec::new();
    for (saved, _) in groups {
        let prefix = format!("layers/{saved}/");
        let layer_name = tree
            .group_names
            .get(&format!("{prefix}vars"))
            .cloned()
            .unwrap_or_else(|| saved.to_string());
        let nested_model = nested.iter().find(|(n, _, _)| *n == layer_name);
        let trainable = model_trainable && nested_model.is_none_or(|(_, _, t)| *t);
        let class_name = match nested_model {
            Some((_, c, _)) => c.to_string(),
            None => keras_class(saved).unwrap_or_else(|| saved_base(saved).to_string()),
        };
        let weights = weights_under(tree, &prefix, trainable);
        layers.push(row(layer_name, class_name, &weights, &prefix, location)?);
        all.extend(weights);
    }
    // the model's own variables (a subclassed model's `add_weight`), if any
    let own = weights_under(tree, "vars/", model_trainable);
    if !own.is_empty() {
        layers.push(row(
            name.clone(),
            class.to_string(),
            &own,
            "vars/",
            location,
        )?);
        all.extend(own);
    }
    let (total, trainable, non_trainable) = totals(&all, location)?;
    Ok(Summary {
        name,
        format: ModelFormat::Keras,
        total_params: total,
        trainable_params: trainable,
        non_trainable_params: non_trainable,
        active_params: total,
        layers,
        functional: false,
        notes: vec![format!(
            "KerasHub {class} {WHAT_IS_READ}; a top-level layer whose weights an earlier one holds (a tied LM head) has no row of its own"
        )],
    })
}

fn row(
    name: String,
    class_name: String,
    weights: &[Weight],
    prefix: &str,
    location: &str,
) -> Result<LayerRow> {
    let (params, trainable, non_trainable) = totals(weights, location)?;
    Ok(LayerRow {
        explain: format!(
            "{class_name}: {} variables saved under {prefix} = {params}; {WHAT_IS_READ}",
            weights.len()
        ),
        name,
        class_name,
        output_shape: None,
        params,
        trainable,
        non_trainable,
        connected_to: Vec::new(),
    })
}

/// Every dataset under `prefix`, its dimensions as saved.
fn weights_under(tree: &Tree, prefix: &str, trainable: bool) -> Vec<Weight> {
    tree.datasets
        .range(prefix.to_string()..)
        .take_while(|(path, _)| path.starts_with(prefix))
        .map(|(path, dims)| {
            let w = Weight::new(
                path.as_str(),
                dims.iter().map(|&d| dim(d, "saved")).collect(),
            );
            if trainable {
                w
            } else {
                w.frozen()
            }
        })
        .collect()
}

/// A serialized object's `trainable` (true unless the config says false).
fn trainable_flag(value: &Value) -> bool {
    value
        .pointer("/config/trainable")
        .and_then(Value::as_bool)
        .unwrap_or(true)
}

/// The serialized layers the config nests (a task's `backbone`, a backbone's
/// `vision_encoder`, ...): (layer name, class, trainable).
fn nested_models(value: &Value) -> Vec<(&str, &str, bool)> {
    let Some(config) = value.get("config").and_then(Value::as_object) else {
        return Vec::new();
    };
    config
        .values()
        .filter_map(|v| {
            let class = v
                .get("registered_name")
                .or_else(|| v.get("class_name"))
                .and_then(Value::as_str)?;
            let name = v.pointer("/config/name").and_then(Value::as_str)?;
            let class = class.rsplit('>').next().unwrap_or(class);
            Some((name, class, trainable_flag(v)))
        })
        .collect()
}

/// The saved name without the `_N` saving_lib adds to later instances of a class.
fn saved_base(saved: &str) -> &str {
    match saved.rsplit_once('_') {
        Some((base, n)) if !base.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => base,
        _ => saved,
    }
}

/// The Keras class saved as `saved` (`layer_normalization_1` → `LayerNormalization`),
/// where a Keras layer class has that snake_case name.
fn keras_class(saved: &str) -> Option<String> {
    let base = saved_base(saved);
    // InputLayer has no rule of its own (the graph reader handles it)
    std::iter::once("InputLayer")
        .chain(crate::layers::supported_classes())
        .find(|c| snake_case(c) == base)
        .map(str::to_string)
}

/// `memory` of a model only counted from its weights: refused, naming why and what is
/// read instead.
pub fn memory_refused(class: &str, location: &str) -> Error {
    Error::invalid(
        location,
        format!("memory of KerasHub {class} is not modelled: no reader here knows its architecture, so `summary` counts it from the .keras archive's model.weights.h5 (weights only, no activations or FLOPs); memory covers {}", MEMORY.join(", ")),
    )
}
