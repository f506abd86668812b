//! gemma3n_text against transformers 5.24: `tests/data/hf_gemma3n.json`, made by
//! `tests/data/make_hf_gemma3n.py`. Totals and classes of `Gemma3nTextModel` and
//! `Gemma3nForCausalLM` (the count-only path too), each summary row against its module,
//! FLOPs and buffers of tiny configs against `torch.utils.flop_counter`, the generate
//! cache (KV-shared layers store none), and `memory` in every mode and precision.
mod common;
mod hf_flops;
mod hf_lowering;
mod hf_rows;

use archbudget_core::memory::{AttnImpl, Mode, Precision};
use serde_json::Value;

fn section(name: &str) -> Vec<Value> {
    hf_rows::fixture_section("hf_gemma3n.json", name)
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
    let gaps: Vec<String> = flops.iter().flat_map(hf_flops::flop_counter_gaps).collect();
    assert!(gaps.is_empty(), "{gaps:#?}");
}

#[test]
fn memory_lowers_every_config_in_every_mode() {
    let mut runs = hf_lowering::run_grid(
        &[Mode::Train, Mode::Infer, Mode::Generate],
        &[Precision::Fp32, Precision::AmpBf16, Precision::Bf16],
        &[AttnImpl::Sdpa, AttnImpl::Eager],
        2,
    );
    for run in runs.iter_mut().filter(|run| run.attn == AttnImpl::Eager) {
        run.grad_ckpt = true;
    }
    let gaps = hf_lowering::every_run_gaps(&section("rows"), &runs, 16);
    assert!(gaps.is_empty(), "{gaps:#?}");
}

#[test]
fn generate_cache_leaves_out_the_kv_shared_layers() {
    let gaps = hf_lowering::generate_cache_gaps(&section("cache"), "cache_bytes");
    assert!(gaps.is_empty(), "{gaps:#?}");
}
