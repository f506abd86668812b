//! albert, electra, deberta-v2 and fnet against transformers 5.24:
//! `tests/data/hf_encoders.json`, made by `tests/data/make_hf_encoders.py`. Totals and
//! classes of the bare model and the LM-head class (the count-only path too), each
//! summary row against its module, FLOPs of tiny configs within 1% of
//! `torch.utils.flop_counter`, and `memory` in training and inference.
mod hf_flops;
mod hf_lowering;
mod hf_rows;

use archbudget_core::formats::hf;
use archbudget_core::memory::{AttnImpl, Mode, Precision, RunSettings};
use serde_json::Value;

fn section(name: &str) -> Vec<Value> {
    hf_rows::fixture_section("hf_encoders.json", name)
}

#[test]
fn totals_classes_and_rows_exact() {
    let rows = section("rows");
    assert!(rows.len() >= 20);
    let (mut failures, mut checked) = (Vec::new(), 0);
    for row in &rows {
        let name = row["name"].as_str().unwrap();
        for (key, head) in [("base", hf::Head::Base), ("lm", hf::Head::CausalLm)] {
            let s = hf::summarize(&row["config"], Some(head), "config.json")
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let want = (
                row[format!("{key}_params")].as_u64().unwrap(),
                row[format!("{key}_class")].as_str().unwrap(),
            );
            let got = (s.total_params, s.name.as_str());
            if got != want {
                failures.push(format!("{name} {key}: {got:?} != {want:?}"));
            }
            let (c, _) = hf::count(&row["config"], Some(head), "config.json").unwrap();
            if c.total_params != want.0 {
                failures.push(format!("{name} {key} count-only: {}", c.total_params));
            }
            if let Some(modules) = row["modules"][key].as_object() {
                checked += hf_rows::check_rows(name, key, &s, modules, &mut failures);
            }
        }
    }
    assert!(checked > 300, "only {checked} rows checked");
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
fn memory_lowers_every_config_in_training_and_inference() {
    let mut gaps = Vec::new();
    for row in section("rows") {
        for head in [None, Some(hf::Head::Base)] {
            for mode in [Mode::Train, Mode::Infer] {
                for precision in [Precision::Fp32, Precision::AmpBf16] {
                    let run = RunSettings {
                        mode,
                        batch: 2,
                        precision,
                        attn: AttnImpl::Sdpa,
                        ..Default::default()
                    };
                    gaps.extend(hf_lowering::memory_gaps(&row, head, &run, 64));
                }
            }
        }
    }
    assert!(gaps.is_empty(), "{gaps:#?}");
}
