//! A backbone's `pyramid_outputs` (keras_hub/src/models/feature_pyramid_backbone.py):
//! the feature maps `P2`, `P3`, ... (`Pn` 2^n times smaller than the image) that the
//! segmentation and detection models read through
//! `keras.Model(encoder.inputs, encoder.pyramid_outputs)`. That model holds the
//! encoder's layers up to the deepest level asked for, and nothing after (ResNet v2's
//! `post_bn`, DenseNet's final norm are left out).
use std::collections::HashSet;

use serde_json::{Map, Value};

use super::{backbone, Args};
use crate::error::Result;

/// A serialized image encoder, translated, with the layer giving each of its pyramid
/// levels.
pub struct Encoder<'v> {
    pub args: Args<'v>,
    pub model: Value,
    /// (`P2`, layer name), ... in level order.
    pub levels: Vec<(String, String)>,
}

/// The encoder under `key` of `owner`'s config (`image_encoder`), translated.
pub fn encoder<'v>(owner: &Args<'v>, key: &str, location: &str) -> Result<Encoder<'v>> {
    let value = owner.get(key).ok_or_else(|| {
        owner.err(format!(
            "'{key}' is missing (the serialized image encoder model)"
        ))
    })?;
    let class = value
        .get("registered_name")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("keras_hub>"))
        .ok_or_else(|| owner.err(format!("'{key}' is not a serialized KerasHub backbone")))?;
    let unsupported = || {
        owner.err(format!(
            "its '{key}' {class} is not an encoder whose pyramid outputs archbudget reads (ResNetBackbone, DenseNetBackbone)"
        ))
    };
    let build = backbone(class).ok_or_else(unsupported)?;
    let args = Args::of(value, class, location)?;
    let levels = match class {
        "ResNetBackbone" => resnet_levels(&args)?,
        "DenseNetBackbone" => densenet_levels(&args)?,
        _ => return Err(unsupported()),
    };
    let model = build(&args)?;
    Ok(Encoder {
        args,
        model,
        levels,
    })
}

/// `apply_stack`'s last block output of each stack: `P2` for the first.
fn resnet_levels(args: &Args) -> Result<Vec<(String, String)>> {
    let blocks = args.ints("stackwise_num_blocks")?;
    Ok(blocks
        .iter()
        .enumerate()
        .map(|(stack, &n)| {
            (
                format!("P{}", stack + 2),
                format!("stack{stack}_block{}_out", n - 1),
            )
        })
        .collect())
}

/// Each dense block's last concatenation: `P2` for the first (before its transition).
fn densenet_levels(args: &Args) -> Result<Vec<(String, String)>> {
    let repeats = args.ints("stackwise_num_repeats")?;
    Ok(repeats
        .iter()
        .enumerate()
        .map(|(stack, &n)| {
            (
                format!("P{}", stack + 2),
                format!("stack{}_block{n}_concat", stack + 1),
            )
        })
        .collect())
}

impl Encoder<'_> {
    /// Whether the encoder gives pyramid level `level` (`P4`).
    pub fn has(&self, level: &str) -> bool {
        self.levels.iter().any(|(l, _)| l == level)
    }

    /// The deepest level it gives (5 for `P2`..`P5`).
    pub fn max_level(&self) -> u32 {
        self.levels
            .iter()
            .filter_map(|(l, _)| l[1..].parse().ok())
            .max()
            .unwrap_or(0)
    }

    /// `keras.Model(encoder.inputs, {level: encoder.pyramid_outputs[level], ...})` named
    /// `name`, `wanted` in key order: the encoder's layers that lead to them.
    ///
    /// The owner also tracks the encoder itself, so Keras's totals count the weights of
    /// the encoder's layers past those levels, which no row shows; such a model is
    /// refused rather than counted short.
    pub fn feature_model(&self, owner: &Args, name: &str, wanted: &[&str]) -> Result<Value> {
        let config = &self.model["config"];
        let layers = config["layers"].as_array().cloned().unwrap_or_default();
        let mut outputs = Map::new();
        for (level, layer) in &self.levels {
            if wanted.contains(&level.as_str()) {
                outputs.insert(level.clone(), serde_json::json!([layer, 0, 0]));
            }
        }
        // walk back from the outputs through each layer's inbound tensors
        let mut kept: HashSet<String> = HashSet::new();
        let mut stack: Vec<String> = outputs
            .values()
            .filter_map(|r| r[0].as_str().map(str::to_string))
            .collect();
        while let Some(name) = stack.pop() {
            if !kept.insert(name.clone()) {
                continue;
            }
            if let Some(layer) = layers.iter().find(|l| l["name"] == name.as_str()) {
                stack.extend(inbound_names(&layer["inbound_nodes"]));
            }
        }
        let (layers, left): (Vec<Value>, Vec<Value>) = layers
            .into_iter()
            .partition(|l| l["name"].as_str().is_some_and(|n| kept.contains(n)));
        let weighted: Vec<&str> = left
            .iter()
            .filter(|l| WEIGHTLESS.iter().all(|c| l["class_name"] != *c))
            .filter_map(|l| l["name"].as_str())
            .collect();
        if !weighted.is_empty() {
            return Err(owner.err(format!(
                "its image encoder {} has weights past the pyramid levels it reads ({}): Keras counts them in the totals and in no row, which archbudget does not read from JSON alone; count it from its .keras archive (model.save('model.keras'))",
                self.args.class,
                weighted.join(", ")
            )));
        }
        Ok(serde_json::json!({
            "class_name": "Functional",
            "config": {
                "name": name,
                "trainable": config.get("trainable").cloned().unwrap_or(Value::Bool(true)),
                "layers": layers,
                "input_layers": config["input_layers"].clone(),
                "output_layers": Value::Object(outputs),
            }
        }))
    }
}

/// Layer classes without weights: left past the pyramid, they change no count.
const WEIGHTLESS: &[&str] = &["Activation", "ReLU", "Add", "Concatenate", "Dropout"];

/// The layer names of the `keras_history` references in `inbound_nodes`.
fn inbound_names(value: &Value) -> Vec<String> {
    match value {
        Value::Object(map) => match map.get("keras_history") {
            Some(history) => history[0]
                .as_str()
                .map(str::to_string)
                .into_iter()
                .collect(),
            None => map.values().flat_map(inbound_names).collect(),
        },
        Value::Array(items) => items.iter().flat_map(inbound_names).collect(),
        _ => Vec::new(),
    }
}
