//! KerasHub families keras-hub 0.32 added, built by the real keras-hub
//! (tests/data/make_keras_hub_new.py): Qwen3_5 and Qwen3_5Moe backbones and CausalLMs,
//! MetaCLIP2 backbone and encoders, DINOV3Backbone, each read from its `model.to_json()` with totals and every row of `model.summary()`
//! exact; memory through the transformers twin; the errors of bad constructor arguments.
mod common;

use archbudget_core::formats;
use archbudget_core::memory::RunSettings;
use serde_json::{json, Value};

fn models() -> Vec<Value> {
    common::fixture("keras_hub_new.json.gz")["models"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn every_model_matches_keras() {
    let models = models();
    common::assert_each_reads_as_keras(&models);
}

#[test]
fn every_model_has_memory() {
    for m in models() {
        let name = m["name"].as_str().unwrap();
        let text = serde_json::to_vec(&m["model_json"]).unwrap();
        let r = formats::memory(&text, name, None, &RunSettings::default(), Some(16))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(r.peak_bytes > 0 && r.flops_fwd > 0, "{name}");
    }
}

/// The first fixture model named `name`, its config changed by `edit` (null removes).
fn edited(name: &str, edit: Value) -> Vec<u8> {
    common::edited(&models(), name, edit)
}

#[test]
fn bad_arguments_name_the_class_and_key() {
    for (name, edit, class, key) in [
        (
            "Qwen3_5",
            json!({"layer_types": ["full_attention"]}),
            "Qwen3_5Backbone",
            "'layer_types'",
        ),
        (
            "Qwen3_5",
            json!({"layer_types": ["full_attention", "sliding", "full_attention", "full_attention"]}),
            "Qwen3_5Backbone",
            "'layer_types'",
        ),
        (
            "Qwen3_5",
            json!({"head_dim": null}),
            "Qwen3_5Backbone",
            "'head_dim'",
        ),
        (
            "Qwen3_5Moe",
            json!({"num_experts": 0}),
            "Qwen3_5MoeBackbone",
            "'num_experts'",
        ),
        (
            "MetaCLIP2",
            json!({"text_encoder": {"registered_name": "keras_hub>CLIPTextEncoder"}}),
            "MetaCLIP2Backbone",
            "'text_encoder'",
        ),
        (
            "MetaCLIP2TextEncoder",
            json!({"intermediate_activation": "relu"}),
            "MetaCLIP2TextEncoder",
            "'intermediate_activation'",
        ),
        (
            "Qwen3_5",
            json!({"vision_encoder": {"class_name": "Qwen3_5VisionEncoder"}}),
            "Qwen3_5Backbone",
            "vision_encoder",
        ),
        (
            "DINOV3",
            json!({"image_shape": [2, 16, 3]}),
            "DINOV3Backbone",
            "image_shape",
        ),
        (
            "DINOV3",
            json!({"use_gated_mlp": "yes"}),
            "DINOV3Backbone",
            "'use_gated_mlp'",
        ),
    ] {
        let e = formats::summary(&edited(name, edit), "m.json", None)
            .err()
            .unwrap_or_else(|| panic!("{name}: no error"))
            .to_string();
        assert!(!e.contains('\n'), "{e}");
        for part in ["m.json", class, key] {
            assert!(e.contains(part), "{part} not in: {e}");
        }
    }
}
