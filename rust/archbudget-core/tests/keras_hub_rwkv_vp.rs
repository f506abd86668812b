//! `memory` of KerasHub RWKV7 (Backbone, CausalLM) and VideoPrism's video encoder, every
//! fixture of tests/data/keras_hub_text2.json.gz and keras_hub_mutants_av.json.gz and the
//! RWKV-7 `.keras` archive:
//! - params equal Keras's count (the summary's total), training and inference;
//! - RWKV7's FLOPs equal torch.utils.flop_counter's on keras-hub run by Keras's torch
//!   backend (tests/data/keras_hub_rwkv7_flops.json, make_keras_hub_rwkv7_flops.py);
//! - VideoPrism's params and FLOPs equal its transformers twin's, `VideoPrismVisionModel`
//!   (tests/data/hf_video_prism.json, make_hf_video_prism.py);
//! - the recurrence's saved states: training at a longer sequence costs more per token
//!   than inference; VideoPrism's layers checkpointed with `grad_ckpt`; the bad runs
//!   each get one line.
mod common;

use archbudget_core::formats;
use archbudget_core::memory::{Mode, RunSettings};
use serde_json::Value;

fn models() -> Vec<Value> {
    ["keras_hub_text2.json.gz", "keras_hub_mutants_av.json.gz"]
        .iter()
        .flat_map(|f| common::fixture(f)["models"].as_array().unwrap().clone())
        .filter(|m| {
            let class = m["model_json"]["class_name"].as_str().unwrap();
            class.starts_with("RWKV7") || class == "VideoPrismBackbone"
        })
        .collect()
}

fn by_name(name: &str) -> Value {
    models()
        .into_iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no fixture model {name}"))
}

fn json(file: &str) -> Value {
    let path = format!("{}/../../tests/data/{file}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).expect(&path)
}

fn run(mode: Mode, batch: u64, seq: u64) -> RunSettings {
    RunSettings {
        mode,
        batch,
        seq,
        ..Default::default()
    }
}

fn memory(m: &Value, run: &RunSettings) -> archbudget_core::memory::MemoryReport {
    let name = m["name"].as_str().unwrap();
    let text = serde_json::to_vec(&m["model_json"]).unwrap();
    formats::memory(&text, name, None, run, Some(run.seq)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn every_fixture_gets_a_figure_whose_params_are_the_summarys() {
    let models = models();
    assert_eq!(
        models.len(),
        13,
        "4 RWKV7 and 2 VideoPrism, 3 and 4 mutants"
    );
    for m in &models {
        for mode in [Mode::Train, Mode::Infer] {
            let r = memory(m, &run(mode, 2, 16));
            let name = m["name"].as_str().unwrap();
            assert_eq!(r.params, m["total_params"], "{name} {mode:?}");
            assert_eq!(r.buffers, 0, "{name}");
            assert!(
                r.peak_bytes > r.breakdown.weights && r.flops_fwd > 0,
                "{name}"
            );
        }
    }
}

#[test]
fn the_rwkv7_archive_gets_a_figure() {
    let path = format!(
        "{}/../../tests/data/keras_hub_archives/rwkv7_backbone.keras",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).unwrap();
    let total = formats::summary(&bytes, &path, None).unwrap().total_params;
    let r = formats::memory(&bytes, &path, None, &run(Mode::Train, 2, 8), Some(8)).unwrap();
    assert_eq!(r.params, total);
}

#[test]
fn rwkv7_flops_equal_the_flop_counters_on_keras_torch_backend() {
    let data = json("keras_hub_rwkv7_flops.json");
    let records = data["models"].as_array().unwrap();
    assert_eq!(records.len(), 7);
    for rec in records {
        let m = by_name(rec["name"].as_str().unwrap());
        assert_eq!(rec["params"], m["total_params"]);
        let (b, s) = (rec["batch"].as_u64().unwrap(), rec["seq"].as_u64().unwrap());
        let r = memory(&m, &run(Mode::Train, b, s));
        assert_eq!(
            (r.flops_fwd, r.flops_fwd_bwd),
            (
                rec["flops_fwd"].as_u64().unwrap(),
                rec["flops_fwd_bwd"].as_u64().unwrap()
            ),
            "{}",
            rec["name"]
        );
    }
}

#[test]
fn video_prism_params_and_flops_equal_the_transformers_twins() {
    let data = json("hf_video_prism.json");
    let records = data["video_encoders"].as_array().unwrap();
    assert_eq!(records.len(), 6);
    for rec in records {
        let m = by_name(rec["name"].as_str().unwrap());
        let r = memory(&m, &run(Mode::Train, rec["batch"].as_u64().unwrap(), 1));
        let name = rec["name"].as_str().unwrap();
        assert_eq!(r.params, rec["params"], "{name}");
        assert_eq!(rec["params"], m["total_params"], "{name}");
        assert_eq!(r.flops_fwd, rec["flops_fwd"], "{name}");
        assert_eq!(r.flops_fwd_bwd, rec["flops_fwd_bwd"], "{name}");
    }
}

#[test]
fn rwkv7_training_keeps_every_positions_state() {
    // batch × heads × N × N fp32 per position and layer: quadratic in N, linear in seq
    let m = by_name("RWKV7_defaults");
    let act = |mode, seq| memory(&m, &run(mode, 2, seq)).breakdown.activations;
    let (short, long) = (act(Mode::Train, 64), act(Mode::Train, 128));
    let state = 2 * 4 * 8 * 8 * 4;
    assert!(long - short >= 64 * state, "{short} → {long}");
    assert!(act(Mode::Infer, 128) < long / 4);
}

#[test]
fn video_prism_checkpoints_each_layer() {
    let m = by_name("VideoPrism_wide");
    let act = |grad_ckpt| {
        let r = RunSettings {
            grad_ckpt,
            ..run(Mode::Train, 8, 1)
        };
        memory(&m, &r).breakdown.activations
    };
    assert!(act(true) < act(false));
}

#[test]
fn bad_runs_are_one_line() {
    for (name, mode) in [("RWKV7", Mode::Generate), ("VideoPrism", Mode::Generate)] {
        let m = by_name(name);
        let text = serde_json::to_vec(&m["model_json"]).unwrap();
        let err = formats::memory(&text, name, None, &run(mode, 1, 8), Some(8))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("train or infer") && err.lines().count() == 1,
            "{err}"
        );
    }
}
