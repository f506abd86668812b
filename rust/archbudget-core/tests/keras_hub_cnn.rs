//! KerasHub convolutional families read from their constructor arguments, built by the
//! real keras-hub (tests/data/make_keras_hub_cnn.py): every model read from its
//! `model.to_json()`, totals and every row of `model.summary()` exact (the shapes of a
//! row of several outputs too); memory comes from the Keras layer rules of the
//! translated functional graph.
mod common;

use archbudget_core::formats;
use archbudget_core::memory::RunSettings;
use archbudget_core::summary::OutputShape;
use serde_json::{json, Value};

fn data() -> Value {
    common::fixture("keras_hub_cnn.json.gz")
}

fn summary(m: &Value) -> archbudget_core::Summary {
    let name = m["name"].as_str().unwrap();
    let text = serde_json::to_vec(&m["model_json"]).unwrap();
    formats::summary(&text, name, None).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn every_model_matches_keras() {
    let data = data();
    assert!(data["meta"]["keras_hub"].as_str().is_some());
    common::assert_each_reads_as_keras(data["models"].as_array().unwrap());
}

/// `describe` records a row of several outputs as `None`; the generator lists their
/// shapes under `output_shapes`.
#[test]
fn rows_of_several_outputs_have_their_shapes() {
    let data = data();
    let mut seen = 0;
    for m in data["models"].as_array().unwrap() {
        let s = summary(m);
        for (row, want) in s.layers.iter().zip(m["layers"].as_array().unwrap()) {
            let Some(shapes) = want.get("output_shapes") else {
                continue;
            };
            let want: Vec<Vec<Option<u64>>> = serde_json::from_value(shapes.clone()).unwrap();
            let got = match &row.output_shape {
                Some(OutputShape::Multi(many)) => many.clone(),
                Some(OutputShape::Single(one)) => vec![one.clone()],
                None => panic!("{}: {} has no shape", m["name"], row.name),
            };
            assert_eq!(got, want, "{} {}", m["name"], row.name);
            seen += 1;
        }
    }
    assert!(seen >= 10, "{seen}");
}

/// The presets' `params` metadata is the backbone's count (built at the preset's size).
#[test]
fn presets_equal_their_metadata() {
    let data = data();
    let presets: Vec<&Value> = data["models"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m.get("preset_params").is_some())
        .collect();
    assert_eq!(presets.len(), 3);
    for m in presets {
        assert_eq!(
            summary(m).total_params,
            m["preset_params"].as_u64().unwrap(),
            "{}",
            m["name"]
        );
    }
}

/// Memory runs the translated graph: PyTorch's parameters are Keras's trainable ones;
/// its buffers are BatchNormalization's moving statistics (Keras's non-trainable
/// weights) and one `num_batches_tracked` element per BatchNorm.
#[test]
fn memory_comes_from_the_keras_layer_rules() {
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
        let moving = m["non_trainable_params"].as_u64().unwrap();
        // each BatchNormalization holds 2 moving statistics per channel
        assert!(report.buffers > moving, "{name}");
    }
}

#[test]
fn bad_hgnetv2_arguments_name_the_class_and_key() {
    let hgnetv2 = |config: Value| {
        let mut args = json!({"name": "hg", "depths": [1], "embedding_size": 8,
            "hidden_sizes": [16], "stem_channels": [3, 8, 8], "hidden_act": "relu",
            "use_learnable_affine_block": false, "stackwise_stage_filters": [[8, 8, 16, 1, 1, 3]],
            "apply_downsample": [false], "use_lightweight_conv_block": [false],
            "image_shape": [32, 32, 3]});
        for (k, v) in config.as_object().unwrap() {
            args[k] = v.clone();
        }
        json!({"class_name": "HGNetV2Backbone", "registered_name": "keras_hub>HGNetV2Backbone",
               "config": args})
    };
    for (value, key) in [
        (hgnetv2(json!({"hidden_act": "swish"})), "'hidden_act'"),
        (hgnetv2(json!({"stem_channels": [3, 8]})), "'stem_channels'"),
        (
            hgnetv2(json!({"stackwise_stage_filters": [[8, 8, 16, 1, 1]]})),
            "'stackwise_stage_filters'",
        ),
        (
            hgnetv2(json!({"apply_downsample": []})),
            "'apply_downsample'",
        ),
        (
            hgnetv2(json!({"out_features": ["stage9"]})),
            "'out_features'",
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
