//! keras-hub's ViTDetBackbone runs as its transformers twin `sam_vision_model`: each
//! ViTDet of tests/data/keras_hub_vit.json.gz (built by the real keras-hub) gives the
//! memory report of the SamVisionModel it translates into, whose parameters and
//! `torch.utils.flop_counter` FLOPs tests/data/hf_sam.json records (real transformers 5.24,
//! `keras_hub_twins`, made by tests/data/make_hf_sam.py).
mod common;
mod hf_rows;

use archbudget_core::formats;
use archbudget_core::memory::{AttnImpl, Mode, Precision, RunSettings};
use serde_json::Value;

fn keras_hub_model(name: &str) -> Value {
    common::fixture("keras_hub_vit.json.gz")["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in keras_hub_vit.json.gz"))
        .clone()
}

#[test]
fn each_vit_det_reports_its_transformers_twin() {
    let twins = hf_rows::fixture_section("hf_sam.json", "keras_hub_twins");
    assert_eq!(twins.len(), 6);
    for twin in twins {
        let name = twin["name"].as_str().unwrap();
        let m = keras_hub_model(name);
        assert_eq!(m["trainable_params"], twin["params"], "{name}");
        let ours = serde_json::to_vec(&m["model_json"]).unwrap();
        let theirs = serde_json::to_vec(&twin["config"]).unwrap();
        for mode in [Mode::Train, Mode::Infer] {
            for precision in [Precision::Fp32, Precision::AmpBf16] {
                for attn in [AttnImpl::Sdpa, AttnImpl::Eager] {
                    let run = RunSettings {
                        mode,
                        batch: 2,
                        precision,
                        attn,
                        ..Default::default()
                    };
                    let keras = formats::memory(&ours, name, None, &run, None)
                        .unwrap_or_else(|e| panic!("{name}: {e}"));
                    let hf = formats::memory(&theirs, name, None, &run, None).unwrap();
                    assert_eq!(keras, hf, "{name} {mode:?} {precision:?} {attn:?}");
                    assert_eq!(keras.params, twin["params"], "{name}");
                }
            }
        }
        // the flop counter's figures, as the twin's own test checks them
        let run = RunSettings {
            batch: 2,
            attn: AttnImpl::Eager,
            ..Default::default()
        };
        let keras = formats::memory(&ours, name, None, &run, None).unwrap();
        assert_eq!(keras.flops_fwd, twin["flops_fwd"], "{name}");
        assert_eq!(keras.flops_fwd_bwd, twin["flops_fwd_bwd"], "{name}");
    }
}

#[test]
fn a_vit_det_memory_needs_no_seq() {
    // the sequence is the patch grid: no --seq to ask for
    let m = keras_hub_model("ViTDet");
    let text = serde_json::to_vec(&m["model_json"]).unwrap();
    let r = formats::memory(&text, "m.json", None, &RunSettings::default(), None).unwrap();
    assert!(r.peak_bytes > 0);
}
