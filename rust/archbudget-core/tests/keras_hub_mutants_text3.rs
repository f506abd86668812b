//! KerasHub models unlike the hub-text3 fixtures (tests/data/make_keras_hub_mutants_text3.py:
//! each small PARSeq backbone of keras_hub_text3.json.gz with one constructor argument
//! changed, its own or its serialized image encoder's, each also in its PARSeqCausalLM,
//! built by keras-hub 0.32): every total and every row exact; BLIP2's memory refused in one
//! line naming the class and what memory covers (PARSeq's memory is
//! keras_hub_parseq_memory.rs's).
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

/// PARSeq's variants have memory (keras_hub_parseq_memory.rs); the others are refused.
#[test]
fn every_blip2_variant_names_why_it_has_no_memory() {
    let models = models();
    let blip2 = models.iter().filter(|m| {
        !m["name"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("parseq")
    });
    common::assert_memory_refused_naming_coverage(blip2);
}
