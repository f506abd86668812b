//! `memory` of KerasHub PARSeq (backbone and PARSeqCausalLM), lowered from its own layers
//! (memory/parseq.rs): every PARSeq model of keras_hub_text3.json.gz and
//! keras_hub_mutants_text3.json.gz (built by keras-hub 0.32) gives a figure in training
//! and inference, fp32 and bf16, whose parameters equal Keras's total and whose weights
//! fit under the peak; the FLOPs equal the layer-shape formula of
//! tests/data/make_keras_hub_parseq_flops.py (from keras-hub's own layers' shapes and its
//! permutation count) on two small models, and the permutations keras-hub's; what it does
//! not model is one clear line.
mod common;

use archbudget_core::formats;
use archbudget_core::formats::keras_hub::parseq::training_permutations;
use archbudget_core::memory::{lora::Lora, Mode, Precision, RunSettings};
use serde_json::Value;

fn parseq_models() -> Vec<Value> {
    ["keras_hub_text3.json.gz", "keras_hub_mutants_text3.json.gz"]
        .iter()
        .flat_map(|f| common::fixture(f)["models"].as_array().unwrap().clone())
        .filter(|m| {
            let json = &m["model_json"];
            let backbone = json["config"].get("backbone").unwrap_or(json);
            backbone["class_name"] == "PARSeqBackbone"
        })
        .collect()
}

fn text(m: &Value) -> Vec<u8> {
    serde_json::to_vec(&m["model_json"]).unwrap()
}

fn run(mode: Mode, precision: Precision, batch: u64) -> RunSettings {
    RunSettings {
        mode,
        precision,
        batch,
        ..Default::default()
    }
}

#[test]
fn every_parseq_model_has_a_figure_with_keras_params() {
    let models = parseq_models();
    // 3 small backbones and 3 tasks, the preset, and the variants
    assert!(models.len() >= 60, "{} PARSeq models", models.len());
    for m in &models {
        let name = m["name"].as_str().unwrap();
        let total = m["total_params"].as_u64().unwrap();
        // the preset's encoder is ViT-S on 32×128 images: a batch of 2 keeps it quick
        for mode in [Mode::Train, Mode::Infer] {
            for precision in [Precision::Fp32, Precision::Bf16] {
                let r = formats::memory(&text(m), name, None, &run(mode, precision, 2), None)
                    .unwrap_or_else(|e| panic!("{name} {mode:?} {precision:?}: {e}"));
                assert_eq!(r.params, total, "{name} {mode:?} {precision:?}");
                assert_eq!(r.buffers, 0, "{name}");
                assert!(
                    r.breakdown.weights <= r.peak_bytes && r.flops_fwd > 0,
                    "{name} {mode:?} {precision:?}: {r:?}"
                );
            }
        }
    }
}

#[test]
fn flops_equal_the_layer_shape_formula() {
    let data = common::fixture("keras_hub_parseq_flops.json.gz");
    let batch = data["batch"].as_u64().unwrap();
    let models = data["models"].as_array().unwrap();
    assert_eq!(models.len(), 4);
    for m in models {
        let name = m["name"].as_str().unwrap();
        let infer = formats::memory(
            &text(m),
            name,
            None,
            &run(Mode::Infer, Precision::Fp32, batch),
            None,
        )
        .unwrap();
        let train = formats::memory(
            &text(m),
            name,
            None,
            &run(Mode::Train, Precision::Fp32, batch),
            None,
        )
        .unwrap();
        assert_eq!(
            (infer.flops_fwd, train.flops_fwd_bwd),
            (
                m["infer_flops_fwd"].as_u64().unwrap(),
                m["train_flops_fwd_bwd"].as_u64().unwrap()
            ),
            "{name}"
        );
    }
}

/// The decoder passes of the permutation loss are as many as keras-hub's own
/// `generate_training_permutations` returns, over label lengths and the task's options.
#[test]
fn permutations_are_keras_hubs() {
    let data = common::fixture("keras_hub_parseq_flops.json.gz");
    let counts = data["permutations"].as_array().unwrap();
    assert_eq!(counts.len(), 120);
    for c in counts {
        let n = |k: &str| c[k].as_u64().unwrap();
        let flag = |k: &str| c[k].as_bool().unwrap();
        let ours = training_permutations(
            n("max_label_length"),
            n("num_perms"),
            flag("add_forward_perms"),
            flag("add_mirrored_perms"),
        );
        assert_eq!(ours, n("count"), "{c}");
    }
}

/// The permutation loss costs more than the backbone's stand-in loss: six decoder passes
/// and the encoder again.
#[test]
fn the_causal_lm_trains_its_permutations() {
    let data = common::fixture("keras_hub_parseq_flops.json.gz");
    let models = data["models"].as_array().unwrap();
    let by_name = |n: &str| models.iter().find(|m| m["name"] == n).unwrap();
    let train = run(Mode::Train, Precision::Fp32, 4);
    let backbone = formats::memory(&text(by_name("PARSeq")), "b", None, &train, None).unwrap();
    let task = formats::memory(&text(by_name("PARSeqCausalLM")), "t", None, &train, None).unwrap();
    assert_eq!(by_name("PARSeqCausalLM")["permutations"], 6);
    assert!(
        task.peak_bytes > backbone.peak_bytes,
        "{task:?} {backbone:?}"
    );
    assert!(task.flops_fwd_bwd > 3 * backbone.flops_fwd_bwd);
}

#[test]
fn what_is_not_modelled_is_one_line() {
    let models = parseq_models();
    let m = &models[0];
    let base = run(Mode::Train, Precision::Fp32, 2);
    for (r, key) in [
        (
            RunSettings {
                mode: Mode::Generate,
                ..base
            },
            "generation",
        ),
        (
            RunSettings {
                grad_ckpt: true,
                ..base
            },
            "checkpointing",
        ),
        (
            RunSettings {
                lora: Some(Lora::new(4, None, 0.0).unwrap()),
                ..base
            },
            "LoRA",
        ),
    ] {
        let err = formats::memory(&text(m), "m.json", None, &r, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("PARSeq") && err.contains(key), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}
