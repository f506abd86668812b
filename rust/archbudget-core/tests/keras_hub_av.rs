//! KerasHub's audio models lowered by `memory`: MoonshineBackbone and
//! MoonshineAudioToText run as transformers' `moonshine` (tests/data/hf_moonshine.json,
//! made by make_hf_moonshine.py with transformers 5.24) with what keras-hub does
//! differently. Where keras-hub builds what transformers builds, the report equals the
//! twin's to the byte; every Moonshine model of tests/data/keras_hub_text2.json.gz gets a
//! figure whose parameters are Keras's trainable weights and whose buffers twice its
//! non-trainable ones (the rotary `inv_freq`: one Keras weight, two PyTorch buffers).
mod common;
mod hf_rows;

use archbudget_core::formats::{self, hf};
use archbudget_core::memory::{AttnImpl, Mode, Precision, RunSettings};
use serde_json::Value;

fn keras_model<'a>(data: &'a Value, name: &str) -> &'a Value {
    data["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no fixture model {name}"))
}

fn runs() -> Vec<RunSettings> {
    let mut runs = Vec::new();
    for mode in [Mode::Train, Mode::Infer] {
        for precision in [Precision::Fp32, Precision::AmpBf16, Precision::Bf16] {
            for attn in [AttnImpl::Sdpa, AttnImpl::Eager] {
                for grad_ckpt in [false, true] {
                    runs.push(RunSettings {
                        mode,
                        batch: 2,
                        seq: 16,
                        precision,
                        attn,
                        grad_ckpt,
                        ..Default::default()
                    });
                }
            }
        }
    }
    runs
}

#[test]
fn moonshine_equals_its_transformers_twin() {
    let data = common::fixture("keras_hub_text2.json.gz");
    let twins = hf_rows::fixture_section("hf_moonshine.json", "keras_hub_twins");
    assert_eq!(twins.len(), 2);
    for twin in twins {
        let name = twin["name"].as_str().unwrap();
        let config = serde_json::to_vec(&twin["config"]).unwrap();
        let backbone = keras_model(&data, name);
        let task = &backbone["model_json"]["config"];
        assert!(task.get("backbone").is_none(), "{name} is a backbone");
        let text = serde_json::to_vec(&backbone["model_json"]).unwrap();
        for run in runs() {
            let ours = formats::memory(&text, name, None, &run, Some(16)).unwrap();
            let transformers =
                formats::memory(&config, name, Some(hf::Head::Base), &run, Some(16)).unwrap();
            assert_eq!(ours, transformers, "{name} {run:?}");
            assert_eq!(ours.params, twin["params"], "{name}");
            assert_eq!(ours.buffers, twin["buffers"], "{name}");
        }
    }
    // the task model runs as the twin's LM class
    let twin = &hf_rows::fixture_section("hf_moonshine.json", "keras_hub_twins")[0];
    let config = serde_json::to_vec(&twin["config"]).unwrap();
    let task =
        serde_json::to_vec(&keras_model(&data, "MoonshineAudioToText")["model_json"]).unwrap();
    for run in runs() {
        let ours = formats::memory(&task, "MoonshineAudioToText", None, &run, Some(16)).unwrap();
        let lm =
            formats::memory(&config, "twin", Some(hf::Head::CausalLm), &run, Some(16)).unwrap();
        assert_eq!(ours, lm, "{run:?}");
    }
}

#[test]
fn every_moonshine_has_a_figure_with_keras_weights() {
    let data = common::fixture("keras_hub_text2.json.gz");
    let mut seen = 0;
    for m in data["models"].as_array().unwrap() {
        let name = m["name"].as_str().unwrap();
        if !name.to_lowercase().starts_with("moonshine") {
            continue;
        }
        seen += 1;
        let text = serde_json::to_vec(&m["model_json"]).unwrap();
        for run in runs() {
            let r = formats::memory(&text, name, None, &run, Some(16))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            // Keras's non-trainable weights are the `inv_freq`s; PyTorch's rotary module
            // holds each twice (`inv_freq`, `original_inv_freq`) as buffers
            assert_eq!(r.params, m["trainable_params"], "{name}");
            let frozen = m["non_trainable_params"].as_u64().unwrap();
            assert_eq!(r.buffers, 2 * frozen, "{name}");
            assert!(r.peak_bytes > r.breakdown.weights, "{name}");
        }
    }
    assert_eq!(seen, 6);
}
