//! swin against transformers 5.24: `tests/data/hf_swin.json`, made by
//! `tests/data/make_hf_swin.py`. Totals and class of `AutoModel` (the count-only path
//! too), each summary row against its module, FLOPs of tiny configs within 1% of
//! `torch.utils.flop_counter`, and `memory` in training and inference.
mod hf_flops;
mod hf_lowering;
mod hf_rows;

use archbudget_core::formats::{self, hf};
use archbudget_core::memory::{AttnImpl, Mode, Precision, RunSettings};
use serde_json::{json, Value};

fn section(name: &str) -> Vec<Value> {
    hf_rows::fixture_section("hf_swin.json", name)
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
fn swin_has_no_language_model_head() {
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

fn run(mode: Mode, precision: Precision, attn: AttnImpl) -> RunSettings {
    RunSettings {
        mode,
        batch: 2,
        precision,
        attn,
        ..Default::default()
    }
}

#[test]
fn memory_lowers_every_lowered_config_in_training_and_inference() {
    // absolute positions are refused: see absolute_positions_are_refused_in_one_line
    let rows: Vec<Value> = section("rows")
        .into_iter()
        .filter(|row| row["config"]["use_absolute_embeddings"] != json!(true))
        .collect();
    let gaps = hf_lowering::vision_gaps(&rows);
    assert!(gaps.is_empty(), "{gaps:#?}");
    for row in &rows {
        let text = serde_json::to_vec(&row["config"]).unwrap();
        let r = run(Mode::Train, Precision::Fp32, AttnImpl::Sdpa);
        let m = formats::memory(&text, "swin", None, &r, None).unwrap();
        assert!(
            m.buffers > 0,
            "{}: relative_position_index buffers",
            row["name"]
        );
    }
}

#[test]
fn attention_runs_per_window_so_a_bigger_image_costs_linearly() {
    // windowed attention: 4× the pixels is 4× the windows, not 16× the scores
    let flops = |image: u64| {
        let config = json!({"model_type": "swin", "image_size": image, "embed_dim": 32,
            "depths": [2], "num_heads": [2], "window_size": 7});
        let text = serde_json::to_vec(&config).unwrap();
        let r = run(Mode::Train, Precision::Fp32, AttnImpl::Eager);
        formats::memory(&text, "swin", None, &r, None)
            .unwrap()
            .flops_fwd
    };
    assert_eq!(flops(224), 4 * flops(112));
}

#[test]
fn absolute_positions_and_gradient_checkpointing_are_refused_in_one_line() {
    let row = section("rows")
        .into_iter()
        .find(|r| r["config"]["use_absolute_embeddings"] == json!(true))
        .unwrap();
    let text = serde_json::to_vec(&row["config"]).unwrap();
    let r = run(Mode::Train, Precision::Fp32, AttnImpl::Sdpa);
    let err = formats::memory(&text, "config.json", None, &r, None).unwrap_err();
    assert!(err.to_string().contains("use_absolute_embeddings"), "{err}");
    let text = serde_json::to_vec(&section("rows")[1]["config"]).unwrap();
    let r = RunSettings {
        grad_ckpt: true,
        ..r
    };
    let err = formats::memory(&text, "config.json", None, &r, None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("gradient checkpointing") && !err.contains('\n'),
        "{err}"
    );
}

#[test]
fn a_stage_smaller_than_the_window_is_refused_in_one_line() {
    // transformers 5.24's forward fails there: its bias is built for the whole window
    let config = json!({"model_type": "swin", "image_size": 16, "patch_size": 4,
        "embed_dim": 8, "depths": [2], "num_heads": [2], "window_size": 7});
    assert!(hf::summarize(&config, None, "config.json").is_ok());
    let text = serde_json::to_vec(&config).unwrap();
    let r = run(Mode::Train, Precision::Fp32, AttnImpl::Sdpa);
    let err = formats::memory(&text, "config.json", None, &r, None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("4x4 map is smaller than window_size (7)") && !err.contains('\n'),
        "{err}"
    );
}
