//! KerasHub transformer vision families built by the real keras-hub
//! (tests/data/make_keras_hub_vit.py): ViTDetBackbone, SAMBackbone and SAMImageSegmenter,
//! DepthAnythingBackbone and DepthAnythingDepthEstimator (small configs and the released SAM
//! and Depth Anything V2 sizes, which equal keras-hub's preset metadata), each read from its `model.to_json()`
//! with totals and every row of `model.summary()` exact; memory refused in one line for a SAM
//! no transformers model holds (ViTDet's figures: keras_hub_vit_det_twin.rs; SAM's:
//! keras_hub_sam.rs; Depth Anything's: keras_hub_depth_anything.rs); the errors of bad
//! constructor arguments.
mod common;

use archbudget_core::formats;
use archbudget_core::memory::RunSettings;
use serde_json::{json, Value};

fn models() -> Vec<Value> {
    common::fixture("keras_hub_vit.json.gz")["models"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn every_model_matches_keras() {
    common::assert_each_reads_as_keras(&models());
}

#[test]
fn memory_without_a_transformers_twin_is_refused_in_one_line() {
    // an odd key width per head: keras-hub's cross-attention is heads · (key_dim // 2)
    // wide, transformers' hidden_size // 2, so no SamModel holds the same weights
    let decoder = json!({"mask_decoder": {"module": "keras_hub.src.models.sam.sam_mask_decoder",
        "class_name": "SAMMaskDecoder", "registered_name": "keras_hub>SAMMaskDecoder",
        "config": {"hidden_size": 6, "num_layers": 2, "intermediate_dim": 12, "num_heads": 2,
            "embedding_dim": 6}}});
    let text = edited("SAM", decoder);
    assert!(formats::summary(&text, "m.json", None).is_ok());
    let e = formats::memory(&text, "m.json", None, &RunSettings::default(), Some(16))
        .expect_err("SAM")
        .to_string();
    assert!(!e.contains('\n'), "{e}");
    for part in ["m.json", "SAMBackbone", "not modelled"] {
        assert!(e.contains(part), "{part} not in: {e}");
    }
}

/// The first fixture model named `name`, its config changed by `edit` (null removes).
fn edited(name: &str, edit: Value) -> Vec<u8> {
    common::edited(&models(), name, edit)
}

#[test]
fn bad_arguments_name_the_class_and_key() {
    for (name, edit, class, key) in [
        (
            "ViTDet",
            json!({"image_shape": [16, 8, 3]}),
            "ViTDetBackbone",
            "image_shape",
        ),
        (
            "ViTDet",
            json!({"image_shape": null}),
            "ViTDetBackbone",
            "'image_shape'",
        ),
        (
            "ViTDet",
            json!({"num_heads": 3}),
            "ViTDetBackbone",
            "num_heads",
        ),
        (
            "ViTDet",
            json!({"image_shape": [16, 16, 4]}),
            "ViTDetBackbone",
            "image_shape",
        ),
        (
            "ViTDet",
            json!({"patch_size": 32}),
            "ViTDetBackbone",
            "patch_size",
        ),
        (
            "ViTDet",
            json!({"use_rel_pos": "yes"}),
            "ViTDetBackbone",
            "'use_rel_pos'",
        ),
        (
            "ViTDet",
            json!({"global_attention_layer_indices": "all"}),
            "ViTDetBackbone",
            "'global_attention_layer_indices'",
        ),
        (
            "SAM",
            json!({"mask_decoder": {"registered_name": "keras_hub>SAMPromptEncoder"}}),
            "SAMBackbone",
            "'mask_decoder'",
        ),
        (
            "SAM",
            json!({"image_encoder": null}),
            "SAMBackbone",
            "'image_encoder'",
        ),
        (
            "DepthAnything",
            json!({"reassemble_factors": [4, 2, 1]}),
            "DepthAnythingBackbone",
            "'reassemble_factors'",
        ),
        (
            "DepthAnything",
            json!({"reassemble_factors": [4, 2, 1, -1]}),
            "DepthAnythingBackbone",
            "'reassemble_factors'",
        ),
        (
            "DepthAnything",
            json!({"image_encoder": {"registered_name": "keras_hub>ViTBackbone", "config": {}}}),
            "DepthAnythingBackbone",
            "'image_encoder'",
        ),
        (
            "DepthAnythingDepthEstimator",
            json!({"depth_estimation_type": "absolute"}),
            "DepthAnythingDepthEstimator",
            "'depth_estimation_type'",
        ),
    ] {
        let e = formats::summary(&edited(name, edit), "m.json", None)
            .err()
            .unwrap_or_else(|| panic!("{name}: no error"))
            .to_string();
        assert!(!e.contains('\n'), "{e}");
        for part in ["m.json", class, key] {
            assert!(e.contains(part), "{part} not in: {e}");
        }
    }
}
