//! KerasHub D-FINE backbones unlike the fixtures (tests/data/make_keras_hub_mutants_det.py:
//! each backbone of keras_hub_det.json.gz with one constructor argument changed, built by
//! keras-hub 0.32 from its constructor): every total and row exact; `memory` of each holds
//! the weights Keras trains.
mod common;

use archbudget_core::formats;
use archbudget_core::memory::{Mode, RunSettings};
use serde_json::Value;

fn data() -> Value {
    common::fixture("keras_hub_mutants_det.json.gz")
}

#[test]
fn every_variant_matches_keras() {
    let data = data();
    let models = data["models"].as_array().unwrap();
    assert!(models.len() >= 40, "{}", models.len());
    assert_eq!(data["build_failures"].as_array().unwrap().len(), 0);
    common::assert_each_reads_as_keras(models);
}

/// `memory`'s parameters are the ones Keras trains, in training and in inference.
#[test]
fn memory_holds_the_trainable_weights() {
    let data = data();
    for m in data["models"].as_array().unwrap() {
        let name = m["name"].as_str().unwrap();
        let text = serde_json::to_vec(&m["model_json"]).unwrap();
        for mode in [Mode::Train, Mode::Infer] {
            let run = RunSettings {
                mode,
                batch: 2,
                ..Default::default()
            };
            let r = formats::memory(&text, name, None, &run, Some(64))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(r.params, m["trainable_params"].as_u64().unwrap(), "{name}");
        }
    }
}
