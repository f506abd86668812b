//! KerasHub Moonshine, RWKV7 and VideoPrism models unlike the fixtures
//! (tests/data/keras_hub_mutants_av.json.gz, built by keras-hub 0.32 / Keras 3.15.1 with
//! tests/data/make_keras_hub_mutants_av.py: each backbone of keras_hub_text2.json.gz with
//! one constructor argument changed). Every total and row equals Keras's
//! `model.summary()`; `memory` gives a figure for every variant: Moonshine's parameters
//! Keras's trainable weights and its buffers twice its `inv_freq`s, RWKV7's and
//! VideoPrism's parameters Keras's total (keras_hub_rwkv_vp.rs checks their FLOPs).
mod common;

use archbudget_core::formats;
use archbudget_core::memory::{Mode, RunSettings};
use serde_json::Value;

fn models() -> Vec<Value> {
    let data = common::fixture("keras_hub_mutants_av.json.gz");
    assert_eq!(
        (data["keras"].as_str(), data["keras_hub"].as_str()),
        (Some("3.15.1"), Some("0.32.0"))
    );
    data["models"].as_array().unwrap().clone()
}

#[test]
fn every_total_and_row_is_exact() {
    let models = models();
    assert_eq!(models.len(), 27);
    common::assert_each_reads_as_keras(&models);
}

#[test]
fn memory_gives_a_figure_for_every_variant() {
    let mut figures = 0;
    for m in models() {
        let name = m["name"].as_str().unwrap();
        let class = m["model_json"]["class_name"].as_str().unwrap();
        let text = serde_json::to_vec(&m["model_json"]).unwrap();
        for mode in [Mode::Train, Mode::Infer] {
            let run = RunSettings {
                mode,
                batch: 2,
                seq: 16,
                ..Default::default()
            };
            let r = formats::memory(&text, name, None, &run, Some(16))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let frozen = m["non_trainable_params"].as_u64().unwrap();
            if class == "MoonshineBackbone" {
                assert_eq!(r.params, m["trainable_params"], "{name}");
                assert_eq!(r.buffers, 2 * frozen, "{name}");
            } else {
                assert_eq!(r.params, m["total_params"], "{name}");
                assert_eq!((r.buffers, frozen), (0, 0), "{name}");
            }
            assert!(
                r.peak_bytes > r.breakdown.weights && r.flops_fwd > 0,
                "{name}"
            );
            figures += 1;
        }
    }
    assert_eq!(figures, 54, "27 variants, train and infer");
}
