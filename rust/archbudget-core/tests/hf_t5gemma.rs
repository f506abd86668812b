//! t5gemma against transformers 5.24 (`tests/data/hf_t5gemma.json`, made by
//! `tests/data/make_hf_t5gemma.py`): totals and classes of `T5GemmaModel` and
//! `T5GemmaForConditionalGeneration` (the count-only path too) for the released sizes and
//! small configs of their own encoder and decoder widths, every row of the small ones
//! against its module; tiny configs' FLOPs equal `torch.utils.flop_counter`'s; `memory`
//! lowers every config in training and inference at every precision.
mod hf_flops;
mod hf_rows;

use archbudget_core::formats;
use archbudget_core::memory::{AttnImpl, Mode, Precision, RunSettings};
use serde_json::Value;

fn section(name: &str) -> Vec<Value> {
    hf_rows::fixture_section("hf_t5gemma.json", name)
}

#[test]
fn totals_classes_and_rows_exact() {
    let rows = section("rows");
    assert!(rows.len() >= 7);
    let (failures, checked) = hf_rows::check_totals_and_rows(&rows, &hf_rows::BASE_AND_LM);
    assert!(checked > 150, "only {checked} rows checked");
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn flops_match_the_flop_counter() {
    let flops = section("flops");
    assert!(flops.len() >= 3);
    let gaps: Vec<String> = flops.iter().flat_map(hf_flops::flop_counter_gaps).collect();
    assert!(gaps.is_empty(), "{gaps:#?}");
}

#[test]
fn buffers_are_each_stacks_rotary_frequencies() {
    for case in section("flops") {
        let name = case["name"].as_str().unwrap();
        let text = serde_json::to_vec(&case["config"]).unwrap();
        let run = RunSettings {
            batch: 2,
            seq: 8,
            ..Default::default()
        };
        let m = formats::memory(&text, name, None, &run, Some(8)).unwrap();
        assert_eq!(m.buffers, case["buffers"].as_u64().unwrap(), "{name}");
    }
}

#[test]
fn memory_lowers_every_config_in_training_and_inference() {
    for row in section("rows") {
        let name = row["name"].as_str().unwrap();
        if row["lm_params"].as_u64().unwrap() > 1_000_000_000 {
            continue;
        }
        let text = serde_json::to_vec(&row["config"]).unwrap();
        let counted = formats::summary(&text, name, None).unwrap();
        for mode in [Mode::Train, Mode::Infer] {
            for precision in [Precision::Fp32, Precision::AmpBf16, Precision::Bf16] {
                for grad_ckpt in [false, true] {
                    let run = RunSettings {
                        mode,
                        batch: 2,
                        seq: 16,
                        precision,
                        attn: AttnImpl::Sdpa,
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
