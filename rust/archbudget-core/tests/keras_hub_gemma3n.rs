//! keras-hub's Gemma3nBackbone and Gemma3nCausalLM (`tests/data/keras_hub_text2.json.gz`)
//! lowered as their transformers twin `gemma3n_text` (`tests/data/hf_gemma3n.json`'s
//! `keras_hub_twins`, counted by transformers 5.24): the twin config the reader makes is
//! the generator's, its count is transformers', the keras-hub model's memory report
//! equals the twin's where their weights are the same, and a model keras-hub cannot run
//! (a KV-shared layer with no earlier layer of its kind) is refused in one line.
mod common;
mod hf_rows;

use archbudget_core::formats::{self, hf, keras_hub};
use archbudget_core::memory::{AttnImpl, Mode, Precision, RunSettings};
use serde_json::Value;

fn keras_model(name: &str) -> Value {
    let data = common::fixture("keras_hub_text2.json.gz");
    data["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no {name}"))
        .clone()
}

fn twins() -> Vec<Value> {
    hf_rows::fixture_section("hf_gemma3n.json", "keras_hub_twins")
}

fn runs() -> Vec<RunSettings> {
    let mut runs = Vec::new();
    for mode in [Mode::Train, Mode::Infer, Mode::Generate] {
        for precision in [Precision::Fp32, Precision::AmpBf16, Precision::Bf16] {
            for (attn, grad_ckpt) in [(AttnImpl::Sdpa, false), (AttnImpl::Eager, true)] {
                runs.push(RunSettings {
                    mode,
                    batch: 2,
                    seq: 12,
                    precision,
                    attn,
                    grad_ckpt,
                    new_tokens: if mode == Mode::Generate { 3 } else { 0 },
                    ..Default::default()
                });
            }
        }
    }
    runs
}

#[test]
fn the_twin_config_is_the_generators_and_transformers_counts_it() {
    let twins = twins();
    assert_eq!(twins.len(), 2);
    for twin in &twins {
        let name = twin["name"].as_str().unwrap();
        let model = keras_hub::read(&keras_model(name)["model_json"], name)
            .unwrap()
            .unwrap();
        let ours = model.hf_config.as_ref().unwrap();
        let want = &twin["config"];
        for (key, value) in want.as_object().unwrap() {
            let mine = &ours[key];
            let same = match (mine.as_f64(), value.as_f64()) {
                (Some(a), Some(b)) => a == b,
                _ => mine == value,
            };
            assert!(same, "{name} {key}: {mine} != {value}");
        }
        let counted = hf::summarize(ours, Some(hf::Head::Base), name).unwrap();
        assert_eq!(
            counted.total_params,
            twin["params"].as_u64().unwrap(),
            "{name}"
        );
    }
}

#[test]
fn memory_of_the_keras_hub_model_equals_its_twins() {
    let twin = &twins()[0];
    let twin_text = serde_json::to_vec(&twin["config"]).unwrap();
    for (keras, head) in [
        ("Gemma3n", hf::Head::Base),
        ("Gemma3nCausalLM", hf::Head::CausalLm),
    ] {
        let m = keras_model(keras);
        // the same weights: keras-hub's count is transformers'
        assert_eq!(m["total_params"], twin["params"], "{keras}");
        let text = serde_json::to_vec(&m["model_json"]).unwrap();
        for run in runs() {
            let ours = formats::memory(&text, keras, None, &run, Some(run.seq)).unwrap();
            let theirs =
                formats::memory(&twin_text, "twin", Some(head), &run, Some(run.seq)).unwrap();
            assert_eq!(ours.peak_bytes, theirs.peak_bytes, "{keras} {run:?}");
            assert_eq!(ours.breakdown, theirs.breakdown, "{keras} {run:?}");
            assert_eq!(
                (ours.flops_fwd, ours.flops_fwd_bwd, ours.params),
                (theirs.flops_fwd, theirs.flops_fwd_bwd, theirs.params),
                "{keras} {run:?}"
            );
        }
    }
}

#[test]
fn a_kv_shared_layer_without_a_source_is_refused_in_one_line() {
    for name in ["Gemma3n_shared_kv", "Gemma3n_shared_kvCausalLM"] {
        let m = keras_model(name);
        let text = serde_json::to_vec(&m["model_json"]).unwrap();
        let s = formats::summary(&text, name, None).unwrap();
        assert_eq!(s.total_params, m["total_params"].as_u64().unwrap());
        let err = formats::memory(&text, name, None, &RunSettings::default(), Some(8))
            .unwrap_err()
            .to_string();
        assert!(!err.contains('\n'), "{err}");
        for part in [
            "layer 1 (full_attention)",
            "num_kv_shared_layers",
            "keras-hub",
        ] {
            assert!(err.contains(part), "{err}");
        }
    }
}
