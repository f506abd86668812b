//! KerasHub models unlike the hub-text3 fixtures (tests/data/make_keras_hub_mutants_text3.py:
//! each small PARSeq backbone of keras_hub_text3.json.gz with one constructor argument
//! changed, its own or its serialized image encoder's, each also in its PARSeqCausalLM,
//! built by keras-hub 0.32; and BLIP2's): every total and every row exact. Their memory is
//! keras_hub_parseq_memory.rs's and keras_hub_blip2_twin.rs's.
mod common;

use serde_json::Value;

fn models() -> Vec<Value> {
    common::fixture("keras_hub_mutants_text3.json.gz")["models"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn every_variant_matches_keras() {
    let models = models();
    assert!(models.len() >= 60, "{} variants", models.len());
    common::assert_each_reads_as_keras(&models);
}
