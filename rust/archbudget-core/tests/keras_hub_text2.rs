//! The KerasHub text families keras-hub 0.32 added last, built by the real keras-hub
//! (tests/data/make_keras_hub_text2.py): Gemma3n (text model) with Gemma3nCausalLM,
//! T5Gemma and T5Gemma2 (text model) with their Seq2SeqLM, Moonshine with
//! MoonshineAudioToText, RWKV7 with RWKV7CausalLM and VideoPrism's video encoder, each
//! read from its `model.to_json()` with totals and every row of
//! `model.summary()` exact; the errors of bad constructor arguments. `memory` of each is
//! tested with its family: keras_hub_gemma3n.rs, keras_hub_av.rs (Moonshine),
//! keras_hub_t5gemma.rs, keras_hub_rwkv_vp.rs (RWKV7, VideoPrism).
mod common;

use archbudget_core::formats;
use serde_json::{json, Value};

fn models() -> Vec<Value> {
    common::fixture("keras_hub_text2.json.gz")["models"]
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
    for (name, edit, class, key) in [
        (
            "Gemma3n",
            json!({"intermediate_size": [32, 32]}),
            "Gemma3nBackbone",
            "'intermediate_size'",
        ),
        (
            "Gemma3n",
            json!({"intermediate_size": 32}),
            "Gemma3nBackbone",
            "'intermediate_size'",
        ),
        (
            "Gemma3n",
            json!({"laurel_rank": 0}),
            "Gemma3nBackbone",
            "'laurel_rank'",
        ),
        (
            "T5Gemma",
            json!({"decoder_head_dim": null}),
            "T5GemmaBackbone",
            "'decoder_head_dim'",
        ),
        (
            "T5Gemma",
            json!({"attention_bias": "yes"}),
            "T5GemmaBackbone",
            "'attention_bias'",
        ),
        (
            "VideoPrism",
            json!({"image_shape": [16, 16]}),
            "VideoPrismBackbone",
            "'image_shape'",
        ),
        (
            "Moonshine",
            json!({"partial_rotary_factor": 0.05}),
            "MoonshineBackbone",
            "partial_rotary_factor",
        ),
        (
            "RWKV7",
            json!({"head_size": 5}),
            "RWKV7Backbone",
            "head_size",
        ),
    ] {
        let err = formats::summary(&edited(name, edit.clone()), "m.json", None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(class) && err.contains(key) && err.contains("m.json"),
            "{edit}: {err}"
        );
    }
}

/// A Gemma3n with a vision or audio encoder, a T5Gemma2 with a vision encoder and a
/// VideoPrism with a text encoder are left to the `.keras` archive: from the JSON alone
/// the error says so.
#[test]
fn multimodal_models_point_to_the_archive() {
    for (name, edit, class) in [
        (
            "Gemma3n",
            json!({"audio_encoder_config": {"hidden_size": 8}}),
            "Gemma3nBackbone",
        ),
        (
            "Gemma3n",
            json!({"vision_encoder_config": {"name": "v"}}),
            "Gemma3nBackbone",
        ),
        (
            "T5Gemma2",
            json!({"vision_encoder": {"class_name": "Gemma3VisionEncoder"}}),
            "T5Gemma2Backbone",
        ),
        (
            "VideoPrism",
            json!({"num_text_layers": 2, "vocabulary_size": 64}),
            "VideoPrismBackbone",
        ),
    ] {
        let err = formats::summary(&edited(name, edit), "m.json", None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("'{class}' is not supported from its JSON alone"))
                && err.contains(".keras archive"),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}
