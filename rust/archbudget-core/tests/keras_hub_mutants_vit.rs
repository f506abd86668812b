//! KerasHub models unlike the hub-vit fixtures (tests/data/make_keras_hub_mutants_vit.py:
//! each ViTDet, SAM and Depth Anything backbone of keras_hub_vit.json.gz with one constructor
//! argument changed, SAM's and Depth Anything's in each serialized part, each changed SAM and
//! Depth Anything also in its task model, built by keras-hub 0.32): every total and every row
//! exact; memory of each ViTDet a figure in training and inference (its `sam_vision_model`
//! twin's; SAM's: keras_hub_sam.rs; Depth Anything's: keras_hub_depth_anything.rs).
mod common;

use archbudget_core::formats;
use archbudget_core::memory::{Mode, RunSettings};
use serde_json::Value;

fn models() -> Vec<Value> {
    common::fixture("keras_hub_mutants_vit.json.gz")["models"]
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

/// The ViTDetBackbone variants (SAM's and Depth Anything's have tests of their own).
fn lowered(m: &Value) -> bool {
    m["model_json"]["class_name"] == "ViTDetBackbone"
}

#[test]
fn every_vit_det_variant_has_memory_in_training_and_inference() {
    let variants: Vec<Value> = models().into_iter().filter(lowered).collect();
    assert!(variants.len() >= 10, "{} ViTDet variants", variants.len());
    for m in variants {
        let name = m["name"].as_str().unwrap();
        let text = serde_json::to_vec(&m["model_json"]).unwrap();
        for mode in [Mode::Train, Mode::Infer] {
            let run = RunSettings {
                mode,
                batch: 2,
                ..Default::default()
            };
            let r = formats::memory(&text, name, None, &run, None)
                .unwrap_or_else(|e| panic!("{name} {mode:?}: {e}"));
            // keras-hub's every weight is the twin's, and trainable
            assert_eq!(r.params, m["trainable_params"], "{name}");
            assert_eq!(r.params, m["total_params"], "{name}");
            assert!(r.peak_bytes > r.breakdown.weights, "{name} {mode:?}");
            assert!(r.flops_fwd > 0, "{name} {mode:?}");
        }
    }
}
