//! The second reach pass against transformers 5.24: the Qwen3-VL text decoders
//! (qwen3_vl_text, qwen3_vl_moe_text: bare models only, as transformers builds them) and
//! the llama differences helium, hunyuan_v1_dense and ministral, and the sparse
//! granitemoeshared, phimoe, dots1, glm4_moe_lite and flex_olmo:
//! `tests/data/hf_reach2.json`, made by `tests/data/make_hf_reach2.py`. Totals, classes
//! and active parameters of every head the type has (the sweep's count-only path too),
//! each summary row against its module, tiny configs' FLOPs within 1% of
//! `torch.utils.flop_counter`, `memory` in train, infer and generate for every config,
//! and the multimodal wrappers whose tower is not read refused in one line.
mod hf_flops;
mod hf_lowering;
mod hf_rows;

use archbudget_core::formats::hf;
use archbudget_core::memory::{AttnImpl, Mode, Precision};
use hf_rows::FixtureHead;
use serde_json::{json, Value};

fn section(name: &str) -> Vec<Value> {
    hf_rows::fixture_section("hf_reach2.json", name)
}

/// The bare model, as the default head and asked for by name.
const BASE_ONLY: [FixtureHead; 2] = [
    FixtureHead {
        key: "base",
        head: None,
        modules: Some("base"),
    },
    FixtureHead {
        key: "base",
        head: Some(hf::Head::Base),
        modules: Some("base"),
    },
];

#[test]
fn totals_classes_and_rows_exact() {
    let rows = section("rows");
    let types: std::collections::BTreeSet<&str> = rows
        .iter()
        .map(|r| r["model_type"].as_str().unwrap())
        .collect();
    assert_eq!(types.len(), 10, "{types:?}");
    let (with_lm, bare): (Vec<Value>, Vec<Value>) = rows
        .into_iter()
        .partition(|r| r.get("causal_lm_params").is_some());
    assert!(!with_lm.is_empty() && !bare.is_empty());
    let (mut failures, mut checked) =
        hf_rows::check_totals_and_rows(&with_lm, &hf_rows::BASE_AND_CAUSAL_LM);
    let (more, n) = hf_rows::check_totals_and_rows(&bare, &BASE_ONLY);
    failures.extend(more);
    checked += n;
    assert!(checked > 150, "only {checked} rows checked");
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn flops_match_the_flop_counter() {
    let cases = section("flops");
    assert!(cases.len() >= 10);
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

/// The text types have no causal-LM class in transformers: asking for one is refused.
#[test]
fn vl_text_types_have_no_lm_head() {
    for model_type in ["qwen3_vl_text", "qwen3_vl_moe_text"] {
        let e = hf::summarize(
            &json!({ "model_type": model_type }),
            Some(hf::Head::CausalLm),
            "cfg.json",
        )
        .expect_err("must fail")
        .to_string();
        assert!(e.contains("use head 'base'") && !e.contains('\n'), "{e}");
    }
}

/// Qwen2-VL, Qwen3-VL and Qwen3.5's multimodal wrappers: their towers are not read, so
/// the wrapper is refused in one line that names the text type to read instead.
#[test]
fn wrappers_without_a_tower_are_refused_naming_the_text_type() {
    for (wrapper, text, readable) in [
        ("qwen3_vl", "qwen3_vl_text", true),
        ("qwen3_vl_moe", "qwen3_vl_moe_text", true),
        ("qwen3_5", "qwen3_5_text", true),
        ("qwen3_5_moe", "qwen3_5_moe_text", true),
        ("qwen2_vl", "qwen2_vl_text", false),
    ] {
        let e = hf::summarize(&json!({ "model_type": wrapper }), None, "cfg.json")
            .expect_err("must fail")
            .to_string();
        assert!(
            e.starts_with("cfg.json: ")
                && e.contains(&format!("'{wrapper}'"))
                && e.contains(&format!("'{text}'"))
                && e.contains("text_config") == readable
                && !e.contains('\n'),
            "{e}"
        );
    }
}

/// dots1's config defaults the expert counts and top-k to null, which builds no model in
/// transformers: a config without them is refused naming the key.
#[test]
fn dots1_needs_its_expert_counts() {
    let given = json!({"model_type": "dots1", "n_shared_experts": 1, "n_routed_experts": 4,
        "num_experts_per_tok": 2});
    for key in [
        "n_shared_experts",
        "n_routed_experts",
        "num_experts_per_tok",
    ] {
        let mut config = given.clone();
        config.as_object_mut().unwrap().remove(key);
        let e = hf::summarize(&config, None, "cfg.json")
            .expect_err("must fail")
            .to_string();
        assert!(
            e.starts_with("cfg.json: ") && e.contains(&format!("'{key}'")) && !e.contains('\n'),
            "{e}"
        );
    }
}
