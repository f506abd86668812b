//! KerasHub T5Gemma and T5Gemma2 (text model) and their Seq2SeqLM, from
//! tests/data/keras_hub_text2.json.gz and the held-out-style variants of
//! tests/data/keras_hub_mutants_t5gemma.json.gz (make_keras_hub_mutants_t5gemma.py: every
//! constructor option changed one at a time, built by keras-hub 0.32). A T5GemmaBackbone
//! runs as its transformers twin (`tests/data/hf_t5gemma.json` `keras_hub_twins`, counted
//! by transformers 5.24): the same memory report, but for the untied backbone's unused
//! `reverse_embeddings`. Every variant's totals and rows are Keras's, and `memory` gives
//! a figure for each but the T5Gemma2 whose decoder is narrower than its encoder, which
//! keras-hub builds but cannot call; that one is refused in one line saying why.
mod common;
mod hf_rows;

use archbudget_core::formats::{self, hf};
use archbudget_core::memory::{Mode, Precision, RunSettings};
use serde_json::Value;

fn keras_models(file: &str) -> Vec<Value> {
    common::fixture(file)["models"].as_array().unwrap().clone()
}

fn run(mode: Mode, precision: Precision) -> RunSettings {
    RunSettings {
        mode,
        batch: 2,
        seq: 16,
        precision,
        ..Default::default()
    }
}

#[test]
fn t5gemma_runs_as_its_transformers_twin() {
    let models = keras_models("keras_hub_text2.json.gz");
    let twins = hf_rows::fixture_section("hf_t5gemma.json", "keras_hub_twins");
    assert_eq!(twins.len(), 3);
    for twin in &twins {
        let name = twin["name"].as_str().unwrap();
        let config = serde_json::to_vec(&twin["config"]).unwrap();
        for (task, head, key) in [
            ("", hf::Head::Base, "base_params"),
            ("Seq2SeqLM", hf::Head::CausalLm, "lm_params"),
        ] {
            let label = format!("{name}{task}");
            let Some(m) = models.iter().find(|m| m["name"] == label.as_str()) else {
                continue;
            };
            let text = serde_json::to_vec(&m["model_json"]).unwrap();
            let untied_backbone = task.is_empty() && twin["config"]["tie_word_embeddings"] == false;
            // the backbone alone keeps `reverse_embeddings` (vocab × decoder width) unused
            let unused = match untied_backbone {
                true => {
                    twin["config"]["decoder"]["vocab_size"].as_u64().unwrap()
                        * twin["config"]["decoder"]["hidden_size"].as_u64().unwrap()
                }
                false => 0,
            };
            assert_eq!(
                m["total_params"].as_u64().unwrap(),
                twin[key].as_u64().unwrap() + unused,
                "{label}"
            );
            for mode in [Mode::Train, Mode::Infer] {
                for precision in [Precision::Fp32, Precision::AmpBf16, Precision::Bf16] {
                    let r = run(mode, precision);
                    let ours = formats::memory(&text, &label, None, &r, Some(16)).unwrap();
                    let theirs = formats::memory(&config, name, Some(head), &r, Some(16)).unwrap();
                    assert_eq!(ours.params, theirs.params + unused, "{label}");
                    assert_eq!(ours.flops_fwd_bwd, theirs.flops_fwd_bwd, "{label}");
                    assert_eq!(
                        ours.breakdown.activations, theirs.breakdown.activations,
                        "{label} {mode:?} {precision:?}"
                    );
                    if !untied_backbone {
                        assert_eq!(ours.peak_bytes, theirs.peak_bytes, "{label} {mode:?}");
                        assert_eq!(ours.breakdown, theirs.breakdown, "{label} {mode:?}");
                    }
                }
            }
        }
    }
}

#[test]
fn t5gemma2_text_models_get_memory_with_keras_params() {
    let mut seen = 0;
    for m in keras_models("keras_hub_text2.json.gz") {
        let class = m["model_json"]["class_name"].as_str().unwrap();
        if !class.starts_with("T5Gemma2") {
            continue;
        }
        let name = m["name"].as_str().unwrap();
        let text = serde_json::to_vec(&m["model_json"]).unwrap();
        for mode in [Mode::Train, Mode::Infer] {
            let r = formats::memory(&text, name, None, &run(mode, Precision::Fp32), Some(16))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(r.params, m["total_params"].as_u64().unwrap(), "{name}");
            assert!(r.peak_bytes > r.breakdown.weights, "{name}");
        }
        seen += 1;
    }
    assert_eq!(seen, 4);
}

/// keras-hub builds these (its functional graph only asks for output shapes) but cannot
/// call them: the merged attention's k_proj reads the decoder's width.
const REFUSED: [&str; 4] = [
    "T5Gemma2[decoder_hidden_dim=24]",
    "T5Gemma2[decoder_hidden_dim=24]Seq2SeqLM",
    "T5Gemma2_options[decoder_hidden_dim=24]",
    "T5Gemma2_options[decoder_hidden_dim=24]Seq2SeqLM",
];

#[test]
fn variants_read_exactly_and_get_memory() {
    let models = keras_models("keras_hub_mutants_t5gemma.json.gz");
    assert_eq!(models.len(), 136);
    common::assert_each_reads_as_keras(&models);
    let r = run(Mode::Train, Precision::Fp32);
    for m in &models {
        let name = m["name"].as_str().unwrap();
        let text = serde_json::to_vec(&m["model_json"]).unwrap();
        match formats::memory(&text, name, None, &r, Some(16)) {
            Ok(report) => {
                assert!(!REFUSED.contains(&name), "{name} was expected refused");
                assert_eq!(report.params, m["total_params"].as_u64().unwrap(), "{name}");
                assert!(report.flops_fwd > 0, "{name}");
            }
            Err(e) => {
                let e = e.to_string();
                assert!(REFUSED.contains(&name), "{name}: {e}");
                assert!(
                    e.contains("encoder_hidden_dim (16) must equal decoder_hidden_dim (24)"),
                    "{e}"
                );
                assert_eq!(e.lines().count(), 1, "{e}");
            }
        }
    }
}

#[test]
fn generation_is_refused_in_one_line() {
    let models = keras_models("keras_hub_text2.json.gz");
    let m = models
        .iter()
        .find(|m| m["name"] == "T5GemmaSeq2SeqLM")
        .unwrap();
    let text = serde_json::to_vec(&m["model_json"]).unwrap();
    let r = RunSettings {
        new_tokens: 4,
        ..run(Mode::Generate, Precision::Fp32)
    };
    let e = formats::memory(&text, "m.json", None, &r, Some(16))
        .unwrap_err()
        .to_string();
    assert!(e.contains("generation is not lowered for t5gemma"), "{e}");
}
