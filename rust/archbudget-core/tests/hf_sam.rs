//! sam_vision_model against transformers 5.24: `tests/data/hf_sam.json`, made by
//! `tests/data/make_hf_sam.py`. Totals and class of `AutoModel` (the count-only path too),
//! each summary row against its module, FLOPs of tiny configs and of the keras-hub
//! ViTDetBackbones' twins within 1% of `torch.utils.flop_counter`, and `memory` in training
//! and inference.
mod hf_flops;
mod hf_lowering;
mod hf_rows;

use archbudget_core::formats::{self, hf};
use archbudget_core::memory::{AttnImpl, Mode, Precision, RunSettings};
use serde_json::{json, Value};

fn section(name: &str) -> Vec<Value> {
    hf_rows::fixture_section("hf_sam.json", name)
}

#[test]
fn totals_classes_and_rows_exact() {
    let rows = section("rows");
    assert!(rows.len() >= 8);
    let (failures, checked) = hf_rows::check_totals_and_rows(&rows, &hf_rows::BASE_AT_ROOT);
    assert!(checked > 60, "only {checked} rows checked");
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn sam_vision_model_has_no_language_model_head() {
    let row = &section("rows")[3];
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
fn the_keras_hub_twins_flops_match_the_flop_counter() {
    let twins = section("keras_hub_twins");
    assert_eq!(twins.len(), 6);
    let gaps: Vec<String> = twins.iter().flat_map(hf_flops::flop_counter_gaps).collect();
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
fn memory_lowers_every_config_in_training_and_inference() {
    let gaps = hf_lowering::vision_gaps(&section("rows"));
    assert!(gaps.is_empty(), "{gaps:#?}");
}

#[test]
fn windowed_layers_cost_linearly_in_the_image_and_global_ones_quadratically() {
    let flops = |image: u64, window: u64| {
        let config = json!({"model_type": "sam_vision_model", "image_size": image,
            "patch_size": 4, "hidden_size": 16, "num_hidden_layers": 1,
            "num_attention_heads": 2, "window_size": window, "global_attn_indexes": [],
            "use_rel_pos": false});
        let text = serde_json::to_vec(&config).unwrap();
        let r = run(Mode::Infer, Precision::Fp32, AttnImpl::Eager);
        formats::memory(&text, "sam", None, &r, None)
            .unwrap()
            .flops_fwd
    };
    // attention's share: 4× the pixels is 4× the windows, but 16× the global scores
    let (small, large) = (flops(64, 4), flops(128, 4));
    let (small_global, large_global) = (flops(64, 0), flops(128, 0));
    assert!(large_global > 4 * small_global);
    assert_eq!(large, 4 * small);
}

#[test]
fn gradient_checkpointing_and_generation_are_refused_in_one_line() {
    let text = serde_json::to_vec(&section("rows")[3]["config"]).unwrap();
    for (r, part) in [
        (
            RunSettings {
                grad_ckpt: true,
                ..run(Mode::Train, Precision::Fp32, AttnImpl::Sdpa)
            },
            "gradient checkpointing",
        ),
        (
            run(Mode::Generate, Precision::Fp32, AttnImpl::Sdpa),
            "does not generate",
        ),
    ] {
        let err = formats::memory(&text, "config.json", None, &r, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains(part) && !err.contains('\n'), "{err}");
    }
}
