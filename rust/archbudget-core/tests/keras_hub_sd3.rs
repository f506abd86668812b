//! KerasHub Stable Diffusion 3 and Flux built by the real keras-hub
//! (tests/data/make_keras_hub_sd3.py): SD3 backbones with and without T5, with SD3.5's
//! rms q/k norms and dual attention, their TextToImage / ImageToImage / Inpaint task
//! models, Flux backbones with and without guidance and their TextToImage, each read from
//! its `model.to_json()`, totals and every row of `model.summary()` exact; the
//! preset-sized SD3 builds equal keras-hub's preset metadata. `memory` of SD3's denoiser:
//! keras-hub's weights, jax's matmul FLOPs (Flux's memory: keras_hub_flux.rs).
mod common;

use archbudget_core::formats;
use archbudget_core::memory::{Mode, RunSettings};
use serde_json::Value;

#[test]
fn every_diffusion_model_matches_keras() {
    let data = common::fixture("keras_hub_sd3.json.gz");
    let models = data["models"].as_array().unwrap();
    common::assert_each_reads_as_keras(models);
}

fn sd3_models(data: &Value) -> impl Iterator<Item = &Value> {
    data["models"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| !m["name"].as_str().unwrap().starts_with("Flux"))
}

fn diffuser_params(m: &Value) -> u64 {
    m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "diffuser")
        .unwrap()["params"]
        .as_u64()
        .unwrap()
}

#[test]
fn memory_lowers_the_denoiser_with_keras_hubs_weights() {
    // the step trains the MMDiT alone: its parameters are the `diffuser` row's
    let data = common::fixture("keras_hub_sd3.json.gz");
    let mut checked = 0;
    for m in sd3_models(&data) {
        let name = m["name"].as_str().unwrap();
        let text = serde_json::to_vec(&m["model_json"]).unwrap();
        let run = RunSettings {
            batch: 2,
            ..RunSettings::default()
        };
        let train = formats::memory(&text, name, None, &run, Some(12)).unwrap();
        assert_eq!(train.params, diffuser_params(m), "{name}");
        assert_eq!(train.trainable_params, train.params, "{name}");
        let infer = RunSettings {
            mode: Mode::Infer,
            ..run
        };
        let infer = formats::memory(&text, name, None, &infer, Some(12)).unwrap();
        assert_eq!(infer.params, train.params, "{name}");
        assert!(infer.peak_bytes < train.peak_bytes, "{name}");
        assert!(train.flops_fwd_bwd > 2 * train.flops_fwd, "{name}");
        checked += 1;
    }
    assert_eq!(checked, 15);
}

#[test]
fn sd3_without_t5_defaults_its_context_and_with_t5_needs_seq() {
    let data = common::fixture("keras_hub_sd3.json.gz");
    let model = |name: &str| {
        let m = sd3_models(&data).find(|m| m["name"] == name).unwrap();
        serde_json::to_vec(&m["model_json"]).unwrap()
    };
    let run = RunSettings::default();
    // keras-hub pads CLIP's 12 tokens with 12 more without T5
    let default = formats::memory(&model("SD3"), "SD3", None, &run, None).unwrap();
    let given = formats::memory(&model("SD3"), "SD3", None, &run, Some(24)).unwrap();
    assert_eq!(default, given);
    let err = formats::memory(&model("SD3_t5_dual_rms"), "t5", None, &run, None).unwrap_err();
    assert!(err.to_string().contains("--seq"), "{err}");
    let generate = RunSettings {
        mode: Mode::Generate,
        ..run
    };
    let err = formats::memory(&model("SD3"), "SD3", None, &generate, None).unwrap_err();
    assert!(err.to_string().contains("train or infer"), "{err}");
}

#[test]
fn forward_flops_equal_jaxs_matmul_and_convolution_flops() {
    // XLA's cost_analysis counts each elementwise op too (norms, modulation, softmax,
    // gelu); archbudget counts matmuls and convolutions, as jax's StableHLO of the same
    // forward gives them
    let data = common::fixture("keras_hub_sd3.json.gz");
    let mut checked = 0;
    for m in sd3_models(&data).filter(|m| m.get("jax_flops").is_some()) {
        let name = m["name"].as_str().unwrap();
        let jax = &m["jax_flops"];
        let run = RunSettings {
            mode: Mode::Infer,
            batch: jax["batch"].as_u64().unwrap(),
            ..RunSettings::default()
        };
        let text = serde_json::to_vec(&m["model_json"]).unwrap();
        let report = formats::memory(&text, name, None, &run, jax["tokens"].as_u64()).unwrap();
        assert_eq!(
            report.flops_fwd,
            jax["matmul_flops"].as_u64().unwrap(),
            "{name}"
        );
        assert!(
            jax["xla_flops"].as_u64().unwrap() > report.flops_fwd,
            "{name}"
        );
        checked += 1;
    }
    assert_eq!(checked, 3);
}
