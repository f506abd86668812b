//! qwen3_next (Gated DeltaNet linear attention beside gated full attention, qwen2_moe's
//! sparse block) against transformers 5.24: `tests/data/hf_next.json`, made by
//! `tests/data/make_hf_next.py`. Totals, classes and active parameters of both heads
//! (the sweep's count-only path too), each summary row against its module, FLOPs of
//! tiny configs within 1% of `torch.utils.flop_counter` (one and several 64-position
//! chunks of the torch delta rule), the cache `generate` leaves (conv and recurrent
//! states of the linear layers, k and v of the full ones), and `memory` in every mode.
mod hf_flops;
mod hf_lowering;

use archbudget_core::formats::hf;
use archbudget_core::memory::{AttnImpl, Mode, Precision};
use serde_json::Value;

mod hf_rows;

fn section(name: &str) -> Vec<Value> {
    hf_rows::fixture_section("hf_next.json", name)
}

#[test]
fn totals_classes_active_params_and_rows_exact() {
    let rows = section("rows");
    assert!(rows.len() >= 5);
    let (failures, checked) = hf_rows::check_totals_and_rows(&rows, &hf_rows::BASE_AND_CAUSAL_LM);
    assert!(checked > 100, "only {checked} rows checked");
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn flops_match_the_flop_counter() {
    let gaps: Vec<String> = section("flops")
        .iter()
        .flat_map(hf_flops::flop_counter_gaps)
        .collect();
    assert!(gaps.is_empty(), "{gaps:#?}");
}

#[test]
fn generate_cache_equals_transformers() {
    let gaps = hf_lowering::generate_cache_gaps(&section("caches"), "storage_bytes");
    assert!(gaps.is_empty(), "{gaps:#?}");
}

#[test]
fn memory_lowers_every_config_in_every_mode() {
    let runs = hf_lowering::run_grid(
        &[Mode::Train, Mode::Infer, Mode::Generate],
        &[Precision::Fp32],
        &[AttnImpl::Sdpa, AttnImpl::Eager],
        1,
    );
    let gaps = hf_lowering::every_run_gaps(&section("rows"), &runs, 80);
    assert!(gaps.is_empty(), "{gaps:#?}");
}

#[test]
fn bad_linear_heads_name_the_keys() {
    let config = serde_json::json!({"model_type": "qwen3_next", "linear_num_key_heads": 3,
        "linear_num_value_heads": 4});
    let e = hf::summarize(&config, None, "cfg.json")
        .expect_err("must fail")
        .to_string();
    assert!(
        e.starts_with("cfg.json: ")
            && e.contains("linear_num_value_heads")
            && e.contains("linear_num_key_heads"),
        "{e}"
    );
    let config = serde_json::json!({"model_type": "qwen3_next", "num_hidden_layers": 2,
        "layer_types": ["linear_attention", "sliding_attention"]});
    let e = hf::summarize(&config, None, "cfg.json")
        .expect_err("must fail")
        .to_string();
    assert!(
        e.contains("layer_types") && e.contains("sliding_attention"),
        "{e}"
    );
}
