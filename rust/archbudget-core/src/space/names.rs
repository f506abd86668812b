//! The names a space may use: each family's parameters (mlp, cnn, lstm as
//! `gpu_memory.py` builds them; any config.json key for hf; `<layer>.<key>` of the
//! template for keras) and the run settings, checked once when the space is read.
use serde_json::Value;

use super::{space_err, FamilyKind, Space, RUN_KEYS};
use crate::error::Result;

const MLP: [&str; 4] = ["input_dim", "depth", "width", "classes"];
const CNN: [&str; 7] = [
    "image",
    "channels",
    "stages",
    "convs",
    "filters",
    "batchnorm",
    "classes",
];
const LSTM: [&str; 6] = ["vocab", "embed", "hidden", "layers", "seq", "classes"];

pub(super) fn family_params(kind: FamilyKind) -> &'static [&'static str] {
    match kind {
        FamilyKind::Mlp => &MLP,
        FamilyKind::Cnn => &CNN,
        FamilyKind::Lstm => &LSTM,
        FamilyKind::Hf | FamilyKind::Keras => &[],
    }
}

/// Every name of the space must mean something to its family, and every parameter a
/// family needs must be given.
pub fn check_names(space: &Space) -> Result<()> {
    let given = |key: &str| space.slot(key).is_some();
    if space.family != FamilyKind::Hf && (given("lora_rank") || given("quantize")) {
        return Err(space_err(
            &space.location,
            "lora_rank and quantize apply to the hf family only (peft and the quantizers wrap transformers' linears)",
        ));
    }
    if !given("lora_rank") && (given("lora_targets") || given("lora_dropout")) {
        return Err(space_err(
            &space.location,
            "lora_targets and lora_dropout need lora_rank in [run]",
        ));
    }
    let names = space
        .axes
        .iter()
        .map(|a| a.name.as_str())
        .chain(space.fixed.iter().map(|(n, _)| n.as_str()));
    match space.family {
        FamilyKind::Mlp | FamilyKind::Cnn | FamilyKind::Lstm => {
            let params = family_params(space.family);
            for name in names {
                if !params.contains(&name) && !RUN_KEYS.contains(&name) {
                    return Err(space_err(
                        &space.location,
                        format!(
                            "'{name}' is not a parameter of this family (expected {})",
                            params.join(", ")
                        ),
                    ));
                }
            }
            for p in params {
                if space.slot(p).is_none() {
                    return Err(space_err(
                        &space.location,
                        format!("the family needs '{p}' in [fixed] or [axes]"),
                    ));
                }
            }
        }
        FamilyKind::Hf => {
            if space.slot("model_type").is_none() {
                return Err(space_err(
                    &space.location,
                    "the hf family needs 'model_type' in [fixed]",
                ));
            }
        }
        FamilyKind::Keras => {
            let layers = template_layer_names(space);
            for name in names.filter(|n| !RUN_KEYS.contains(n)) {
                let found = name.split_once('.').is_some_and(|(layer, key)| {
                    !layer.is_empty() && !key.is_empty() && layers.iter().any(|l| l == layer)
                });
                if !found {
                    return Err(space_err(
                        &space.location,
                        format!("'{name}' must be <layer name>.<config key> of a layer of the template (layers: {})", layers.iter().filter(|l| !l.is_empty()).cloned().collect::<Vec<_>>().join(", ")),
                    ));
                }
            }
        }
    }
    Ok(())
}

pub(super) fn template_layer_names(space: &Space) -> Vec<String> {
    space
        .template
        .as_ref()
        .and_then(|t| t.pointer("/config/layers"))
        .and_then(Value::as_array)
        .map(|layers| {
            // One entry per layer (empty when unnamed), so that positions index `layers`.
            layers
                .iter()
                .map(|l| {
                    l.pointer("/config/name")
                        .or_else(|| l.get("name"))
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string()
                })
                .collect()
        })
        .unwrap_or_default()
}
