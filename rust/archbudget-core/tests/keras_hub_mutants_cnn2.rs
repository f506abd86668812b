//! KerasHub segmentation and detection backbones unlike the fixtures
//! (tests/data/make_keras_hub_mutants_cnn2.py: each DeepLabV3 and RetinaNet backbone of
//! keras_hub_cnn2.json.gz with one constructor argument, or its image encoder, changed,
//! built by keras-hub 0.32 from its constructor): every total and row exact, and `memory`
//! gives a figure for each.
mod common;

use archbudget_core::formats;
use archbudget_core::memory::RunSettings;
use serde_json::Value;

fn data() -> Value {
    common::fixture("keras_hub_mutants_cnn2.json.gz")
}

#[test]
fn every_variant_matches_keras() {
    let data = data();
    let models = data["models"].as_array().unwrap();
    assert!(models.len() >= 30, "{}", models.len());
    common::assert_each_reads_as_keras(models);
}

#[test]
fn memory_gives_a_figure_for_every_variant() {
    let data = data();
    for m in data["models"].as_array().unwrap() {
        let name = m["name"].as_str().unwrap();
        let text = serde_json::to_vec(&m["model_json"]).unwrap();
        let report = formats::memory(&text, name, None, &RunSettings::default(), Some(64))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            report.params,
            m["trainable_params"].as_u64().unwrap(),
            "{name}"
        );
        assert!(report.peak_bytes > 0 && report.flops_fwd > 0, "{name}");
    }
}
