//! KerasHub vision models: a backbone's JSON is its constructor's arguments
//! (`{"class_name": "ResNetBackbone", "config": {...}, "registered_name":
//! "keras_hub>ResNetBackbone"}`), and the constructor builds a functional model from them.
//!
//! Each family here writes the layer graph its constructor builds (the same layer
//! classes, configs and names) as a Keras functional JSON, which the Keras reader then
//! reads like any other: counts, rows, FLOPs and memory come from the Keras layer rules,
//! with nothing counted here. Task models (ImageClassifier) wrap the translated backbone
//! as a nested model with their head; preprocessors hold no weights.
mod basnet;
mod blocks;
mod cspnet;
mod deeplab_v3;
mod densenet;
mod efficientnet;
mod graph;
mod hgnetv2;
mod mobilenet;
mod pyramid;
mod resnet;
mod retinanet;
mod retinanet_detector;
mod task;
mod vgg;
mod xception;

pub(crate) use graph::map_graph_order;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The functional JSON of a KerasHub vision model; None when `value` is not one (another
/// reader's class, or not KerasHub at all).
pub fn read(value: &Value, location: &str) -> Option<Result<Value>> {
    let class = value
        .get("registered_name")?
        .as_str()?
        .strip_prefix("keras_hub>")?;
    if let Some(build) = backbone(class) {
        return Some(Args::of(value, class, location).and_then(|args| build(&args)));
    }
    if class == DETECTOR {
        return Some(retinanet_detector::translate(value, class, location));
    }
    task::head(class).map(|head| task::translate(value, class, head, location))
}

/// Whether `value` is a KerasHub vision model this module translates (a user's functional
/// model may call one as a layer).
pub fn handles(value: &Value) -> bool {
    value
        .get("registered_name")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("keras_hub>"))
        .is_some_and(|class| {
            backbone(class).is_some() || class == DETECTOR || task::head(class).is_some()
        })
}

/// The object detector translated here (its heads are shared layers).
const DETECTOR: &str = "RetinaNetObjectDetector";

/// A backbone family's translation: its arguments to the functional JSON.
type Build = fn(&Args) -> Result<Value>;

fn backbone(class: &str) -> Option<Build> {
    Some(match class {
        "ResNetBackbone" => resnet::build,
        "VGGBackbone" => vgg::build,
        "DenseNetBackbone" => densenet::build,
        "EfficientNetBackbone" => efficientnet::build,
        "MobileNetBackbone" => mobilenet::build,
        "XceptionBackbone" => xception::build,
        "CSPNetBackbone" => cspnet::build,
        "HGNetV2Backbone" => hgnetv2::build,
        "DeepLabV3Backbone" => deeplab_v3::build,
        "RetinaNetBackbone" => retinanet::build,
        "BASNetBackbone" => basnet::build,
        _ => return None,
    })
}

/// A KerasHub model's constructor arguments, read with errors that name the model and key.
pub struct Args<'v> {
    pub class: &'v str,
    pub name: String,
    config: &'v Map<String, Value>,
    here: String,
}

impl<'v> Args<'v> {
    fn of(value: &'v Value, class: &'v str, location: &str) -> Result<Args<'v>> {
        let config = value
            .get("config")
            .and_then(Value::as_object)
            .ok_or_else(|| Error::invalid(location, format!("{class} has no 'config' object")))?;
        let name = config
            .get("name")
            .and_then(Value::as_str)
            .map_or_else(|| snake_case(class), str::to_string);
        Ok(Args {
            class,
            here: format!("{location}: {class} '{name}'"),
            name,
            config,
        })
    }

    pub fn err(&self, message: impl Into<String>) -> Error {
        Error::invalid(&self.here, message)
    }

    pub fn get(&self, key: &str) -> Option<&'v Value> {
        self.config.get(key).filter(|v| !v.is_null())
    }

    fn required(&self, key: &str) -> Result<&'v Value> {
        self.get(key).ok_or_else(|| {
            self.err(format!(
                "'{key}' is missing (a constructor argument of {})",
                self.class
            ))
        })
    }

    fn as_positive(&self, key: &str, v: &Value) -> Result<u64> {
        v.as_u64()
            .filter(|&n| n > 0)
            .ok_or_else(|| self.err(format!("'{key}' must hold positive integers, got {v}")))
    }

    pub fn int(&self, key: &str) -> Result<u64> {
        self.as_positive(key, self.required(key)?)
    }

    pub fn int_or(&self, key: &str, default: u64) -> Result<u64> {
        self.get(key)
            .map_or(Ok(default), |v| self.as_positive(key, v))
    }

    pub fn ints(&self, key: &str) -> Result<Vec<u64>> {
        let v = self.required(key)?;
        v.as_array()
            .ok_or_else(|| self.err(format!("'{key}' must be a list, got {v}")))?
            .iter()
            .map(|x| self.as_positive(key, x))
            .collect()
    }

    pub fn list(&self, key: &str) -> Result<&'v Vec<Value>> {
        let v = self.required(key)?;
        v.as_array()
            .ok_or_else(|| self.err(format!("'{key}' must be a list, got {v}")))
    }

    pub fn float_or(&self, key: &str, default: f64) -> Result<f64> {
        self.get(key).map_or(Ok(default), |v| {
            v.as_f64()
                .ok_or_else(|| self.err(format!("'{key}' must be a number, got {v}")))
        })
    }

    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool> {
        self.get(key).map_or(Ok(default), |v| {
            v.as_bool()
                .ok_or_else(|| self.err(format!("'{key}' must be true or false, got {v}")))
        })
    }

    pub fn str_or(&self, key: &str, default: &'v str) -> Result<&'v str> {
        self.get(key).map_or(Ok(default), |v| {
            v.as_str()
                .ok_or_else(|| self.err(format!("'{key}' must be a string, got {v}")))
        })
    }

    /// `image_shape` without the batch axis; KerasHub's default is `(None, None, 3)`.
    pub fn image_shape(&self) -> Result<Vec<Option<u64>>> {
        self.image_shape_at("image_shape")
    }

    /// The image shape under `key` (EfficientNet names it `input_shape`).
    pub fn image_shape_at(&self, key: &str) -> Result<Vec<Option<u64>>> {
        let Some(v) = self.get(key) else {
            return Ok(vec![None, None, Some(3)]);
        };
        let dims = v.as_array().filter(|d| d.len() == 3).ok_or_else(|| {
            self.err(format!(
                "'image_shape' must be [height, width, channels], got {v}"
            ))
        })?;
        dims.iter()
            .map(|d| match d {
                Value::Null => Ok(None),
                _ => self.as_positive("image_shape", d).map(Some),
            })
            .collect()
    }

    /// `data_format` (None: Keras's default, channels_last).
    pub fn channels_first(&self) -> Result<bool> {
        match self.str_or("data_format", "channels_last")? {
            "channels_last" => Ok(false),
            "channels_first" => Ok(true),
            other => Err(self.err(format!(
                "'data_format' must be channels_last or channels_first, got '{other}'"
            ))),
        }
    }

    /// The model config keys a translation keeps (`trainable: false` freezes it).
    pub fn kept(&self) -> Map<String, Value> {
        self.config
            .iter()
            .filter(|(k, _)| k.as_str() == "trainable")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// Keras's default model name from its class (`ResNetBackbone` -> `res_net_backbone`).
fn snake_case(class: &str) -> String {
    let mut out = String::with_capacity(class.len() + 4);
    let chars: Vec<char> = class.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let after_lower = i > 0 && chars[i - 1].is_lowercase();
        let before_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
        let upper_run_ends = i > 0 && chars[i - 1].is_uppercase() && before_lower;
        if c.is_uppercase() && (after_lower || upper_run_ends) {
            out.push('_');
        }
        out.extend(c.to_lowercase());
    }
    out
}
