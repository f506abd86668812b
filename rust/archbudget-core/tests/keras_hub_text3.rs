//! The KerasHub text families no earlier fixture reads, built by the real keras-hub
//! (tests/data/make_keras_hub_text3.py): PARSeq (a ViT image encoder, the permuted decoder,
//! its head) with PARSeqCausalLM, BLIP2 (vision encoder, Q-Former, an OPT language model
//! with BLIP2CausalLM or a Flan-T5 one with BLIP2Seq2SeqLM), each read from its `model.to_json()` with totals and
//! every row of `model.summary()` exact, the released sizes equal to keras-hub's preset
//! metadata (memory: keras_hub_parseq_memory.rs and keras_hub_blip2_twin.rs); the errors of
//! bad constructor arguments.
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

#[test]
fn blip2_bad_parts_name_the_class_and_key() {
    let models = models();
    let config = &models.iter().find(|m| m["name"] == "BLIP2_opt").unwrap()["model_json"]["config"];
    let mut wide_vision = config["qformer"].clone();
    wide_vision["config"]["vision_dim"] = json!(24);
    let mut queries = config["language_model"].clone();
    queries["config"]["num_query_tokens"] = json!(5);
    for (edit, key) in [
        (json!({"qformer": wide_vision}), "vision_dim"),
        (json!({"language_model": queries}), "'num_query_tokens'"),
        (json!({"qformer": null}), "'qformer'"),
        (
            json!({"language_model": {"class_name": "GPT2Backbone", "config": {}}}),
            "'language_model'",
        ),
    ] {
        let err = formats::summary(&edited("BLIP2_opt", edit.clone()), "m.json", None)
            .unwrap_err()
            .to_string();
        assert!(err.contains(key) && err.contains("m.json"), "{edit}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

/// A text-only BLIP2 (no vision encoder) is left to the `.keras` archive; a task on the
/// other language model is refused naming the one it needs.
#[test]
fn blip2_text_only_and_mismatched_tasks_are_refused_in_one_line() {
    let err = formats::summary(
        &edited("BLIP2_opt", json!({"vision_encoder": null})),
        "m.json",
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("'BLIP2Backbone' is not supported from its JSON alone")
            && err.contains(".keras archive"),
        "{err}"
    );
    let models = models();
    let opt = &models.iter().find(|m| m["name"] == "BLIP2_opt").unwrap()["model_json"];
    let mut task = models
        .iter()
        .find(|m| m["name"] == "BLIP2_flan_t5BLIP2Seq2SeqLM")
        .unwrap()["model_json"]
        .clone();
    task["config"]["backbone"] = opt.clone();
    let err = formats::summary(&serde_json::to_vec(&task).unwrap(), "m.json", None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("BLIP2Seq2SeqLM") && err.contains("BLIP2FlanT5"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}
