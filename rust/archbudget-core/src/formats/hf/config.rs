//! Typed reads of config.json keys. A key that is absent or `null` takes the default of
//! transformers' `configuration_<type>.py`; a present key of the wrong JSON type, or a
//! dimension that is not a positive integer, is an error naming the key.
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// More blocks than any real model has; beyond it a summary would not fit in memory.
pub const MAX_LAYERS: u64 = 100_000;

pub struct Cfg<'a> {
    map: &'a Map<String, Value>,
    pub location: &'a str,
    pub model_type: &'a str,
}

impl<'a> Cfg<'a> {
    pub fn new(config: &'a Value, location: &'a str) -> Result<Self> {
        let map = config.as_object().ok_or_else(|| {
            Error::invalid(location, "a transformers config.json must be a JSON object")
        })?;
        let model_type = match map.get("model_type") {
            Some(Value::String(s)) => s.as_str(),
            Some(other) => {
                return Err(Error::invalid(
                    location,
                    format!("key 'model_type' must be a string, got {other}"),
                ))
            }
            None => return Err(Error::invalid(location, "missing key 'model_type'")),
        };
        Ok(Cfg {
            map,
            location,
            model_type,
        })
    }

    /// The value of `key`, `None` when absent or null.
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The key is present with the value `null` (Python `None`).
    pub fn is_null(&self, key: &str) -> bool {
        self.map.get(key).is_some_and(Value::is_null)
    }

    fn bad(&self, key: &str, what: &str, v: &Value) -> Error {
        Error::invalid(
            self.location,
            format!("key '{key}' must be {what}, got {v}"),
        )
    }

    /// A non-negative integer (a count that may be zero).
    pub fn count_opt(&self, key: &str) -> Result<Option<u64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| self.bad(key, "a non-negative integer", v)),
        }
    }

    /// A positive integer, or `None` when absent.
    pub fn dim_opt(&self, key: &str) -> Result<Option<u64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if n > 0 => Ok(Some(n)),
                _ => Err(self.bad(key, "a positive integer", v)),
            },
        }
    }

    /// A positive integer with the type's default.
    pub fn dim(&self, key: &str, default: u64) -> Result<u64> {
        Ok(self.dim_opt(key)?.unwrap_or(default))
    }

    /// The first present key of `keys` (attribute aliases such as gpt2's `hidden_size`).
    pub fn dim_alias(&self, keys: &[&str], default: u64) -> Result<u64> {
        for key in keys {
            if let Some(n) = self.dim_opt(key)? {
                return Ok(n);
            }
        }
        Ok(default)
    }

    /// A layer count: a positive integer no larger than [`MAX_LAYERS`], since the summary
    /// lists every block.
    pub fn layers(&self, keys: &[&str], default: u64) -> Result<u64> {
        let n = self.dim_alias(keys, default)?;
        if n > MAX_LAYERS {
            return Err(self.invalid(format!(
                "key '{}' ({n}) exceeds {MAX_LAYERS} layers",
                keys[0]
            )));
        }
        Ok(n)
    }

    /// The first present key of `keys`, a non-negative integer (`num_experts` may be 0).
    pub fn count_alias(&self, keys: &[&str], default: u64) -> Result<u64> {
        for key in keys {
            if let Some(n) = self.count_opt(key)? {
                return Ok(n);
            }
        }
        Ok(default)
    }

    pub fn count(&self, key: &str, default: u64) -> Result<u64> {
        Ok(self.count_opt(key)?.unwrap_or(default))
    }

    pub fn flag(&self, key: &str, default: bool) -> Result<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(self.bad(key, "true or false", v)),
        }
    }

    pub fn string(&self, key: &str, default: &str) -> Result<String> {
        match self.get(key) {
            None => Ok(default.to_string()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(v) => Err(self.bad(key, "a string", v)),
        }
    }

    /// A list of non-negative integers (qwen2_moe `mlp_only_layers`).
    pub fn count_list(&self, key: &str) -> Result<Vec<u64>> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_u64()
                        .ok_or_else(|| self.bad(key, "a list of non-negative integers", v))
                })
                .collect(),
            Some(v) => Err(self.bad(key, "a list of non-negative integers", v)),
        }
    }

    /// A number (dropout probabilities, rotary factors), also read inside the nested
    /// object `within` (transformers 5's `rope_parameters`) when `key` is not top-level.
    pub fn float(&self, key: &str, within: Option<&str>, default: f64) -> Result<f64> {
        let nested = within
            .and_then(|o| self.get(o))
            .and_then(|o| o.get(key))
            .filter(|v| !v.is_null());
        match self.get(key).or(nested) {
            None => Ok(default),
            Some(v) => v.as_f64().ok_or_else(|| self.bad(key, "a number", v)),
        }
    }

    /// A list of numbers (gemma3n's `activation_sparsity_pattern`), `None` when absent
    /// or null.
    pub fn floats(&self, key: &str) -> Result<Option<Vec<f64>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_f64()
                        .ok_or_else(|| self.bad(key, "a list of numbers", v))
                })
                .collect::<Result<Vec<_>>>()
                .map(Some),
            Some(v) => Err(self.bad(key, "a list of numbers", v)),
        }
    }

    /// A list of strings (`layer_types`), `None` when absent or null.
    pub fn strings(&self, key: &str) -> Result<Option<Vec<&'a str>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .ok_or_else(|| self.bad(key, "a list of strings", v))
                })
                .collect::<Result<Vec<_>>>()
                .map(Some),
            Some(v) => Err(self.bad(key, "a list of strings", v)),
        }
    }

    /// An int or an `[h, w]` pair (vit `image_size`, `patch_size`).
    pub fn dim_pair(&self, key: &str, default: u64) -> Result<(u64, u64)> {
        match self.get(key) {
            None => Ok((default, default)),
            Some(Value::Array(items)) if items.len() == 2 => {
                let one = |v: &Value| match v.as_u64() {
                    Some(n) if n > 0 => Ok(n),
                    _ => Err(self.bad(key, "a positive integer or a pair of them", v)),
                };
                Ok((one(&items[0])?, one(&items[1])?))
            }
            Some(_) => {
                let n = self.dim(key, default)?;
                Ok((n, n))
            }
        }
    }

    /// An error about the combination of keys, e.g. heads that do not divide the width.
    pub fn invalid(&self, message: impl Into<String>) -> Error {
        Error::invalid(self.location, message)
    }

    /// `a` must be a multiple of `b`, as transformers checks when it builds the model.
    pub fn require_divisible(&self, a: (&str, u64), b: (&str, u64)) -> Result<()> {
        if a.1.checked_rem(b.1) != Some(0) {
            return Err(self.invalid(format!(
                "{} ({}) is not a multiple of {} ({})",
                a.0, a.1, b.0, b.1
            )));
        }
        Ok(())
    }
}
