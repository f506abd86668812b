//! sam (`SamModel`: image encoder, prompt encoder, mask decoder) against transformers 5.24:
//! `tests/data/hf_sam.json` (`sam_rows`, `sam_flops`), made by `tests/data/make_hf_sam.py`.
//! Totals, class and each summary row against its module; `memory`'s parameters and
//! buffers equal `model.parameters()` and `model.buffers()` in training and inference;
//! FLOPs of two tiny models equal `torch.utils.flop_counter`'s.
mod hf_flops;
mod hf_rows;

use archbudget_core::formats;
use archbudget_core::memory::{AttnImpl, Mode, Precision, RunSettings};
use serde_json::{json, Value};

fn section(name: &str) -> Vec<Value> {
    hf_rows::fixture_section("hf_sam.json", name)
}

#[test]
fn totals_classes_and_rows_exact() {
    let rows = section("sam_rows");
    assert_eq!(rows.len(), 4);
    let (failures, checked) = hf_rows::check_totals_and_rows(&rows, &hf_rows::BASE_AT_ROOT);
    assert!(checked > 80, "only {checked} rows checked");
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn memory_holds_the_parameters_and_buffers_transformers_builds() {
    for row in section("sam_rows") {
        let name = row["name"].as_str().unwrap();
        let text = serde_json::to_vec(&row["config"]).unwrap();
        for mode in [Mode::Train, Mode::Infer] {
            for (precision, attn) in [
                (Precision::Fp32, AttnImpl::Eager),
                (Precision::AmpBf16, AttnImpl::Sdpa),
            ] {
                let run = RunSettings {
                    mode,
                    batch: 2,
                    precision,
                    attn,
                    ..Default::default()
                };
                let m = formats::memory(&text, name, None, &run, None)
                    .unwrap_or_else(|e| panic!("{name} {mode:?}: {e}"));
                assert_eq!(m.params, row["base_params"], "{name} {mode:?}");
                assert_eq!(m.buffers, row["base_buffers"], "{name} {mode:?}");
                assert!(m.peak_bytes > m.breakdown.weights, "{name} {mode:?}");
            }
        }
    }
}

#[test]
fn flops_equal_the_flop_counter() {
    let flops = section("sam_flops");
    assert_eq!(flops.len(), 2);
    for case in &flops {
        assert!(hf_flops::flop_counter_gaps(case).is_empty(), "{case}");
        let text = serde_json::to_vec(&case["config"]).unwrap();
        let run = RunSettings {
            batch: case["batch"].as_u64().unwrap(),
            attn: AttnImpl::Eager,
            ..Default::default()
        };
        let m = formats::memory(&text, "sam", None, &run, None).unwrap();
        assert_eq!(m.flops_fwd, case["flops_fwd"], "{}", case["name"]);
        assert_eq!(m.flops_fwd_bwd, case["flops_fwd_bwd"], "{}", case["name"]);
    }
}

#[test]
fn widths_that_cannot_be_added_are_refused_in_one_line() {
    let base = &section("sam_rows")[2]["config"];
    for (edit, key) in [
        (
            json!({"prompt_encoder_config": {"hidden_size": 6, "image_size": 16, "patch_size": 2}}),
            "prompt_encoder_config.hidden_size",
        ),
        (
            json!({"prompt_encoder_config": {"hidden_size": 8, "image_size": 32, "patch_size": 2}}),
            "grid",
        ),
        (
            json!({"mask_decoder_config": {"hidden_size": 16, "num_attention_heads": 2}}),
            "mask_decoder_config.hidden_size",
        ),
    ] {
        let mut config = base.clone();
        for (k, v) in edit.as_object().unwrap() {
            config[k] = v.clone();
        }
        let text = serde_json::to_vec(&config).unwrap();
        // transformers builds it: the summary counts it
        assert!(formats::summary(&text, "config.json", None).is_ok());
        let e = formats::memory(&text, "config.json", None, &RunSettings::default(), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains(key) && !e.contains('\n'), "{e}");
    }
}

#[test]
fn generation_is_refused_in_one_line() {
    let text = serde_json::to_vec(&section("sam_rows")[2]["config"]).unwrap();
    let run = RunSettings {
        mode: Mode::Generate,
        ..Default::default()
    };
    let e = formats::memory(&text, "config.json", None, &run, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not generate") && !e.contains('\n'), "{e}");
}
