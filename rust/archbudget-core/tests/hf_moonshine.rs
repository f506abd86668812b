//! moonshine against transformers 5.24 (`tests/data/hf_moonshine.json`, made by
//! `tests/data/make_hf_moonshine.py`): totals, buffers and classes of `MoonshineModel`
//! and `MoonshineForConditionalGeneration` for the released sizes and small configs
//! (attention biases, padded heads, partial rotary, untied head, other activations,
//! transformers' shared-heads quirk, grouped kv heads), every row of the small ones
//! against its module; `memory` lowers each config that transformers can run (both
//! heads, train and infer, every precision and attention); tiny configs' FLOPs equal
//! `torch.utils.flop_counter`'s; what is not lowered is refused in one line.
mod hf_flops;
mod hf_rows;

use archbudget_core::formats::{self, hf};
use archbudget_core::memory::{AttnImpl, Mode, Precision, RunSettings};
use serde_json::Value;

fn section(name: &str) -> Vec<Value> {
    hf_rows::fixture_section("hf_moonshine.json", name)
}

const HEADS: [(&str, Option<hf::Head>); 3] = [
    ("base", Some(hf::Head::Base)),
    ("lm", Some(hf::Head::CausalLm)),
    // SPEC.md: no causal-LM class, so the default is the bare model
    ("base", None),
];

#[test]
fn totals_and_classes_equal_transformers() {
    let mut failures = Vec::new();
    let rows = section("rows");
    for row in &rows {
        let name = row["name"].as_str().unwrap();
        for (key, head) in HEADS {
            let s = hf::summarize(&row["config"], head, name).unwrap();
            let params = row[format!("{key}_params")].as_u64().unwrap();
            if (s.total_params, s.trainable_params) != (params, params) {
                failures.push(format!("{name} {head:?}: {} != {params}", s.total_params));
            }
            if s.name != row[format!("{key}_class")].as_str().unwrap() {
                failures.push(format!("{name} {head:?}: class {}", s.name));
            }
        }
    }
    assert!(rows.iter().any(|r| r["name"] == "moonshine-base"));
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn rows_match_modules() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for row in section("rows") {
        let name = row["name"].as_str().unwrap();
        for (key, head) in [("base", hf::Head::Base), ("lm", hf::Head::CausalLm)] {
            let Some(modules) = row["modules"][key].as_object() else {
                continue;
            };
            let s = hf::summarize(&row["config"], Some(head), name).unwrap();
            checked += hf_rows::check_rows(name, key, &s, modules, &mut failures);
        }
    }
    assert!(checked > 200, "only {checked} rows checked");
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn memory_lowers_every_runnable_config_with_transformers_params_and_buffers() {
    for row in section("rows") {
        let name = row["name"].as_str().unwrap();
        if name == "moonshine-gqa" {
            continue;
        }
        let text = serde_json::to_vec(&row["config"]).unwrap();
        for (key, head) in [("base", hf::Head::Base), ("lm", hf::Head::CausalLm)] {
            for mode in [Mode::Train, Mode::Infer] {
                for precision in [Precision::Fp32, Precision::AmpBf16, Precision::Bf16] {
                    for attn in [AttnImpl::Sdpa, AttnImpl::Eager] {
                        let run = RunSettings {
                            mode,
                            batch: 2,
                            seq: 8,
                            precision,
                            attn,
                            ..Default::default()
                        };
                        let m = formats::memory(&text, name, Some(head), &run, Some(8))
                            .unwrap_or_else(|e| panic!("{name} {head:?} {mode:?}: {e}"));
                        assert_eq!(m.params, row[format!("{key}_params")], "{name} {head:?}");
                        assert_eq!(m.buffers, row[format!("{key}_buffers")], "{name} {head:?}");
                        assert!(m.peak_bytes > m.breakdown.weights, "{name} {mode:?}");
                    }
                }
            }
        }
    }
}

#[test]
fn flops_match_the_flop_counter() {
    let flops = section("flops");
    assert!(flops.len() >= 3);
    let gaps: Vec<String> = flops.iter().flat_map(hf_flops::flop_counter_gaps).collect();
    assert!(gaps.is_empty(), "{gaps:#?}");
}

#[test]
fn what_is_not_lowered_is_refused_in_one_line() {
    let rows = section("rows");
    let gqa = rows.iter().find(|r| r["name"] == "moonshine-gqa").unwrap();
    let small = rows
        .iter()
        .find(|r| r["name"] == "moonshine-small")
        .unwrap();
    for (config, run, says) in [
        (gqa, RunSettings::default(), "key/value heads"),
        (
            small,
            RunSettings {
                mode: Mode::Generate,
                ..Default::default()
            },
            "--mode train or infer",
        ),
    ] {
        let text = serde_json::to_vec(&config["config"]).unwrap();
        let e = formats::memory(&text, "cfg.json", Some(hf::Head::CausalLm), &run, Some(8))
            .expect_err("must fail")
            .to_string();
        assert!(e.contains(says) && !e.contains('\n'), "{e}");
    }
}
