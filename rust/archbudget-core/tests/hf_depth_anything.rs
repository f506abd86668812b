//! depth_anything against transformers 5.24: `tests/data/hf_depth_anything.json`, made by
//! `tests/data/make_hf_depth_anything.py`. Totals and class of
//! `AutoModelForDepthEstimation` (the count-only path too), each summary row against its
//! module, FLOPs of tiny configs against `torch.utils.flop_counter`, and `memory` in
//! training and inference at every precision.
mod common;
mod hf_flops;
mod hf_lowering;
mod hf_rows;

use archbudget_core::formats::hf;
use serde_json::Value;

fn section(name: &str) -> Vec<Value> {
    hf_rows::fixture_section("hf_depth_anything.json", name)
}

#[test]
fn totals_classes_and_rows_exact() {
    let rows = section("rows");
    assert!(rows.len() >= 4);
    let (failures, checked) = hf_rows::check_totals_and_rows(&rows, &hf_rows::BASE_AT_ROOT);
    assert!(checked > 100, "only {checked} rows checked");
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn depth_anything_has_no_language_model_head() {
    let row = &section("rows")[1];
    let err = hf::summarize(&row["config"], Some(hf::Head::CausalLm), "config.json")
        .unwrap_err()
        .to_string();
    assert!(err.contains("no language-model head"), "{err}");
}

#[test]
fn flops_match_the_flop_counter() {
    let flops = section("flops");
    assert!(flops.len() >= 3);
    let gaps: Vec<String> = flops.iter().flat_map(hf_flops::flop_counter_gaps).collect();
    assert!(gaps.is_empty(), "{gaps:#?}");
}

#[test]
fn memory_lowers_every_config_in_training_and_inference() {
    let gaps = hf_lowering::vision_gaps(&section("rows"));
    assert!(gaps.is_empty(), "{gaps:#?}");
}
