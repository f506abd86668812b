//! More KerasHub vision families built by the real keras-hub
//! (tests/data/make_keras_hub_vision_more.py): every model read from its
//! `model.to_json()`, totals and every row of `model.summary()` exact; DeiT's memory is
//! transformers' `DeiTModel(add_pooling_layer=False)` (tests/data/hf_vision_more.json,
//! made by make_hf_vision_more.py); every model has memory.
mod common;

use archbudget_core::formats;
use archbudget_core::memory::RunSettings;
use serde_json::{json, Value};

fn model<'a>(data: &'a Value, name: &str) -> &'a Value {
    data["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("{name}"))
}

#[test]
fn every_model_matches_keras() {
    let data = common::fixture("keras_hub_vision_more.json.gz");
    assert!(data["meta"]["keras_hub"].as_str().is_some());
    let models = data["models"].as_array().unwrap();
    common::assert_each_reads_as_keras(models);
}

fn hf_fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/hf_vision_more.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn deit_memory_counts_transformers_deit_without_its_pooler() {
    let data = common::fixture("keras_hub_vision_more.json.gz");
    let twins = hf_fixture()["keras_hub_twins"].as_array().unwrap().clone();
    assert!(twins.len() >= 3);
    let run = RunSettings::default();
    for twin in twins {
        let name = twin["name"].as_str().unwrap();
        let text = serde_json::to_vec(&model(&data, name)["model_json"]).unwrap();
        let report = formats::memory(&text, name, None, &run, None).unwrap();
        assert_eq!(report.params, twin["params"].as_u64().unwrap(), "{name}");
    }
}

#[test]
fn every_model_has_memory() {
    let data = common::fixture("keras_hub_vision_more.json.gz");
    for m in data["models"].as_array().unwrap() {
        let name = m["name"].as_str().unwrap();
        let text = serde_json::to_vec(&m["model_json"]).unwrap();
        let r = formats::memory(&text, name, None, &RunSettings::default(), None)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            r.peak_bytes > r.breakdown.weights && r.flops_fwd > 0,
            "{name}"
        );
    }
}

#[test]
fn bad_arguments_name_the_class_and_key() {
    let deit = |config: Value| {
        let mut args = json!({"name": "deit", "image_shape": [32, 32, 3], "patch_size": 8,
            "num_layers": 1, "num_heads": 2, "hidden_dim": 8, "intermediate_dim": 16});
        for (k, v) in config.as_object().unwrap() {
            args[k] = v.clone();
        }
        json!({"class_name": "DeiTBackbone", "registered_name": "keras_hub>DeiTBackbone",
               "config": args})
    };
    for (value, key) in [
        (deit(json!({"image_shape": [30, 32, 3]})), "30x32"),
        (deit(json!({"num_heads": 3})), "num_heads"),
        (deit(json!({"patch_size": [8]})), "'patch_size'"),
        (
            json!({"class_name": "DINOV2Backbone", "registered_name": "keras_hub>DINOV2Backbone",
                   "config": {"patch_size": 4, "num_layers": 1, "hidden_dim": 8, "num_heads": 2,
                              "intermediate_dim": 16, "image_shape": [16, 24, 3]}}),
            "square",
        ),
    ] {
        let text = serde_json::to_vec(&value).unwrap();
        let err = formats::summary(&text, "model.json", None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("model.json") && err.contains(key) && !err.contains('\n'),
            "{value}: {err}"
        );
    }
}
