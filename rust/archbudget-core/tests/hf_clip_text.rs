//! clip_text_model and siglip_text_model against transformers 5.24:
//! `tests/data/hf_clip_text.json`, made by `tests/data/make_hf_clip_text.py`. Totals and
//! classes (the count-only path too), each summary row against its module, FLOPs of tiny
//! configs within 1% of `torch.utils.flop_counter`, and `memory` in train and infer.
mod hf_flops;
mod hf_rows;

use archbudget_core::formats::{self, hf};
use archbudget_core::memory::{Mode, Precision, RunSettings};
use serde_json::Value;

fn section(name: &str) -> Vec<Value> {
    hf_rows::fixture_section("hf_clip_text.json", name)
}

#[test]
fn totals_classes_and_rows_exact() {
    let rows = section("rows");
    assert!(rows.len() >= 5);
    let (failures, checked) = hf_rows::check_totals_and_rows(
        &rows,
        &[hf_rows::FixtureHead {
            key: "base",
            head: None,
            modules: Some("base"),
        }],
    );
    assert!(checked > 20, "only {checked} rows checked");
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
fn memory_lowers_every_config_and_refuses_a_causal_lm_head() {
    for row in section("rows") {
        let name = row["name"].as_str().unwrap();
        let text = serde_json::to_vec(&row["config"]).unwrap();
        let counted = formats::summary(&text, name, None).unwrap();
        for mode in [Mode::Train, Mode::Infer] {
            for precision in [Precision::Fp32, Precision::AmpBf16] {
                let run = RunSettings {
                    mode,
                    batch: 2,
                    seq: 16,
                    precision,
                    ..Default::default()
                };
                let m = formats::memory(&text, name, None, &run, Some(16))
                    .unwrap_or_else(|e| panic!("{name} {mode:?}: {e}"));
                assert_eq!(m.params, counted.total_params, "{name} {mode:?}");
                assert!(m.peak_bytes > m.breakdown.weights, "{name} {mode:?}");
            }
        }
        let err = formats::summary(&text, name, Some(hf::Head::CausalLm)).unwrap_err();
        assert!(err.to_string().contains("no language-model head"), "{err}");
    }
}
