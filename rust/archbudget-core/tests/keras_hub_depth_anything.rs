//! KerasHub DepthAnythingBackbone and DepthAnythingDepthEstimator lowered as their
//! transformers twin, depth_anything (tests/data/hf_depth_anything.json, made by
//! make_hf_depth_anything.py from the keras-hub fixtures of keras_hub_vit.json.gz): each
//! model's `memory` holds its twin's parameters as transformers 5.24 builds them, the tiny
//! twins transformers runs take the FLOPs `torch.utils.flop_counter` measured, the released
//! Depth Anything V2 sizes the FLOPs of their twin's config read by the transformers
//! reader; every variant of keras_hub_mutants_vit.json.gz gets a figure.
mod common;
mod hf_rows;

use archbudget_core::formats;
use archbudget_core::memory::{Mode, RunSettings};
use serde_json::Value;

fn keras_hub(file: &str) -> Vec<Value> {
    common::fixture(file)["models"].as_array().unwrap().clone()
}

fn twins() -> Vec<Value> {
    hf_rows::fixture_section("hf_depth_anything.json", "keras_hub_twins")
}

fn model_text(models: &[Value], name: &str) -> Vec<u8> {
    let m = models.iter().find(|m| m["name"] == name).unwrap();
    serde_json::to_vec(&m["model_json"]).unwrap()
}

fn train(batch: u64) -> RunSettings {
    RunSettings {
        batch,
        ..Default::default()
    }
}

#[test]
fn each_model_holds_its_twins_parameters() {
    let models = keras_hub("keras_hub_vit.json.gz");
    let twins = twins();
    assert_eq!(twins.len(), 7);
    for twin in twins {
        let name = twin["name"].as_str().unwrap();
        let text = model_text(&models, name);
        for mode in [Mode::Train, Mode::Infer] {
            let run = RunSettings { mode, ..train(2) };
            let m = formats::memory(&text, name, None, &run, None)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(m.params, twin["params"].as_u64().unwrap(), "{name}");
        }
    }
}

#[test]
fn tiny_models_take_the_flop_counters_figures() {
    let models = keras_hub("keras_hub_vit.json.gz");
    let measured: Vec<Value> = twins()
        .into_iter()
        .filter(|t| t.get("flops_fwd").is_some())
        .collect();
    assert_eq!(measured.len(), 2);
    for twin in measured {
        let name = twin["name"].as_str().unwrap();
        let run = train(twin["batch"].as_u64().unwrap());
        let m = formats::memory(&model_text(&models, name), name, None, &run, None).unwrap();
        assert_eq!(m.flops_fwd, twin["flops_fwd"].as_u64().unwrap(), "{name}");
        assert_eq!(
            m.flops_fwd_bwd,
            twin["flops_fwd_bwd"].as_u64().unwrap(),
            "{name}"
        );
    }
}

#[test]
fn released_sizes_run_as_their_twin_config() {
    let models = keras_hub("keras_hub_vit.json.gz");
    for twin in twins() {
        let name = twin["name"].as_str().unwrap();
        if !name.starts_with("depth_anything_v2") {
            continue;
        }
        let run = train(1);
        let keras = formats::memory(&model_text(&models, name), name, None, &run, None).unwrap();
        let config = serde_json::to_vec(&twin["config"]).unwrap();
        let hf = formats::memory(&config, name, None, &run, None).unwrap();
        // the backbone alone ends at conv3: the twin's ReLU and `* max_depth` do no FLOPs
        assert_eq!(
            (keras.params, keras.flops_fwd, keras.flops_fwd_bwd),
            (hf.params, hf.flops_fwd, hf.flops_fwd_bwd),
            "{name}"
        );
        assert!(keras.peak_bytes <= hf.peak_bytes, "{name}");
    }
}

#[test]
fn every_variant_gets_a_figure() {
    let variants: Vec<Value> = keras_hub("keras_hub_mutants_vit.json.gz")
        .into_iter()
        .filter(|m| m["name"].as_str().unwrap().starts_with("DepthAnything"))
        .collect();
    assert_eq!(variants.len(), 16);
    for m in variants {
        let name = m["name"].as_str().unwrap();
        let text = serde_json::to_vec(&m["model_json"]).unwrap();
        let counted = formats::summary(&text, name, None).unwrap();
        let r = formats::memory(&text, name, None, &train(2), None)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            r.params > 0 && r.params <= counted.trainable_params,
            "{name}"
        );
        assert!(r.peak_bytes > r.breakdown.weights, "{name}");
    }
}
