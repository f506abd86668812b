//! dinov3_vit against transformers 5.24: `tests/data/hf_dinov3_vit.json`, made by
//! `tests/data/make_hf_dinov3_vit.py`. Totals and class of `AutoModel` (the count-only
//! path too), each summary row against its module, FLOPs of tiny configs against
//! `torch.utils.flop_counter`, `memory` in training and inference at every precision, and
//! keras-hub's DINOV3Backbone lowered as its twin.
mod common;
mod hf_flops;
mod hf_lowering;
mod hf_rows;

use archbudget_core::formats::{self, hf};
use archbudget_core::memory::{Mode, RunSettings};
use serde_json::Value;

fn section(name: &str) -> Vec<Value> {
    hf_rows::fixture_section("hf_dinov3_vit.json", name)
}

#[test]
fn totals_classes_and_rows_exact() {
    let rows = section("rows");
    assert!(rows.len() >= 5);
    let (failures, checked) = hf_rows::check_totals_and_rows(&rows, &hf_rows::BASE_AT_ROOT);
    assert!(checked > 30, "only {checked} rows checked");
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn dinov3_has_no_language_model_head() {
    let row = &section("rows")[1];
    let err = hf::summarize(&row["config"], Some(hf::Head::CausalLm), "config.json")
        .unwrap_err()
        .to_string();
    assert!(err.contains("no language-model head"), "{err}");
}

#[test]
fn flops_match_the_flop_counter() {
    let flops = section("flops");
    assert!(flops.len() >= 3);
    let gaps: Vec<String> = flops.iter().flat_map(hf_flops::flop_counter_gaps).collect();
    assert!(gaps.is_empty(), "{gaps:#?}");
}

#[test]
fn memory_lowers_every_config_in_training_and_inference() {
    let gaps = hf_lowering::vision_gaps(&section("rows"));
    assert!(gaps.is_empty(), "{gaps:#?}");
}

#[test]
fn keras_hub_dinov3_has_its_twins_parameters() {
    let data = common::fixture("keras_hub_new.json.gz");
    for twin in section("keras_hub_twins") {
        let name = twin["name"].as_str().unwrap();
        let m = data["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .unwrap();
        let text = serde_json::to_vec(&m["model_json"]).unwrap();
        for mode in [Mode::Train, Mode::Infer] {
            let run = RunSettings {
                mode,
                batch: 2,
                ..Default::default()
            };
            let report = formats::memory(&text, name, None, &run, None).unwrap();
            assert_eq!(report.params, twin["params"].as_u64().unwrap(), "{name}");
        }
    }
}
