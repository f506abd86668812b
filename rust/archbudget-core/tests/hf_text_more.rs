//! bloom against transformers 5.24: `tests/data/hf_text_more.json`, made by
//! `tests/data/make_hf_text_more.py`. Totals and classes of the bare model and the
//! causal LM (the count-only path too), each summary row against its module, FLOPs of
//! tiny configs within 1% of `torch.utils.flop_counter`, and `memory` in every mode.
mod hf_flops;
mod hf_lowering;
mod hf_rows;

use archbudget_core::memory::{AttnImpl, Mode, Precision};
use serde_json::Value;

fn section(name: &str) -> Vec<Value> {
    hf_rows::fixture_section("hf_text_more.json", name)
}

#[test]
fn totals_classes_and_rows_exact() {
    let rows = section("rows");
    assert!(rows.len() >= 4);
    let (failures, checked) = hf_rows::check_totals_and_rows(&rows, &hf_rows::BASE_AND_CAUSAL_LM);
    assert!(checked > 40, "only {checked} rows checked");
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
fn memory_lowers_every_config_in_every_mode() {
    let runs = hf_lowering::run_grid(
        &[Mode::Train, Mode::Infer, Mode::Generate],
        &[Precision::Fp32, Precision::AmpBf16],
        &[AttnImpl::Sdpa],
        2,
    );
    let gaps = hf_lowering::every_run_gaps(&section("rows"), &runs, 64);
    assert!(gaps.is_empty(), "{gaps:#?}");
}
