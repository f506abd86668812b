//! KerasHub D-FINE backbones unlike the fixtures (tests/data/make_keras_hub_mutants_det.py:
//! each backbone of keras_hub_det.json.gz with one constructor argument changed, built by
//! keras-hub 0.32 from its constructor): every total and row exact; `memory` names why it
//! gives no figure (no transformers twin of D-FINE is modelled) in one line for each.
mod common;

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

#[test]
fn memory_names_why_it_gives_no_figure() {
    let data = data();
    common::assert_memory_refused_naming_coverage(data["models"].as_array().unwrap());
}
