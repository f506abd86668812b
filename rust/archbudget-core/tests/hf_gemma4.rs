//! gemma4_text against transformers 5.24: `tests/data/hf_gemma4.json`, made by
//! `tests/data/make_hf_gemma4.py`. Totals and classes of `Gemma4TextModel` and
//! `Gemma4ForCausalLM` (the count-only path too), each summary row against its module,
//! FLOPs and buffers of tiny configs against `torch.utils.flop_counter`, the generate
//! cache (KV-shared layers store none), and `memory` in every mode and precision.
mod common;
mod hf_flops;
mod hf_lowering;
mod hf_rows;

use archbudget_core::formats;
use archbudget_core::memory::{AttnImpl, Mode, Precision, RunSettings};
use serde_json::Value;

fn section(name: &str) -> Vec<Value> {
    hf_rows::fixture_section("hf_gemma4.json", name)
}

#[test]
fn totals_classes_and_rows_exact() {
    let rows = section("rows");
    assert!(rows.len() >= 5);
    let (failures, checked) = hf_rows::check_totals_and_rows(&rows, &hf_rows::BASE_AND_CAUSAL_LM);
    assert!(checked > 300, "only {checked} rows checked");
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn flops_and_buffers_match_the_flop_counter() {
    let flops = section("flops");
    assert!(flops.len() >= 3);
    let mut gaps: Vec<String> = flops.iter().flat_map(hf_flops::flop_counter_gaps).collect();
    for case in &flops {
        let text = serde_json::to_vec(&case["config"]).unwrap();
        let name = case["name"].as_str().unwrap();
        let run = RunSettings {
            batch: 2,
            seq: 16,
            ..Default::default()
        };
        let m = formats::memory(&text, name, None, &run, Some(16)).unwrap();
        if m.buffers != case["buffers"].as_u64().unwrap() {
            gaps.push(format!(
                "{name} buffers: {} != {}",
                m.buffers, case["buffers"]
            ));
        }
    }
    assert!(gaps.is_empty(), "{gaps:#?}");
}

#[test]
fn memory_lowers_every_config_in_every_mode() {
    for row in section("rows") {
        let name = row["name"].as_str().unwrap();
        let text = serde_json::to_vec(&row["config"]).unwrap();
        let counted = formats::summary(&text, name, None).unwrap();
        for mode in [Mode::Train, Mode::Infer, Mode::Generate] {
            for precision in [Precision::Fp32, Precision::AmpBf16, Precision::Bf16] {
                for (attn, grad_ckpt) in [(AttnImpl::Sdpa, false), (AttnImpl::Eager, true)] {
                    let run = RunSettings {
                        mode,
                        batch: 2,
                        seq: 16,
                        precision,
                        attn,
                        grad_ckpt,
                        ..Default::default()
                    };
                    let m = formats::memory(&text, name, None, &run, Some(16))
                        .unwrap_or_else(|e| panic!("{name} {mode:?}: {e}"));
                    assert_eq!(m.params, counted.total_params, "{name} {mode:?}");
                    assert!(m.peak_bytes > m.breakdown.weights, "{name} {mode:?}");
                }
            }
        }
    }
}

#[test]
fn generate_cache_leaves_out_the_kv_shared_layers() {
    let gaps = hf_lowering::generate_cache_gaps(&section("cache"), "cache_bytes");
    assert!(gaps.is_empty(), "{gaps:#?}");
}

#[test]
fn the_multimodal_wrapper_is_refused_in_one_line_naming_the_text_model() {
    let config = br#"{"model_type": "gemma4", "text_config": {"model_type": "gemma4_text"}}"#;
    let err = formats::summary(config, "config.json", None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("config.json") && err.contains("'gemma4_text'") && err.contains("text_config"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}
