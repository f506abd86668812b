//! Gemma 4 models unlike the fixtures (tests/data/make_keras_hub_mutants_gemma4.py: each
//! keras_hub_gemma4 backbone with one constructor argument changed, built by keras-hub 0.32
//! from its constructor): every total and row exact. Their memory figures (through the
//! transformers twin `gemma4_text`) are checked in keras_hub_gemma4_memory.rs.
mod common;

use serde_json::Value;

fn variants() -> Vec<Value> {
    common::fixture("keras_hub_mutants_gemma4.json.gz")["models"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn every_variant_matches_keras() {
    let models = variants();
    assert!(models.len() >= 20, "{} variants", models.len());
    common::assert_each_reads_as_keras(&models);
}
