//! The types added for reach against transformers 5.24: the llama-difference decoders
//! (ernie4_5, seed_oss, granite, ministral3, arcee, vaultgemma, exaone4, glm, glm4), the
//! Qwen3.5 text decoders (qwen3_5_text, qwen3_5_moe_text), the sparse olmoe and
//! granitemoe, and roberta's copies (xlm-roberta, camembert, data2vec-text): `tests/data/hf_reach.json`, made by
//! `tests/data/make_hf_reach.py`. Totals, classes and active parameters of both heads
//! (the sweep's count-only path too), each summary row against its module, tiny configs'
//! FLOPs within 1% of `torch.utils.flop_counter`, and `memory` in train, infer and
//! generate for every config.
mod hf_flops;
mod hf_lowering;
mod hf_rows;

use archbudget_core::arch::AttentionSpan;
use archbudget_core::formats::hf;
use archbudget_core::memory::{AttnImpl, Mode, Precision};
use serde_json::{json, Value};

fn section(name: &str) -> Vec<Value> {
    hf_rows::fixture_section("hf_reach.json", name)
}

#[test]
fn totals_classes_and_rows_exact() {
    let rows = section("rows");
    let types: std::collections::BTreeSet<&str> = rows
        .iter()
        .map(|r| r["model_type"].as_str().unwrap())
        .collect();
    assert_eq!(types.len(), 16, "{types:?}");
    let (failures, checked) = hf_rows::check_totals_and_rows(&rows, &hf_rows::BASE_AND_CAUSAL_LM);
    assert!(checked > 300, "only {checked} rows checked");
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn flops_match_the_flop_counter() {
    let cases = section("flops");
    assert!(cases.len() >= 17);
    let gaps: Vec<String> = cases.iter().flat_map(hf_flops::flop_counter_gaps).collect();
    assert!(gaps.is_empty(), "{gaps:#?}");
}

#[test]
fn memory_lowers_every_config_in_every_mode() {
    let runs = hf_lowering::run_grid(
        &[Mode::Train, Mode::Infer, Mode::Generate],
        &[Precision::Fp32],
        &[AttnImpl::Sdpa],
        2,
    );
    let gaps = hf_lowering::every_run_gaps(&section("rows"), &runs, 16);
    assert!(gaps.is_empty(), "{gaps:#?}");
}

/// `modeling_exaone4.py`: rotary embeddings on the sliding layers only, where the model
/// has a window ("global NoPE"); on every layer without one.
#[test]
fn exaone4_full_layers_skip_rotary_only_beside_sliding_ones() {
    let layers = |config: Value| hf::arch(&config, None, "cfg.json").unwrap().details.layers;
    let hybrid = layers(json!({"model_type": "exaone4", "num_hidden_layers": 4,
        "sliding_window": 8, "sliding_window_pattern": 2}));
    let got: Vec<(bool, bool)> = hybrid
        .iter()
        .map(|l| (matches!(l.span, AttentionSpan::Sliding(8)), l.rotary))
        .collect();
    assert_eq!(
        got,
        [(true, true), (false, false), (true, true), (false, false)]
    );
    let full = layers(json!({"model_type": "exaone4", "num_hidden_layers": 2,
        "sliding_window": null, "layer_types": ["full_attention", "full_attention"]}));
    assert!(full
        .iter()
        .all(|l| l.rotary && l.span == AttentionSpan::Full));
}

/// Bad keys of the new readers are refused in one line naming the file and the key.
#[test]
fn bad_keys_name_the_key() {
    for (config, key) in [
        (
            json!({"model_type": "olmoe", "num_experts": 0}),
            "num_experts",
        ),
        (
            json!({"model_type": "granitemoe", "num_local_experts": 0}),
            "num_local_experts",
        ),
        (
            json!({"model_type": "qwen3_5_moe_text", "num_experts_per_tok": -1}),
            "num_experts_per_tok",
        ),
        (
            json!({"model_type": "qwen3_5_text", "linear_num_key_heads": 3,
                "linear_num_value_heads": 4}),
            "linear_num_value_heads",
        ),
        (
            json!({"model_type": "exaone4", "sliding_window_pattern": "LLLG"}),
            "sliding_window_pattern",
        ),
        (
            json!({"model_type": "ernie4_5", "use_bias": "yes"}),
            "use_bias",
        ),
    ] {
        let e = hf::summarize(&config, None, "cfg.json")
            .expect_err("must fail")
            .to_string();
        assert!(
            e.starts_with("cfg.json: ") && e.contains(key) && !e.contains('\n'),
            "{e}"
        );
    }
}
