//! The KerasHub text families no earlier fixture reads, built by the real keras-hub
//! (tests/data/make_keras_hub_text3.py): PARSeq (a ViT image encoder, the permuted decoder,
//! its head) with PARSeqCausalLM, each read from its `model.to_json()` with totals and
//! every row of `model.summary()` exact, the released size equal to keras-hub's preset
//! metadata; `memory` refused in one line naming what it covers (no transformers twin);
//! the errors of bad constructor arguments.
mod common;

use archbudget_core::formats;
use serde_json::{json, Value};

fn models() -> Vec<Value> {
    common::fixture("keras_hub_text3.json.gz")["models"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn every_model_matches_keras() {
    let models = models();
    common::assert_each_reads_as_keras(&models);
}

#[test]
fn memory_is_refused_in_one_line_naming_what_it_covers() {
    let models = models();
    common::assert_memory_refused_naming_coverage(&models);
}

/// The first fixture model named `name`, its config changed by `edit`.
fn edited(name: &str, edit: Value) -> Vec<u8> {
    common::edited(&models(), name, edit)
}

#[test]
fn bad_arguments_name_the_class_and_key() {
    let encoder = &models()[0]["model_json"]["config"]["image_encoder"];
    let mut narrow = encoder.clone();
    narrow["config"]["hidden_dim"] = json!(8);
    let mut unknown = encoder.clone();
    unknown["registered_name"] = json!("keras_hub>MyImageBackbone");
    for (edit, key) in [
        (json!({"vocabulary_size": 2}), "'vocabulary_size'"),
        (json!({"num_decoder_heads": 32}), "num_decoder_heads"),
        (json!({"decoder_mlp_dim": null}), "'decoder_mlp_dim'"),
        (json!({"image_encoder": null}), "'image_encoder'"),
        (json!({"image_encoder": narrow}), "decoder_hidden_dim"),
        (json!({"image_encoder": unknown}), "MyImageBackbone"),
    ] {
        let err = formats::summary(&edited("PARSeq", edit.clone()), "m.json", None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("PARSeqBackbone") && err.contains(key) && err.contains("m.json"),
            "{edit}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}
