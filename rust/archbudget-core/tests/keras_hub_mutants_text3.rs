//! KerasHub models unlike the hub-text3 fixtures (tests/data/make_keras_hub_mutants_text3.py:
//! each small PARSeq backbone of keras_hub_text3.json.gz with one constructor argument
//! changed, its own or its serialized image encoder's, each also in its PARSeqCausalLM,
//! built by keras-hub 0.32; and BLIP2's): every total and every row exact; memory, which
//! PARSeq does not model, refused in one line naming the class and what memory covers for
//! each PARSeq variant (BLIP2's variants get figures, keras_hub_blip2_twin.rs).
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

#[test]
fn every_parseq_variant_names_why_it_has_no_memory() {
    let models = models();
    let parseq: Vec<&Value> = models
        .iter()
        .filter(|m| !m["model_json"].to_string().contains("keras_hub>BLIP2"))
        .collect();
    assert!(parseq.len() >= 60, "{} PARSeq variants", parseq.len());
    common::assert_memory_refused_naming_coverage(parseq);
}
