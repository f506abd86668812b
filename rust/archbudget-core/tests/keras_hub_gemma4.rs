//! Gemma 4 (Gemma4Backbone with its text model and vision and audio encoders,
//! Gemma4CausalLM, Gemma4VisionEncoder alone), built by the real keras-hub
//! (tests/data/make_keras_hub_gemma4.py) with each constructor option that changes a weight
//! or a row, read from its `model.to_json()` with totals and every row of
//! `model.summary()` exact; the errors of bad constructor arguments. Memory (through the
//! transformers twin `gemma4_text`) is checked in keras_hub_gemma4_memory.rs.
mod common;

use archbudget_core::formats;
use serde_json::{json, Value};

fn models() -> Vec<Value> {
    common::fixture("keras_hub_gemma4.json.gz")["models"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn every_model_matches_keras() {
    common::assert_each_reads_as_keras(&models());
}

/// The first fixture backbone named `name`, its config changed by `edit`.
fn edited(name: &str, edit: Value) -> Vec<u8> {
    let mut model = models().into_iter().find(|m| m["name"] == name).unwrap()["model_json"].clone();
    for (k, v) in edit.as_object().unwrap() {
        model["config"][k] = v.clone();
    }
    serde_json::to_vec(&model).unwrap()
}

#[test]
fn bad_arguments_name_the_class_and_key() {
    for (edit, key) in [
        (json!({"num_kv_shared_layers": 5}), "'num_kv_shared_layers'"),
        (json!({"layer_types": ["full_attention"]}), "'layer_types'"),
        (json!({"layer_types": [1, 2, 3, 4]}), "'layer_types'"),
        (json!({"enable_moe_block": true}), "'num_experts'"),
        (json!({"global_head_dim": 0}), "'global_head_dim'"),
        (
            json!({"hidden_size_per_layer_input": -1}),
            "'hidden_size_per_layer_input'",
        ),
        (json!({"is_embedding_model": true}), "'embedding_dim'"),
        (
            json!({"use_double_wide_mlp": "yes"}),
            "'use_double_wide_mlp'",
        ),
    ] {
        let err = match formats::summary(&edited("Gemma4", edit.clone()), "m.json", None) {
            Ok(_) => panic!("{edit} was read"),
            Err(e) => e.to_string(),
        };
        assert!(
            err.contains("Gemma4Backbone") && err.contains(key) && err.contains("m.json"),
            "{edit}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

/// An encoder of another class is named with the key that holds it.
#[test]
fn encoders_of_another_class_are_named() {
    for key in ["vision_encoder", "audio_encoder"] {
        let edit = json!({key: {"registered_name": "keras_hub>Gemma3VisionEncoder", "config": {}}});
        let err = formats::summary(&edited("Gemma4", edit), "m.json", None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("'{key}'")) && err.contains("Gemma4") && err.contains("m.json"),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

/// Bad arguments of the nested audio encoder name its class and key.
#[test]
fn bad_audio_encoder_arguments_name_the_key() {
    let model = models()
        .into_iter()
        .find(|m| m["name"] == "Gemma4_audio")
        .unwrap()["model_json"]
        .clone();
    for (key, value) in [
        ("sscp_conv_channels", json!([4])),
        ("sscp_kernel_sizes", json!([[3, 3], [3]])),
        ("sscp_kernel_sizes", json!([[3, 40], [3, 3]])),
        ("num_heads", json!(3)),
    ] {
        let mut model = model.clone();
        model["config"]["audio_encoder"]["config"][key] = value.clone();
        let err = formats::summary(&serde_json::to_vec(&model).unwrap(), "m.json", None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("Gemma4AudioEncoder") && err.contains(key) && err.contains("m.json"),
            "{key}={value}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}
