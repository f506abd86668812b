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
    let (mut failures, mut checked) = (Vec::new(), 0);
    for row in &rows {
        let name = row["name"].as_str().unwrap();
        for (key, modules_key, head) in [
            ("base", "base", hf::Head::Base),
            ("causal_lm", "lm", hf::Head::CausalLm),
        ] {
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
            if let Some(modules) = row["modules"][modules_key].as_object() {
                checked += hf_rows::check_rows(name, modules_key, &s, modules, &mut failures);
            }
        }
    }
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
