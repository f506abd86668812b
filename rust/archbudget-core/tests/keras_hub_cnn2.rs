//! KerasHub segmentation and detection families read from their constructor arguments,
//! built by the real keras-hub (tests/data/make_keras_hub_cnn2.py): every model read from
//! its `model.to_json()`, totals and every row of `model.summary()` exact (the shapes of a
//! row of several outputs too); memory comes from the Keras layer rules of the translated
//! functional graph.
mod common;

use archbudget_core::formats;
use archbudget_core::memory::RunSettings;
use serde_json::Value;

fn data() -> Value {
    common::fixture("keras_hub_cnn2.json.gz")
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
    assert!(!presets.is_empty());
    for m in presets {
        assert_eq!(
            summary(m).total_params,
            m["preset_params"].as_u64().unwrap(),
            "{}",
            m["name"]
        );
    }
}

/// Memory runs the translated graph: PyTorch's parameters are Keras's trainable ones.
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
    }
}

/// A model whose JSON is refused (a ResNet v2 encoder's `post_bn`: weights past the
/// pyramid, in Keras's totals and in no row) is read from its `.keras` archive's weights
/// file, as a class no reader knows is (its notes say what that count cannot know:
/// trainable flags, the weights no row shows); `memory` refuses it in one line.
#[test]
fn a_refused_model_reads_from_its_archive() {
    let data = data();
    let archives = data["archives"].as_array().unwrap();
    assert!(!archives.is_empty());
    for m in archives {
        let path = format!(
            "{}/../../tests/data/{}",
            env!("CARGO_MANIFEST_DIR"),
            m["archive"].as_str().unwrap()
        );
        let bytes = std::fs::read(&path).unwrap();
        let s = formats::summary(&bytes, "model.keras", None).unwrap();
        assert!(!s.notes.is_empty(), "{}", m["name"]);
        let json = serde_json::to_vec(&m["model_json"]).unwrap();
        let err = formats::summary(&json, "model.json", None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("post_bn") && !err.contains('\n'), "{err}");
        let err = formats::memory(
            &bytes,
            "model.keras",
            None,
            &RunSettings::default(),
            Some(64),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("DeepLabV3Backbone") && !err.contains('\n'),
            "{err}"
        );
    }
}
