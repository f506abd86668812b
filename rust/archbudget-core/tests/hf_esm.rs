//! esm against transformers 5.24: `tests/data/hf_esm.json`, made by
//! `tests/data/make_hf_esm.py`. Totals and classes of the bare model and the masked
//! LM (`causal_lm`; the count-only path too), each summary row against its module, FLOPs of
//! tiny configs within 1% of `torch.utils.flop_counter`, and `memory` in train and infer.
mod hf_flops;
mod hf_rows;

use archbudget_core::formats::{self, hf};
use archbudget_core::memory::{AttnImpl, Mode, Precision, RunSettings};
use serde_json::Value;

fn section(name: &str) -> Vec<Value> {
    hf_rows::fixture_section("hf_esm.json", name)
}

#[test]
fn totals_classes_and_rows_exact() {
    let rows = section("rows");
    assert!(rows.len() >= 4);
    let (failures, checked) = hf_rows::check_totals_and_rows(&rows, &hf_rows::BASE_AND_CAUSAL_LM);
    assert!(checked > 60, "only {checked} rows checked");
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
    for row in section("rows") {
        let name = row["name"].as_str().unwrap();
        let text = serde_json::to_vec(&row["config"]).unwrap();
        for head in [None, Some(hf::Head::Base)] {
            let counted = formats::summary(&text, name, head).unwrap();
            // an encoder does not generate
            for mode in [Mode::Train, Mode::Infer] {
                for precision in [Precision::Fp32, Precision::AmpBf16] {
                    let run = RunSettings {
                        mode,
                        batch: 2,
                        precision,
                        attn: AttnImpl::Sdpa,
                        ..Default::default()
                    };
                    let m = formats::memory(&text, name, head, &run, Some(64))
                        .unwrap_or_else(|e| panic!("{name} {head:?} {mode:?}: {e}"));
                    assert_eq!(m.params, counted.total_params, "{name} {mode:?}");
                    assert!(m.peak_bytes > m.breakdown.weights, "{name} {mode:?}");
                }
            }
        }
    }
}
