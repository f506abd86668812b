//! More KerasHub text families built by the real keras-hub
//! (tests/data/make_keras_hub_text.py): Bloom, ESM, RoformerV2, XLNet and PaliGemma
//! backbones and
//! task models, small and preset-sized, each read from its `model.to_json()` with totals
//! and every row of `model.summary()` exact; `memory` through the transformers twin
//! where there is one (Bloom at any MLP width, ESM), RoformerV2's and XLNet's own
//! lowerings (keras_hub_roformer.rs checks them); the errors of bad
//! constructor arguments.
mod common;

use archbudget_core::formats;
use archbudget_core::memory::{Mode, RunSettings};
use serde_json::{json, Value};

fn models() -> Vec<Value> {
    common::fixture("keras_hub_text.json.gz")["models"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn every_model_matches_keras() {
    let models = models();
    common::assert_each_reads_as_keras(&models);
}

/// Every family gives a figure: through its transformers twin (Bloom, ESM, PaliGemma)
/// or its own lowering (RoformerV2, XLNet: keras_hub_roformer.rs checks their FLOPs).
#[test]
fn memory_gives_a_figure() {
    let run = RunSettings {
        mode: Mode::Train,
        batch: 2,
        seq: 16,
        ..Default::default()
    };
    for m in models() {
        let name = m["name"].as_str().unwrap();
        let text = serde_json::to_vec(&m["model_json"]).unwrap();
        let r = formats::memory(&text, name, None, &run, Some(16))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(r.peak_bytes > r.breakdown.weights, "{name}");
        if name.starts_with("Bloom_narrow_mlp") || name.starts_with("XLNet") {
            // the Bloom block at keras-hub's own MLP width, and XLNet's own layers:
            // their parameters are Keras's
            assert_eq!(r.params, m["total_params"].as_u64().unwrap(), "{name}");
        }
    }
}

/// The first fixture model named `name`, its config changed by `edit`.
fn edited(name: &str, edit: Value) -> Vec<u8> {
    common::edited(&models(), name, edit)
}

#[test]
fn bad_arguments_name_the_class_and_key() {
    for (name, edit, class, key) in [
        (
            "Bloom",
            json!({"num_heads": 3}),
            "BloomBackbone",
            "num_heads",
        ),
        (
            "Bloom",
            json!({"intermediate_dim": null}),
            "BloomBackbone",
            "'intermediate_dim'",
        ),
        (
            "ESM",
            json!({"position_embedding_type": "alibi"}),
            "ESMBackbone",
            "'position_embedding_type'",
        ),
        (
            "RoformerV2",
            json!({"head_size": 0}),
            "RoformerV2Backbone",
            "'head_size'",
        ),
        (
            "XLNet",
            json!({"num_heads": 5}),
            "XLNetBackbone",
            "num_heads",
        ),
        (
            "PaliGemma",
            json!({"vit_pooling": "map"}),
            "PaliGemmaBackbone",
            "'vit_pooling'",
        ),
        (
            "PaliGemma",
            json!({"vit_patch_size": 5}),
            "PaliGemmaBackbone",
            "vit_patch_size",
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
