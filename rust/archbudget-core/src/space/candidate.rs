//! One candidate evaluated alone (Python's `Budget.check`): the candidate becomes a space
//! of one point, evaluated by the sweep's own [`Evaluator`], so that a check gives the
//! sweep row of the same model, and so `summary`'s counts and `memory`'s peak and FLOPs.
//!
//! A candidate is
//! - a family dict: `{"family": "mlp", "input_dim": 784, "depth": 3, ...}`, named as a
//!   space's `[fixed]` table (hf: any config.json key; keras: `template` plus
//!   `<layer>.<key>` values); run keys in it (`batch`, `seq`, ...) override the budget's;
//! - a transformers config (it has `model_type`), nested values included;
//! - a Keras model JSON (it has `class_name`);
//! - `{"template": <Keras JSON or path>, "<layer>.<key>": value, ...}`.
use serde_json::{json, Map, Value};

use super::enumerate::{within_budgets, SweepOptions};
use super::family::{Evaluator, Metrics};
use super::{space_err, Space, RUN_KEYS};
use crate::error::{Error, Result};

/// Run settings shared by every check of a budget (`[run]` of a space), names checked.
pub fn run_table(run: &Value, location: &str) -> Result<Map<String, Value>> {
    let table = run
        .as_object()
        .ok_or_else(|| space_err(location, "run settings must be a table"))?;
    for key in table.keys() {
        if !RUN_KEYS.contains(&key.as_str()) {
            return Err(space_err(
                location,
                format!(
                    "unknown run setting '{key}' (expected one of {})",
                    RUN_KEYS.join(", ")
                ),
            ));
        }
    }
    Ok(table.clone())
}

/// The space of one point that is `candidate` under `run`; a template given as a path
/// is read with `template_loader`.
pub fn space_of(
    candidate: Value,
    run: &Map<String, Value>,
    location: &str,
    template_loader: &dyn Fn(&str) -> Result<Vec<u8>>,
) -> Result<Space> {
    let Value::Object(mut fields) = candidate else {
        return Err(space_err(
            location,
            "a candidate must be a JSON object (a family dict, a config.json, a Keras model or a template with values)",
        ));
    };
    // The model's own description, which rides on the space whole (nested values kept);
    // `Evaluator` starts a candidate's config or Keras JSON from it.
    let mut whole = None;
    let family = match fields.remove("family") {
        Some(Value::String(f)) => f,
        Some(other) => {
            return Err(space_err(
                location,
                format!("'family' must be a string, got {other}"),
            ))
        }
        None if fields.contains_key("template") => "keras".into(),
        None if fields.contains_key("model_type") => {
            let model_type = fields["model_type"].clone();
            whole = Some(Value::Object(fields));
            fields = Map::from_iter([("model_type".to_string(), model_type)]);
            "hf".into()
        }
        None if fields.contains_key("class_name") => {
            whole = Some(Value::Object(fields));
            fields = Map::new();
            "keras".into()
        }
        None => {
            return Err(space_err(
                location,
                "a candidate needs 'family', 'model_type' (a config.json), 'class_name' (a Keras model) or 'template'",
            ))
        }
    };
    if family == "hf" && whole.is_none() {
        // A family dict of the hf kind is a config.json plus run keys.
        let run_keys: Map<String, Value> = fields
            .iter()
            .filter(|(k, _)| RUN_KEYS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        fields.retain(|k, _| !RUN_KEYS.contains(&k.as_str()));
        let model_type = fields
            .get("model_type")
            .cloned()
            .ok_or_else(|| space_err(location, "an hf candidate needs 'model_type'"))?;
        whole = Some(Value::Object(std::mem::replace(&mut fields, run_keys)));
        fields.insert("model_type".into(), model_type);
    }
    let template = fields.remove("template");
    // The candidate's own values win over the budget's run settings (an lstm's `seq`
    // is both a family parameter and a run key).
    let mut fixed = run.clone();
    fixed.extend(fields);
    let mut top = json!({"family": family, "fixed": fixed});
    match (template, &whole) {
        (Some(t), _) => top["template"] = t,
        // A Keras model's layers are read from `whole`, set below.
        (None, Some(_)) if family == "keras" => top["template"] = json!({}),
        _ => {}
    }
    let mut space = Space::from_value(&top, location, template_loader)?;
    if whole.is_some() {
        space.template = whole;
    }
    Ok(space)
}

/// The metrics of `candidate` under `run` and whether they are inside the budgets of
/// `limits` (the very test a sweep applies to its rows).
pub fn check(
    candidate: Value,
    run: &Map<String, Value>,
    limits: &SweepOptions,
    location: &str,
    template_loader: &dyn Fn(&str) -> Result<Vec<u8>>,
) -> Result<(bool, Metrics)> {
    let space = space_of(candidate, run, location, template_loader)?;
    // The memory model knows no file: its overflows name the candidate instead.
    let metrics = Evaluator::new(&space).metrics(&[]).map_err(|e| match e {
        Error::Overflow { location: at, what } if at == "memory" => Error::overflow(location, what),
        e => e,
    })?;
    Ok((within_budgets(limits, &metrics), metrics))
}
