//! KerasHub detection families read from their constructor arguments, built by the real
//! keras-hub (tests/data/make_keras_hub_det.py): D-FINE's backbone and object detector,
//! every model read from its `model.to_json()`, totals and every row of `model.summary()`
//! exact; the docstring's configuration is the dfine_nano_coco preset's count.
mod common;

use archbudget_core::formats;
use archbudget_core::memory;
use archbudget_core::summary::OutputShape;
use serde_json::Value;

fn data() -> Value {
    common::fixture("keras_hub_det.json.gz")
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

/// The nested feature extractor's row lists the shapes of its stage outputs.
#[test]
fn the_feature_extractor_row_has_its_output_shapes() {
    let data = data();
    let mut seen = 0;
    for m in data["models"].as_array().unwrap() {
        let s = summary(m);
        for (row, want) in s.layers.iter().zip(m["layers"].as_array().unwrap()) {
            if want["class_name"] != "HGNetV2Backbone" {
                continue;
            }
            let want: Vec<Vec<Option<u64>>> =
                serde_json::from_value(want["output_shapes"].clone()).unwrap();
            let Some(OutputShape::Multi(got)) = &row.output_shape else {
                panic!("{}: {} has no shapes", m["name"], row.name)
            };
            assert_eq!(got, &want, "{}", m["name"]);
            seen += 1;
        }
    }
    assert!(seen >= 5, "{seen}");
}

#[test]
fn the_nano_preset_equals_its_metadata() {
    let data = data();
    let presets: Vec<&Value> = data["models"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m.get("preset_params").is_some())
        .collect();
    assert_eq!(presets.len(), 1);
    for m in presets {
        assert_eq!(
            summary(m).total_params,
            m["preset_params"].as_u64().unwrap(),
            "{}",
            m["name"]
        );
    }
}

fn memory(
    m: &Value,
    mode: memory::Mode,
    seq: u64,
) -> archbudget_core::Result<memory::MemoryReport> {
    let run = memory::RunSettings {
        mode,
        batch: 2,
        ..Default::default()
    };
    let text = serde_json::to_vec(&m["model_json"]).unwrap();
    formats::memory(&text, m["name"].as_str().unwrap(), None, &run, Some(seq))
}

/// Memory of every model, lowered from keras-hub's layers: its parameters are the ones
/// Keras trains (BatchNorm statistics and the frozen scalars are PyTorch buffers), in
/// training and in inference (where the heads of the other decoder layers stay idle).
#[test]
fn memory_holds_the_trainable_weights() {
    let data = data();
    for m in data["models"].as_array().unwrap() {
        let name = m["name"].as_str().unwrap();
        let train = memory(m, memory::Mode::Train, 64).unwrap_or_else(|e| panic!("{name}: {e}"));
        let infer = memory(m, memory::Mode::Infer, 64).unwrap_or_else(|e| panic!("{name}: {e}"));
        let trainable = m["trainable_params"].as_u64().unwrap();
        assert_eq!(
            (train.params, infer.params),
            (trainable, trainable),
            "{name}"
        );
        assert!(train.peak_bytes > infer.peak_bytes, "{name}");
        assert!(train.flops_fwd_bwd > 2 * train.flops_fwd, "{name}");
    }
}

/// An image side the backbone's strides do not halve evenly is refused in one line.
#[test]
fn an_uneven_image_side_is_refused_in_one_line() {
    let data = data();
    let m = &data["models"].as_array().unwrap()[1];
    let err = memory(m, memory::Mode::Train, 24).unwrap_err().to_string();
    assert!(
        err.contains("D-FINE") && err.contains("multiple of 32"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// What D-FINE's reader does not read is refused in one line naming the class and key.
#[test]
fn unread_arguments_are_refused_in_one_line() {
    let data = data();
    let models = data["models"].as_array().unwrap();
    let tiny = models.iter().find(|m| m["name"] == "d_fine_tiny").unwrap();
    let mut resnet = tiny["model_json"].clone();
    resnet["config"]["backbone"]["registered_name"] = "keras_hub>ResNetBackbone".into();
    for (text, words) in [
        (
            common::edited(
                models,
                "d_fine_tiny",
                serde_json::json!({"data_format": "channels_first"}),
            ),
            ["DFineBackbone", "channels_first"],
        ),
        (
            common::edited(
                models,
                "d_fine_tiny",
                serde_json::json!({"encoder_in_channels": [24]}),
            ),
            ["DFineBackbone", "encoder_in_channels"],
        ),
        (
            serde_json::to_vec(&resnet).unwrap(),
            ["DFineBackbone", "HGNetV2Backbone"],
        ),
    ] {
        let err = formats::summary(&text, "d_fine", None)
            .unwrap_err()
            .to_string();
        assert!(words.iter().all(|w| err.contains(w)), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}
