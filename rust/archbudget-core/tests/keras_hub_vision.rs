//! KerasHub vision models (tests/data/make_keras_hub_vision.py, real keras-hub): each
//! read from its constructor arguments, totals and every row equal to Keras's summary of
//! the model keras-hub built; then the errors of bad arguments.
mod common;

use archbudget_core::error::Error;
use archbudget_core::formats::keras;
use serde_json::{json, Value};

#[test]
fn every_keras_hub_vision_model_matches_keras() {
    let data = common::fixture("keras_hub_vision.json.gz");
    assert!(data["meta"]["keras_hub"].as_str().is_some());
    common::assert_all_match(&data);
}

fn read(model: &Value) -> Result<keras::Model, Error> {
    keras::read(&serde_json::to_vec(model).unwrap(), "model.json")
}

fn resnet(config: Value) -> Value {
    let mut args = json!({
        "name": "res_net_backbone", "input_conv_filters": [64], "input_conv_kernel_sizes": [7],
        "stackwise_num_filters": [64, 64], "stackwise_num_blocks": [1, 1],
        "stackwise_num_strides": [1, 2], "block_type": "basic_block", "image_shape": [32, 32, 3]});
    for (k, v) in config.as_object().unwrap() {
        args[k] = v.clone();
    }
    json!({"module": "keras_hub.src.models.resnet.resnet_backbone", "class_name": "ResNetBackbone",
           "config": args, "registered_name": "keras_hub>ResNetBackbone"})
}

#[test]
fn bad_arguments_name_the_model_and_key() {
    for (config, key) in [
        (json!({"block_type": "wide_block"}), "'block_type'"),
        (
            json!({"stackwise_num_blocks": [1]}),
            "'stackwise_num_blocks'",
        ),
        (
            json!({"stackwise_num_filters": [64, -3]}),
            "'stackwise_num_filters'",
        ),
        (json!({"input_conv_filters": null}), "'input_conv_filters'"),
        (json!({"image_shape": [32, 3]}), "'image_shape'"),
    ] {
        let err = read(&resnet(config.clone())).unwrap_err().to_string();
        assert!(
            err.contains("ResNetBackbone 'res_net_backbone'") && err.contains(key),
            "{config}: {err}"
        );
    }
}

#[test]
fn a_classifier_of_another_backbone_is_refused_by_name() {
    let task = json!({"class_name": "ImageClassifier", "registered_name": "keras_hub>ImageClassifier",
        "config": {"name": "clf", "num_classes": 3, "backbone": {
            "class_name": "ViTBackbone", "registered_name": "keras_hub>ViTBackbone", "config": {}}}});
    let err = read(&task).unwrap_err().to_string();
    assert!(
        err.contains("ViTBackbone") && err.contains("ImageClassifier 'clf'"),
        "{err}"
    );
}
