//! KerasHub BLIP2Backbone, BLIP2CausalLM and BLIP2Seq2SeqLM lowered as their transformers
//! twin, blip-2: every BLIP2 model of keras_hub_text3.json.gz and its variants in
//! keras_hub_mutants_text3.json.gz gets a `memory` figure holding keras-hub's parameters;
//! the twins transformers 5.24 builds (`keras_hub_twins` of tests/data/hf_blip2.json,
//! made by make_hf_blip2.py from the same fixtures) count what keras-hub counts, and the
//! KerasHub model's report equals its twin config's.
mod common;
mod hf_rows;

use archbudget_core::formats::{self, hf};
use archbudget_core::memory::{AttnImpl, Mode, Precision, RunSettings};
use serde_json::Value;

fn blip2_models(file: &str) -> Vec<Value> {
    common::fixture(file)["models"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["model_json"].to_string().contains("keras_hub>BLIP2"))
        .cloned()
        .collect()
}

fn run(mode: Mode, precision: Precision, attn: AttnImpl) -> RunSettings {
    RunSettings {
        mode,
        batch: 2,
        seq: 40,
        precision,
        attn,
        ..Default::default()
    }
}

/// At the coverage protocol's seq 16 (train, batch 2), the released sizes' 32 image
/// tokens do not fit the prompt, and two Seq2SeqLM variants keep an `lm_head` of another
/// vocabulary's width (no twin counts it): each refused in one line; every other model
/// gets a figure.
#[test]
fn every_blip2_fixture_gets_a_figure_with_keras_hubs_parameters() {
    let (mut checked, mut head_refusals) = (0, 0);
    for file in ["keras_hub_text3.json.gz", "keras_hub_mutants_text3.json.gz"] {
        for m in blip2_models(file) {
            let name = m["name"].as_str().unwrap();
            let text = serde_json::to_vec(&m["model_json"]).unwrap();
            let summary = formats::summary(&text, name, None).unwrap();
            assert_eq!(summary.total_params, m["total_params"], "{name}");
            for (mode, seq) in [(Mode::Train, 16), (Mode::Infer, 40)] {
                let r = RunSettings {
                    seq,
                    ..run(mode, Precision::Fp32, AttnImpl::Sdpa)
                };
                let refused = match formats::memory(&text, name, None, &r, Some(seq)) {
                    Ok(report) => {
                        assert_eq!(report.params, summary.total_params, "{name}");
                        continue;
                    }
                    Err(e) => e.to_string(),
                };
                assert!(!refused.contains('\n'), "{refused}");
                if name.starts_with("blip2_") && seq == 16 {
                    assert!(refused.contains("num_query_tokens"), "{refused}");
                } else {
                    // a Seq2SeqLM whose lm_head kept the width of another vocabulary
                    assert!(
                        name.contains(":task[language_model.vocabulary_size=37]")
                            && refused.contains("lm_head (30 wide)"),
                        "{name}: {refused}"
                    );
                    head_refusals += 1;
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 102);
    // the two Flan-T5 Seq2SeqLM variants, in train and infer
    assert_eq!(head_refusals, 4);
}

#[test]
fn transformers_counts_each_twin_as_keras_hub_does_and_the_reports_agree() {
    let models = blip2_models("keras_hub_text3.json.gz");
    let twins = hf_rows::fixture_section("hf_blip2.json", "keras_hub_twins");
    assert_eq!(twins.len(), 3);
    for twin in twins {
        let name = twin["name"].as_str().unwrap();
        let m = models.iter().find(|m| m["name"] == name).unwrap();
        assert_eq!(twin["params"], m["total_params"], "{name}");
        let keras = serde_json::to_vec(&m["model_json"]).unwrap();
        let config = serde_json::to_vec(&twin["config"]).unwrap();
        for mode in [Mode::Train, Mode::Infer] {
            for precision in [Precision::Fp32, Precision::AmpBf16, Precision::Bf16] {
                for attn in [AttnImpl::Sdpa, AttnImpl::Eager] {
                    let r = run(mode, precision, attn);
                    let ours = formats::memory(&keras, name, None, &r, Some(r.seq)).unwrap();
                    let head = Some(hf::Head::CausalLm);
                    let theirs = formats::memory(&config, name, head, &r, Some(r.seq)).unwrap();
                    assert_eq!(ours, theirs, "{name} {mode:?} {precision:?} {attn:?}");
                }
            }
        }
    }
}

/// The released sizes (keras-hub's `blip2_opt_2.7b` backbone, `blip2_flan_t5_xl`
/// Seq2SeqLM): a training step of 8 images and 64-token prompts (the 32 image tokens
/// first) holds keras-hub's parameters; the figures the README quotes.
#[test]
fn released_sizes_train_with_keras_hubs_parameters() {
    let models = blip2_models("keras_hub_text3.json.gz");
    for name in ["blip2_opt_2.7b", "blip2_flan_t5_xl"] {
        let m = models.iter().find(|m| m["name"] == name).unwrap();
        let text = serde_json::to_vec(&m["model_json"]).unwrap();
        for precision in [Precision::AmpBf16, Precision::Fp32] {
            let r = RunSettings {
                batch: 8,
                seq: 64,
                ..run(Mode::Train, precision, AttnImpl::Sdpa)
            };
            let report = formats::memory(&text, name, None, &r, Some(64)).unwrap();
            assert_eq!(report.params, m["total_params"], "{name}");
            let gib = report.peak_bytes as f64 / (1u64 << 30) as f64;
            let gflops = report.flops_fwd as f64 / 1e9;
            println!("{name} {precision:?}: {gib:.2} GiB, {gflops:.1} GFLOPs fwd");
        }
    }
}
