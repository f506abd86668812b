//! More KerasHub text families built by the real keras-hub
//! (tests/data/make_keras_hub_more.py): QwenMoe, Qwen3Moe, SmolLM3, GptOss, Falcon and
//! XLMRoberta backbones and task models, small and preset-sized, each read from its
//! `model.to_json()` with totals and every row of `model.summary()` exact; then the
//! errors of bad constructor arguments.
mod common;

use archbudget_core::formats;
use serde_json::{json, Value};

#[test]
fn every_model_matches_keras() {
    let data = common::fixture("keras_hub_more.json.gz");
    let models = data["models"].as_array().unwrap();
    common::assert_each_reads_as_keras(models);
}

/// The first fixture model named `name`, its config changed by `edit`.
fn edited(name: &str, edit: Value) -> Vec<u8> {
    let data = common::fixture("keras_hub_more.json.gz");
    common::edited(data["models"].as_array().unwrap(), name, edit)
}

#[test]
fn bad_arguments_name_the_class_and_key() {
    for (name, edit, class, key) in [
        (
            "QwenMoe",
            json!({"mlp_only_layers": "all"}),
            "QwenMoeBackbone",
            "'mlp_only_layers'",
        ),
        (
            "Qwen3Moe",
            json!({"num_experts": -4}),
            "Qwen3MoeBackbone",
            "'num_experts'",
        ),
        (
            "Qwen3Moe",
            json!({"moe_intermediate_dim": null}),
            "Qwen3MoeBackbone",
            "'moe_intermediate_dim'",
        ),
        (
            "Xception",
            json!({"stackwise_pooling": [true]}),
            "XceptionBackbone",
            "'stackwise_pooling'",
        ),
        (
            "Xception",
            json!({"stackwise_conv_filters": [[4, 8], 16, [16], [32]]}),
            "XceptionBackbone",
            "'stackwise_conv_filters'",
        ),
    ] {
        let err = formats::summary(&edited(name, edit.clone()), "m.json", None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(class) && err.contains(key) && err.contains("m.json"),
            "{edit}: {err}"
        );
    }
}
