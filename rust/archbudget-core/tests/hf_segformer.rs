//! segformer (the Mix Transformer encoder) against transformers 5.24:
//! `tests/data/hf_segformer.json`, made by `tests/data/make_hf_segformer.py`. Totals and
//! class of `AutoModel` (the count-only path too), each summary row against its module,
//! FLOPs of tiny configs within 1% of `torch.utils.flop_counter`, and `memory` in training
//! and inference.
mod hf_flops;
mod hf_lowering;
mod hf_rows;

use archbudget_core::formats::{self, hf};
use archbudget_core::memory::RunSettings;
use serde_json::{json, Value};

fn section(name: &str) -> Vec<Value> {
    hf_rows::fixture_section("hf_segformer.json", name)
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
fn a_reduction_larger_than_its_map_is_one_line_for_memory_alone() {
    // transformers builds it (the counts do not read the image), its forward fails
    let config = json!({"model_type": "segformer", "image_size": 16});
    assert!(hf::summarize(&config, None, "config.json").is_ok());
    let text = serde_json::to_vec(&config).unwrap();
    let run = RunSettings {
        batch: 2,
        ..Default::default()
    };
    let err = formats::memory(&text, "config.json", None, &run, None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("sr_ratio (8)") && err.contains("image_size (16, 16)") && !err.contains('\n'),
        "{err}"
    );
}
