//! keras-hub's SAMBackbone and SAMImageSegmenter run as their transformers twin `sam`
//! (`SamModel`): each SAM of tests/data/keras_hub_vit.json.gz and of
//! keras_hub_mutants_vit.json.gz (built by the real keras-hub) gets a memory figure whose
//! parameters are its summary's (keras-hub's non-trainable random-frequency matrix is a
//! parameter of the twin); the twins transformers 5.24 builds (tests/data/hf_sam.json,
//! `keras_hub_sam_twins`, made by make_hf_sam.py from the same constructor arguments) hold
//! the same parameters, and the tiny segmenter's FLOPs are `torch.utils.flop_counter`'s.
mod common;
mod hf_rows;

use archbudget_core::formats;
use archbudget_core::memory::{AttnImpl, Mode, RunSettings};
use serde_json::Value;

fn models(file: &str) -> Vec<Value> {
    common::fixture(file)["models"].as_array().unwrap().clone()
}

fn is_sam(m: &Value) -> bool {
    let class = &m["model_json"]["class_name"];
    class == "SAMBackbone" || class == "SAMImageSegmenter"
}

fn run(mode: Mode) -> RunSettings {
    RunSettings {
        mode,
        batch: 2,
        ..Default::default()
    }
}

/// Every SAM of `file` has a figure in training and inference holding its summary's
/// parameters; returns how many.
fn each_has_a_figure(file: &str) -> usize {
    let sams: Vec<Value> = models(file).into_iter().filter(is_sam).collect();
    for m in &sams {
        let name = m["name"].as_str().unwrap();
        let text = serde_json::to_vec(&m["model_json"]).unwrap();
        let counted = formats::summary(&text, name, None).unwrap();
        assert_eq!(counted.total_params, m["total_params"], "{name}");
        for mode in [Mode::Train, Mode::Infer] {
            let r = formats::memory(&text, name, None, &run(mode), None)
                .unwrap_or_else(|e| panic!("{name} {mode:?}: {e}"));
            assert_eq!(r.params, counted.total_params, "{name} {mode:?}");
            assert!(r.peak_bytes > r.breakdown.weights, "{name} {mode:?}");
            assert!(r.flops_fwd > 0, "{name} {mode:?}");
        }
    }
    sams.len()
}

#[test]
fn every_sam_fixture_has_memory_with_its_summarys_parameters() {
    assert_eq!(each_has_a_figure("keras_hub_vit.json.gz"), 7);
}

#[test]
fn every_sam_variant_has_memory_with_its_summarys_parameters() {
    assert_eq!(each_has_a_figure("keras_hub_mutants_vit.json.gz"), 20);
}

#[test]
fn each_twin_transformers_builds_holds_the_same_parameters() {
    let keras = models("keras_hub_vit.json.gz");
    let twins = hf_rows::fixture_section("hf_sam.json", "keras_hub_sam_twins");
    assert_eq!(twins.len(), 5);
    for twin in &twins {
        let name = twin["name"].as_str().unwrap();
        let m = keras.iter().find(|m| m["name"] == name).unwrap();
        assert_eq!(m["total_params"], twin["params"], "{name}");
        let text = serde_json::to_vec(&m["model_json"]).unwrap();
        let r = formats::memory(&text, name, None, &run(Mode::Train), None).unwrap();
        assert_eq!(r.params, twin["params"], "{name}");
        if twin.get("flops_fwd").is_none() {
            continue;
        }
        // the segmenter is the twin's whole forward: the same graph, the counter's FLOPs
        let hf = serde_json::to_vec(&twin["config"]).unwrap();
        for mode in [Mode::Train, Mode::Infer] {
            for attn in [AttnImpl::Sdpa, AttnImpl::Eager] {
                let r = RunSettings { attn, ..run(mode) };
                let ours = formats::memory(&text, name, None, &r, None).unwrap();
                let theirs = formats::memory(&hf, name, None, &r, None).unwrap();
                assert_eq!(ours, theirs, "{name} {mode:?} {attn:?}");
            }
        }
        let eager = RunSettings {
            attn: AttnImpl::Eager,
            ..run(Mode::Train)
        };
        let r = formats::memory(&text, name, None, &eager, None).unwrap();
        assert_eq!(r.flops_fwd, twin["flops_fwd"], "{name}");
        assert_eq!(r.flops_fwd_bwd, twin["flops_fwd_bwd"], "{name}");
    }
}

#[test]
fn a_backbone_alone_runs_no_mask_decoder() {
    let keras = models("keras_hub_vit.json.gz");
    let text = |name: &str| {
        let m = keras.iter().find(|m| m["name"] == name).unwrap();
        serde_json::to_vec(&m["model_json"]).unwrap()
    };
    let infer = run(Mode::Infer);
    let backbone = formats::memory(&text("SAM"), "SAM", None, &infer, None).unwrap();
    let segmenter = formats::memory(&text("SAMImageSegmenter"), "s", None, &infer, None).unwrap();
    assert!(backbone.params < segmenter.params);
    assert!(backbone.flops_fwd < segmenter.flops_fwd);
}
