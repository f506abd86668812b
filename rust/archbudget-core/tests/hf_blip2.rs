//! blip-2 against transformers 5.24: `tests/data/hf_blip2.json`, made by
//! `tests/data/make_hf_blip2.py`. Totals and classes of `Blip2Model` and
//! `Blip2ForConditionalGeneration` (the count-only path too), each summary row against its
//! module, buffers, and `memory` in training and inference.
mod hf_rows;

use archbudget_core::formats::{self, hf};
use archbudget_core::memory::{AttnImpl, Mode, Precision, RunSettings};
use serde_json::Value;

fn section(name: &str) -> Vec<Value> {
    hf_rows::fixture_section("hf_blip2.json", name)
}

#[test]
fn totals_classes_and_rows_exact() {
    let rows = section("rows");
    assert!(rows.len() >= 8);
    let (failures, checked) = hf_rows::check_totals_and_rows(&rows, &hf_rows::BASE_AND_CAUSAL_LM);
    assert!(checked > 500, "only {checked} rows checked");
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn flops_equal_the_flop_counter() {
    let flops = section("flops");
    assert_eq!(flops.len(), 3);
    let mut gaps = Vec::new();
    for case in &flops {
        let name = case["name"].as_str().unwrap();
        let text = serde_json::to_vec(&case["config"]).unwrap();
        let run = RunSettings {
            batch: case["batch"].as_u64().unwrap(),
            seq: case["seq"].as_u64().unwrap(),
            attn: AttnImpl::parse(case["attn"].as_str().unwrap()).unwrap(),
            ..Default::default()
        };
        let m = formats::memory(&text, name, Some(hf::Head::CausalLm), &run, Some(run.seq))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let got = (m.params, m.flops_fwd, m.flops_fwd_bwd);
        let want = (
            case["params"].as_u64().unwrap(),
            case["flops_fwd"].as_u64().unwrap(),
            case["flops_fwd_bwd"].as_u64().unwrap(),
        );
        println!("{name} {}: ours {got:?} counter {want:?}", case["attn"]);
        if got != want {
            gaps.push(format!("{name} {}: {got:?} != {want:?}", case["attn"]));
        }
    }
    assert!(gaps.is_empty(), "{gaps:#?}");
}

fn run(mode: Mode, precision: Precision, attn: AttnImpl) -> RunSettings {
    RunSettings {
        mode,
        batch: 2,
        seq: 40,
        precision,
        attn,
        ..Default::default()
    }
}

#[test]
fn memory_lowers_every_config_in_training_and_inference() {
    for row in section("rows") {
        let name = row["name"].as_str().unwrap();
        let text = serde_json::to_vec(&row["config"]).unwrap();
        for (head, key) in [(hf::Head::Base, "base"), (hf::Head::CausalLm, "causal_lm")] {
            for mode in [Mode::Train, Mode::Infer] {
                for precision in [Precision::Fp32, Precision::AmpBf16, Precision::Bf16] {
                    for attn in [AttnImpl::Sdpa, AttnImpl::Eager] {
                        let r = run(mode, precision, attn);
                        let m = formats::memory(&text, name, Some(head), &r, Some(r.seq))
                            .unwrap_or_else(|e| panic!("{name} {mode:?}: {e}"));
                        assert_eq!(m.params, row[format!("{key}_params")], "{name} {key}");
                        assert_eq!(m.buffers, row[format!("{key}_buffers")], "{name} {key}");
                        assert!(m.peak_bytes > m.breakdown.weights, "{name} {mode:?}");
                    }
                }
            }
        }
    }
}

#[test]
fn what_is_not_lowered_is_refused_in_one_line() {
    let text = serde_json::to_vec(&section("rows")[3]["config"]).unwrap();
    let base = run(Mode::Train, Precision::Fp32, AttnImpl::Sdpa);
    for (r, part) in [
        (
            RunSettings {
                grad_ckpt: true,
                ..base
            },
            "gradient checkpointing",
        ),
        (
            run(Mode::Generate, Precision::Fp32, AttnImpl::Sdpa),
            "does not generate",
        ),
        (RunSettings { seq: 3, ..base }, "num_query_tokens"),
    ] {
        let err = formats::memory(&text, "config.json", None, &r, Some(r.seq))
            .unwrap_err()
            .to_string();
        assert!(err.contains(part) && !err.contains('\n'), "{err}");
    }
}
