//! gemma4_vision (Gemma 4's vision tower alone, `Gemma4VisionModel`) against transformers
//! 5.24: `tests/data/hf_gemma4_vision.json`, made by `tests/data/make_hf_gemma4_vision.py`.
//! Totals, classes and each summary row against its module; parameters, buffers and FLOPs
//! of tiny configs against `torch.utils.flop_counter`; `memory` in every mode it runs; and
//! keras-hub's Gemma4VisionEncoder (`keras_hub_gemma4.json.gz`, `keras_hub_mutants_gemma4.json.gz`)
//! lowered as that tower with gemma4's embedder after it: transformers' parameters, buffers
//! and FLOPs of the same modules, and the twin's figure.
mod common;
mod hf_rows;

use archbudget_core::formats::{self, keras_hub};
use archbudget_core::memory::{self, AttnImpl, Mode, Precision, RunSettings};
use serde_json::Value;

fn section(name: &str) -> Vec<Value> {
    hf_rows::fixture_section("hf_gemma4_vision.json", name)
}

/// The attention a fixture case was measured with.
fn attn_of(case: &Value) -> AttnImpl {
    AttnImpl::parse(case["attn"].as_str().unwrap_or("sdpa")).unwrap()
}

fn run(mode: Mode, batch: u64) -> RunSettings {
    RunSettings {
        mode,
        batch,
        seq: 16,
        ..Default::default()
    }
}

#[test]
fn totals_classes_and_rows_exact() {
    let rows = section("rows");
    assert!(rows.len() >= 5);
    let (failures, checked) = hf_rows::check_totals_and_rows(&rows, &hf_rows::BASE_AT_ROOT);
    assert!(checked > 40, "only {checked} rows checked");
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn params_buffers_and_flops_equal_the_flop_counter() {
    let cases = section("flops");
    assert!(cases.len() >= 3);
    for case in cases.iter().chain(&section("rows")) {
        let name = case["name"].as_str().unwrap();
        let text = serde_json::to_vec(&case["config"]).unwrap();
        let r = RunSettings {
            attn: attn_of(case),
            ..run(Mode::Train, 2)
        };
        let m = formats::memory(&text, name, None, &r, None).unwrap();
        match case.get("flops_fwd") {
            Some(fwd) => {
                let want = [
                    &case["params"],
                    &case["buffers"],
                    fwd,
                    &case["flops_fwd_bwd"],
                ];
                let got = [m.params, m.buffers, m.flops_fwd, m.flops_fwd_bwd];
                let want = want.map(|v| v.as_u64().unwrap());
                assert_eq!(got, want, "{name}");
            }
            None => {
                let want =
                    [&case["base_params"], &case["base_buffers"]].map(|v| v.as_u64().unwrap());
                assert_eq!([m.params, m.buffers], want, "{name}");
            }
        }
    }
}

#[test]
fn memory_runs_in_every_mode_and_precision_and_refuses_generate() {
    for row in section("rows") {
        let name = row["name"].as_str().unwrap();
        let text = serde_json::to_vec(&row["config"]).unwrap();
        let mut peaks = Vec::new();
        for mode in [Mode::Train, Mode::Infer] {
            for precision in [Precision::Fp32, Precision::AmpBf16, Precision::Bf16] {
                for (attn, grad_ckpt) in [(AttnImpl::Sdpa, false), (AttnImpl::Eager, true)] {
                    let r = RunSettings {
                        precision,
                        attn,
                        grad_ckpt,
                        ..run(mode, 2)
                    };
                    let m = formats::memory(&text, name, None, &r, None)
                        .unwrap_or_else(|e| panic!("{name} {r:?}: {e}"));
                    assert!(m.peak_bytes > m.breakdown.weights, "{name} {r:?}");
                    peaks.push((mode, m.peak_bytes));
                }
            }
        }
        let most = |mode| peaks.iter().filter(|p| p.0 == mode).map(|p| p.1).max();
        assert!(most(Mode::Infer) < most(Mode::Train), "{name}");
        let err = formats::memory(&text, name, None, &run(Mode::Generate, 1), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not generate"), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

fn keras_models() -> Vec<Value> {
    let mut all = Vec::new();
    for fixture in [
        "keras_hub_gemma4.json.gz",
        "keras_hub_mutants_gemma4.json.gz",
    ] {
        all.extend(
            common::fixture(fixture)["models"]
                .as_array()
                .unwrap()
                .clone(),
        );
    }
    all
}

#[test]
fn keras_hub_encoders_are_their_twin_tower_and_embedder() {
    let twins = section("keras_hub_twins");
    let models = keras_models();
    let encoders = models
        .iter()
        .filter(|m| m["model_json"]["registered_name"] == "keras_hub>Gemma4VisionEncoder")
        .count();
    assert_eq!(twins.len(), encoders);
    assert!(twins.len() >= 8, "{} twins", twins.len());
    for twin in &twins {
        let name = twin["name"].as_str().unwrap();
        let m = models.iter().find(|m| m["name"] == name).unwrap();
        let text = serde_json::to_vec(&m["model_json"]).unwrap();
        // the twin config the reader makes is the generator's
        let model = keras_hub::read(&m["model_json"], name).unwrap().unwrap();
        let ours = model.hf_config.as_ref().unwrap();
        for (key, value) in twin["config"].as_object().unwrap() {
            assert_eq!(&ours[key], value, "{name} {key}");
        }
        // transformers' parameters, buffers and flop counter on the tower and embedder
        let batch = twin["batch"].as_u64().unwrap();
        let r = RunSettings {
            attn: attn_of(twin),
            ..run(Mode::Train, batch)
        };
        let got = formats::memory(&text, name, None, &r, None).unwrap();
        let want =
            ["params", "buffers", "flops_fwd", "flops_fwd_bwd"].map(|k| twin[k].as_u64().unwrap());
        assert_eq!(
            [got.params, got.buffers, got.flops_fwd, got.flops_fwd_bwd],
            want,
            "{name}"
        );
        // keras-hub's trainable weights are the parameters, its non-trainable ones (the
        // clip bounds, standardize's) buffers beside the rotary pair
        assert_eq!(
            got.params,
            m["trainable_params"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(
            got.buffers,
            m["non_trainable_params"].as_u64().unwrap() + 2,
            "{name}"
        );
    }
}

/// Every fixture encoder gets the figure its twin does (the tower from the twin config,
/// the embedder the twin edit puts after it), in every mode and precision.
#[test]
fn every_keras_hub_encoder_gets_its_twins_figure() {
    let mut compared = 0;
    for m in keras_models()
        .iter()
        .filter(|m| m["model_json"]["registered_name"] == "keras_hub>Gemma4VisionEncoder")
    {
        let name = m["name"].as_str().unwrap();
        let model = keras_hub::read(&m["model_json"], name).unwrap().unwrap();
        let arch = keras_hub::arch(&model, name).unwrap();
        let text = serde_json::to_vec(&m["model_json"]).unwrap();
        let twin = serde_json::to_vec(model.hf_config.as_ref().unwrap()).unwrap();
        for mode in [Mode::Train, Mode::Infer] {
            for precision in [Precision::Fp32, Precision::AmpBf16, Precision::Bf16] {
                for attn in [AttnImpl::Sdpa, AttnImpl::Eager] {
                    let r = RunSettings {
                        precision,
                        attn,
                        ..run(mode, 3)
                    };
                    let ours = formats::memory(&text, name, None, &r, None).unwrap();
                    let graph = memory::hf::graph(&arch, &keras_hub::dropouts(&model), &r).unwrap();
                    let lowered = memory::compiled::estimate(&graph, &r).unwrap();
                    assert_eq!(ours.peak_bytes, lowered.peak_bytes, "{name} {r:?}");
                    assert_eq!(ours.breakdown, lowered.breakdown, "{name} {r:?}");
                    // the tower alone: the embedder's projection and its activations on top
                    let tower = formats::memory(&twin, name, None, &r, None).unwrap();
                    assert!(tower.params < ours.params, "{name}");
                    assert!(tower.peak_bytes < ours.peak_bytes, "{name} {r:?}");
                }
            }
        }
        compared += 1;
    }
    assert!(compared >= 8, "{compared}");
}
