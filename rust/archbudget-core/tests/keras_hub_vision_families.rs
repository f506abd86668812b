//! KerasHub vision families read from their constructor arguments, built by the real
//! keras-hub (tests/data/make_keras_hub_vision_families.py): every model read from its
//! `model.to_json()`, totals and every row of `model.summary()` exact; the CNNs'
//! memory comes from the Keras layer rules of their translated functional graph.
mod common;

use archbudget_core::formats;
use archbudget_core::memory::RunSettings;
use serde_json::{json, Value};

fn data() -> Value {
    common::fixture("keras_hub_vision_families.json.gz")
}

#[test]
fn every_model_matches_keras() {
    let data = data();
    assert!(data["meta"]["keras_hub"].as_str().is_some());
    let models = data["models"].as_array().unwrap();
    common::assert_each_reads_as_keras(models);
}

/// The presets' `params` metadata is timm's count: the backbone's trainable weights
/// (BatchNormalization's moving statistics are buffers there) and a 1000-class head.
#[test]
fn cspnet_presets_equal_their_metadata() {
    let data = data();
    let presets: Vec<&Value> = data["models"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m.get("preset_params").is_some())
        .collect();
    assert_eq!(presets.len(), 4);
    for m in presets {
        let name = m["name"].as_str().unwrap();
        assert_eq!(m["trainable_with_head"], m["preset_params"], "{name}");
        let text = serde_json::to_vec(&m["model_json"]).unwrap();
        let s = formats::summary(&text, name, None).unwrap();
        let channels = match &s.layers.last().unwrap().output_shape {
            Some(archbudget_core::summary::OutputShape::Single(shape)) => {
                shape.last().copied().flatten().unwrap()
            }
            other => panic!("{name}: {other:?}"),
        };
        let head = channels * 1000 + 1000;
        assert_eq!(
            s.trainable_params + head,
            m["preset_params"].as_u64().unwrap(),
            "{name}"
        );
    }
}

/// Memory runs the translated graph: PyTorch's parameters are Keras's trainable ones;
/// its buffers are BatchNormalization's moving statistics (Keras's non-trainable
/// weights) and one `num_batches_tracked` element per BatchNorm.
#[test]
fn cspnet_memory_comes_from_the_keras_layer_rules() {
    let data = data();
    for m in data["models"].as_array().unwrap() {
        let name = m["name"].as_str().unwrap();
        let text = serde_json::to_vec(&m["model_json"]).unwrap();
        // an image_shape of (None, None, 3) takes its side from --seq
        let report = formats::memory(&text, name, None, &RunSettings::default(), Some(64))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let trainable = m["trainable_params"].as_u64().unwrap();
        assert_eq!(report.params, trainable, "{name}");
        assert!(
            report.flops_fwd > 0 && report.peak_bytes > 4 * trainable,
            "{name}"
        );
        if m["kind"] == "backbone" {
            let batch_norms = m["layers"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|l| l["class_name"] == "BatchNormalization")
                .count() as u64;
            let moving = m["non_trainable_params"].as_u64().unwrap();
            assert_eq!(report.buffers, moving + batch_norms, "{name}");
        }
    }
}

#[test]
fn bad_cspnet_arguments_name_the_class_and_key() {
    let cspnet = |config: Value| {
        let mut args = json!({"name": "csp", "stem_filters": 8, "stem_kernel_size": 3,
            "stem_strides": 2, "stackwise_depth": [1], "stackwise_strides": [2],
            "stackwise_num_filters": [16], "block_type": "dark_block", "stage_type": "dark",
            "image_shape": [32, 32, 3]});
        for (k, v) in config.as_object().unwrap() {
            args[k] = v.clone();
        }
        json!({"class_name": "CSPNetBackbone", "registered_name": "keras_hub>CSPNetBackbone",
               "config": args})
    };
    for (value, key) in [
        (cspnet(json!({"stage_type": null})), "'stage_type'"),
        (cspnet(json!({"block_type": "res_block"})), "'block_type'"),
        (cspnet(json!({"stem_strides": 3})), "'stem_strides'"),
        (cspnet(json!({"bottle_ratio": "half"})), "'bottle_ratio'"),
        (
            cspnet(json!({"stackwise_num_filters": []})),
            "'stackwise_num_filters'",
        ),
        (cspnet(json!({"output_strides": 2})), "'output_strides'"),
        (cspnet(json!({"stem_pooling": "max"})), "'stem_pooling'"),
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
