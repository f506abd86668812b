//! Search spaces (SPEC.md, `sweep`): a family, fixed parameters, axes and run settings,
//! constraints over names. Every candidate is an index in the mixed-radix product of the
//! axes (the last axis varies fastest), so any index range is a shard of the space.
pub mod cancel;
pub mod candidate;
pub mod constraint;
pub mod enumerate;
pub mod family;
pub mod merge;
mod metrics;
mod names;
mod rank;
mod scan;
pub mod structure;
pub mod symbolic;
pub mod timing;

use serde_json::{Map, Value};

use crate::error::{Error, Result};
pub use cancel::Cancel;
pub use constraint::{Constraint, Slot};
pub use enumerate::{
    count, count_until, sweep, sweep_part, Columns, Counts, Progress, Stats, SweepOptions,
};
pub use merge::{finish, merge_parts};
pub use rank::{pareto_positions, ParetoKey};
pub use timing::ESTIMATE_NAMES;

/// One value of a parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
}

impl Scalar {
    fn from_json(v: &Value, location: &str, key: &str) -> Result<Scalar> {
        match v {
            Value::Bool(b) => Ok(Scalar::Bool(*b)),
            Value::String(s) => Ok(Scalar::Str(s.clone())),
            Value::Number(n) => {
                Ok(match n.as_i64() {
                    Some(i) => Scalar::Int(i),
                    None => Scalar::Float(n.as_f64().ok_or_else(|| {
                        space_err(location, format!("'{key}': {n} is out of range"))
                    })?),
                })
            }
            other => Err(space_err(
                location,
                format!("'{key}' must hold numbers, strings or booleans, got {other}"),
            )),
        }
    }

    pub fn to_json(&self) -> Value {
        match self {
            Scalar::Int(i) => Value::from(*i),
            Scalar::Float(f) => Value::from(*f),
            Scalar::Bool(b) => Value::Bool(*b),
            Scalar::Str(s) => Value::String(s.clone()),
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Scalar::Int(i) => Some(*i),
            Scalar::Float(f) if f.fract() == 0.0 => Some(*f as i64),
            _ => None,
        }
    }
}

/// As the space file writes it: `64`, `0.5`, `true`, `"bf16"`.
impl std::fmt::Display for Scalar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.to_json())
    }
}

pub(crate) fn space_err(location: &str, message: impl Into<String>) -> Error {
    Error::Space {
        location: location.to_string(),
        message: message.into(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FamilyKind {
    Mlp,
    Cnn,
    Lstm,
    Hf,
    Keras,
}

impl FamilyKind {
    fn parse(s: &str, location: &str) -> Result<Self> {
        Ok(match s {
            "mlp" => FamilyKind::Mlp,
            "cnn" => FamilyKind::Cnn,
            "lstm" => FamilyKind::Lstm,
            "hf" => FamilyKind::Hf,
            "keras" => FamilyKind::Keras,
            other => {
                return Err(space_err(
                    location,
                    format!("family '{other}' is not one of mlp, cnn, lstm, hf, keras"),
                ))
            }
        })
    }
}

#[derive(Debug, Clone)]
pub struct Axis {
    pub name: String,
    pub values: Vec<Scalar>,
}

/// The run settings that may be fixed or axes (`[run]`).
pub const RUN_KEYS: [&str; 15] = [
    "batch",
    "seq",
    "precision",
    "optimizer",
    "mode",
    "attn",
    "grad_ckpt",
    "head",
    "new_tokens",
    "gpus",
    "zero_stage",
    "lora_rank",
    "lora_targets",
    "lora_dropout",
    "quantize",
];

/// At most this many values per axis: a larger axis is almost surely a typo in a range,
/// and its values are held in memory.
pub const MAX_AXIS_VALUES: u64 = 1_000_000;

#[derive(Debug, Clone)]
pub struct Space {
    pub location: String,
    pub family: FamilyKind,
    /// The Keras template (keras family).
    pub template: Option<Value>,
    pub fixed: Vec<(String, Scalar)>,
    pub axes: Vec<Axis>,
    pub constraints: Vec<Constraint>,
    /// Number of candidates: the product of the axis lengths.
    pub size: u64,
}

/// A space file's TOML text as its JSON form.
pub fn toml_value(text: &str, location: &str) -> Result<Value> {
    toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        let at = line.map(|l| format!(" (line {l})")).unwrap_or_default();
        Error::parse(location, format!("malformed TOML{at}: {}", e.message()))
    })
}

impl Space {
    /// Parse a space file's TOML text.
    pub fn from_toml(
        text: &str,
        location: &str,
        template_loader: &dyn Fn(&str) -> Result<Vec<u8>>,
    ) -> Result<Space> {
        Space::from_value(&toml_value(text, location)?, location, template_loader)
    }

    /// `space` with `run` settings set in its `[run]` table (replacing what it says),
    /// as the command line's run options do.
    pub fn with_run(
        space: &mut Value,
        run: &serde_json::Map<String, Value>,
        location: &str,
    ) -> Result<()> {
        let top = space
            .as_object_mut()
            .ok_or_else(|| space_err(location, "a space must be a table"))?;
        let table = top
            .entry("run")
            .or_insert_with(|| Value::Object(Default::default()))
            .as_object_mut()
            .ok_or_else(|| space_err(location, "[run] must be a table"))?;
        for (k, v) in run {
            table.insert(k.clone(), v.clone());
        }
        Ok(())
    }

    /// Parse the JSON form of a space file (the TOML converted, or a Python dict).
    /// `template_loader` reads the keras family's template file by its path.
    pub fn from_value(
        value: &Value,
        location: &str,
        template_loader: &dyn Fn(&str) -> Result<Vec<u8>>,
    ) -> Result<Space> {
        let top = value
            .as_object()
            .ok_or_else(|| space_err(location, "a space must be a table"))?;
        for key in top.keys() {
            if !["family", "template", "constraints", "fixed", "axes", "run"]
                .contains(&key.as_str())
            {
                return Err(space_err(location, format!("unknown top-level key '{key}' (expected family, template, constraints, fixed, axes, run)")));
            }
        }
        let family_name = top
            .get("family")
            .and_then(Value::as_str)
            .ok_or_else(|| space_err(location, "missing 'family' (mlp, cnn, lstm, hf or keras)"))?;
        let family = FamilyKind::parse(family_name, location)?;
        let template = match (family, top.get("template")) {
            (FamilyKind::Keras, Some(Value::String(path))) => {
                let bytes = template_loader(path)?;
                Some(crate::formats::keras::parse_bytes(&bytes, path)?)
            }
            (FamilyKind::Keras, Some(Value::Object(inline))) => Some(Value::Object(inline.clone())),
            (FamilyKind::Keras, _) => {
                return Err(space_err(
                    location,
                    "the keras family needs 'template' (the path of a Keras model JSON)",
                ))
            }
            (_, Some(_)) => {
                return Err(space_err(
                    location,
                    "'template' is only for the keras family",
                ))
            }
            (_, None) => None,
        };

        let mut fixed = Vec::new();
        let mut axes = Vec::new();
        let empty = Map::new();
        let table = |key: &str| -> Result<&Map<String, Value>> {
            match top.get(key) {
                None => Ok(&empty),
                Some(Value::Object(m)) => Ok(m),
                Some(other) => Err(space_err(
                    location,
                    format!("'[{key}]' must be a table, got {other}"),
                )),
            }
        };
        for (key, v) in flatten(table("fixed")?) {
            fixed.push((key.clone(), Scalar::from_json(v, location, &key)?));
        }
        for (key, v) in flatten(table("axes")?) {
            axes.push(Axis {
                values: axis_values(v, location, &key)?,
                name: key,
            });
        }
        for (key, v) in table("run")? {
            if !RUN_KEYS.contains(&key.as_str()) {
                return Err(space_err(
                    location,
                    format!(
                        "unknown run setting '{key}' (expected one of {})",
                        RUN_KEYS.join(", ")
                    ),
                ));
            }
            if v.is_array() || is_range(v) {
                axes.push(Axis {
                    name: key.clone(),
                    values: axis_values(v, location, key)?,
                });
            } else {
                fixed.push((key.clone(), Scalar::from_json(v, location, key)?));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for name in axes
            .iter()
            .map(|a| &a.name)
            .chain(fixed.iter().map(|(n, _)| n))
        {
            if !seen.insert(name.clone()) {
                return Err(space_err(location, format!("'{name}' is given twice (as an axis and as a fixed value, or in two tables)")));
            }
        }
        let size = axes
            .iter()
            .try_fold(1u64, |acc, a| acc.checked_mul(a.values.len() as u64))
            .ok_or_else(|| {
                Error::overflow(
                    location,
                    "the number of candidates (the product of the axis lengths)",
                )
            })?;

        let constraints = match top.get("constraints") {
            None => Vec::new(),
            Some(Value::Array(items)) => {
                let partial = Space {
                    location: location.to_string(),
                    family,
                    template: None,
                    fixed: fixed.clone(),
                    axes: axes.clone(),
                    constraints: Vec::new(),
                    size,
                };
                let resolve = |name: &str| partial.slot(name);
                items
                    .iter()
                    .map(|c| {
                        let text = c.as_str().ok_or_else(|| {
                            space_err(location, format!("constraints must be strings, got {c}"))
                        })?;
                        Constraint::parse(text, location, &resolve)
                    })
                    .collect::<Result<_>>()?
            }
            Some(other) => {
                return Err(space_err(
                    location,
                    format!("'constraints' must be a list of strings, got {other}"),
                ))
            }
        };
        let space = Space {
            location: location.to_string(),
            family,
            template,
            fixed,
            axes,
            constraints,
            size,
        };
        names::check_names(&space)?;
        Ok(space)
    }

    /// The axis digits of candidate `index` (last axis fastest).
    pub fn digits(&self, mut index: u64, out: &mut [usize]) {
        for (slot, axis) in out.iter_mut().zip(&self.axes).rev() {
            let n = axis.values.len() as u64;
            *slot = (index % n) as usize;
            index /= n;
        }
    }

    /// Step `digits` to the next candidate (the odometer of `digits`, without divisions).
    pub fn advance(&self, digits: &mut [usize]) {
        for (d, axis) in digits.iter_mut().zip(&self.axes).rev() {
            *d += 1;
            if *d < axis.values.len() {
                return;
            }
            *d = 0;
        }
    }

    pub fn constraints_hold(&self, digits: &[usize]) -> Result<bool> {
        for c in &self.constraints {
            if !c.holds(&|i| &self.axes[i].values[digits[i]])? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Where a named parameter's value lives: an axis or a fixed value.
    pub fn slot(&self, name: &str) -> Option<Slot> {
        self.axes
            .iter()
            .position(|a| a.name == name)
            .map(Slot::Axis)
            .or_else(|| {
                self.fixed
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| Slot::Fixed(v.clone()))
            })
    }
}

/// `[axes.dense_1] units = [...]` and `"dense_1.units" = [...]` both name `dense_1.units`;
/// a range table (`{start, stop, ...}`) is a value, not a nesting level.
fn flatten(table: &Map<String, Value>) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    for (k, v) in table {
        match v {
            Value::Object(inner) if !is_range(v) => {
                out.extend(
                    flatten(inner)
                        .into_iter()
                        .map(|(ik, iv)| (format!("{k}.{ik}"), iv)),
                );
            }
            _ => out.push((k.clone(), v)),
        }
    }
    out
}

fn is_range(v: &Value) -> bool {
    v.as_object()
        .is_some_and(|m| m.contains_key("start") && m.contains_key("stop"))
}

/// A list, `{start, stop, step}` (inclusive) or `{start, stop, factor}` (geometric).
fn axis_values(v: &Value, location: &str, key: &str) -> Result<Vec<Scalar>> {
    let values = match v {
        Value::Array(items) => items
            .iter()
            .map(|x| Scalar::from_json(x, location, key))
            .collect::<Result<Vec<_>>>()?,
        Value::Object(m) if is_range(v) => {
            for k in m.keys() {
                if !["start", "stop", "step", "factor"].contains(&k.as_str()) {
                    return Err(space_err(
                        location,
                        format!(
                            "axis '{key}': unknown range key '{k}' (start, stop, step or factor)"
                        ),
                    ));
                }
            }
            let num = |k: &str| -> Result<Option<f64>> {
                match m.get(k) {
                    None => Ok(None),
                    Some(x) => x.as_f64().map(Some).ok_or_else(|| {
                        space_err(
                            location,
                            format!("axis '{key}': '{k}' must be a number, got {x}"),
                        )
                    }),
                }
            };
            let all_int = ["start", "stop", "step"]
                .iter()
                .all(|k| m.get(*k).is_none_or(|x| x.is_i64() || x.is_u64()));
            let (start, stop) = (num("start")?.unwrap_or(0.0), num("stop")?.unwrap_or(0.0));
            match (num("step")?, num("factor")?) {
                (Some(_), Some(_)) => {
                    return Err(space_err(
                        location,
                        format!("axis '{key}': give step or factor, not both"),
                    ))
                }
                (None, Some(factor)) => {
                    if factor <= 1.0 || start <= 0.0 {
                        return Err(space_err(
                            location,
                            format!(
                                "axis '{key}': a geometric range needs start > 0 and factor > 1"
                            ),
                        ));
                    }
                    let mut out = Vec::new();
                    let mut x = start;
                    while x <= stop * (1.0 + 1e-12) {
                        out.push(if all_int {
                            Scalar::Int(x.round() as i64)
                        } else {
                            Scalar::Float(x)
                        });
                        if out.len() as u64 > MAX_AXIS_VALUES {
                            break;
                        }
                        x *= factor;
                    }
                    out
                }
                (step, None) => {
                    let step = step.unwrap_or(1.0);
                    if step <= 0.0 {
                        return Err(space_err(
                            location,
                            format!("axis '{key}': 'step' must be positive"),
                        ));
                    }
                    let n = ((stop - start) / step + 1e-9).floor() + 1.0;
                    if n.is_nan() || n < 1.0 {
                        return Err(space_err(
                            location,
                            format!("axis '{key}': stop {stop} is below start {start}"),
                        ));
                    }
                    if n > MAX_AXIS_VALUES as f64 {
                        return Err(space_err(
                            location,
                            format!("axis '{key}' has {n:.0} values, more than {MAX_AXIS_VALUES}"),
                        ));
                    }
                    (0..n as u64)
                        .map(|i| {
                            let x = start + i as f64 * step;
                            if all_int {
                                Scalar::Int(x as i64)
                            } else {
                                Scalar::Float(x)
                            }
                        })
                        .collect()
                }
            }
        }
        other => {
            return Err(space_err(
                location,
                format!("axis '{key}' must be a list or a range table, got {other}"),
            ))
        }
    };
    if values.is_empty() {
        return Err(space_err(location, format!("axis '{key}' has no values")));
    }
    if values.len() as u64 > MAX_AXIS_VALUES {
        return Err(space_err(
            location,
            format!("axis '{key}' has more than {MAX_AXIS_VALUES} values"),
        ));
    }
    Ok(values)
}
