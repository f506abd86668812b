//! qwen3_next (Gated DeltaNet linear attention beside gated full attention, qwen2_moe's
//! sparse block) against transformers 5.24: `tests/data/hf_next.json`, made by
//! `tests/data/make_hf_next.py`. Totals, classes and active parameters of both heads
//! (the sweep's count-only path too), each summary row against its module, FLOPs of
//! tiny configs within 1% of `torch.utils.flop_counter` (one and several 64-position
//! chunks of the torch delta rule), the cache `generate` leaves (conv and recurrent
//! states of the linear layers, k and v of the full ones), and `memory` in every mode.
mod hf_flops;

use archbudget_core::formats::{self, hf};
use archbudget_core::memory::{self, AttnImpl, Mode, RunSettings};
use serde_json::Value;

mod hf_rows;

fn section(name: &str) -> Vec<Value> {
    hf_rows::fixture_section("hf_next.json", name)
}

#[test]
fn totals_classes_active_params_and_rows_exact() {
    let rows = section("rows");
    assert!(rows.len() >= 5);
    let (mut failures, mut checked) = (Vec::new(), 0);
    for row in &rows {
        let name = row["name"].as_str().unwrap();
        for (key, head) in [("base", hf::Head::Base), ("causal_lm", hf::Head::CausalLm)] {
            let s = hf::summarize(&row["config"], Some(head), "config.json")
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let want = (
                row[format!("{key}_params")].as_u64().unwrap(),
                row[format!("{key}_active")].as_u64().unwrap(),
                row[format!("{key}_class")].as_str().unwrap(),
            );
            let got = (s.total_params, s.active_params, s.name.as_str());
            if got != want {
                failures.push(format!("{name} {key}: {got:?} != {want:?}"));
            }
            let (c, _) = hf::count(&row["config"], Some(head), "config.json").unwrap();
            if (c.total_params, c.active_params) != (want.0, want.1) {
                failures.push(format!(
                    "{name} {key} count-only: {:?}",
                    (c.total_params, c.active_params)
                ));
            }
            let modules_key = if key == "base" { "base" } else { "lm" };
            if let Some(modules) = row["modules"][modules_key].as_object() {
                checked += hf_rows::check_rows(name, modules_key, &s, modules, &mut failures);
            }
        }
    }
    assert!(checked > 100, "only {checked} rows checked");
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
fn generate_cache_equals_transformers() {
    let mut failures = Vec::new();
    for case in section("caches") {
        let name = case["name"].as_str().unwrap();
        let config = &case["config"];
        let a = hf::arch(config, Some(hf::Head::CausalLm), name).unwrap();
        let run = RunSettings {
            mode: Mode::Generate,
            batch: case["batch"].as_u64().unwrap(),
            seq: case["prompt"].as_u64().unwrap(),
            new_tokens: case["new_tokens"].as_u64().unwrap(),
            ..Default::default()
        };
        let g = memory::hf::graph(&a, &memory::hf::Dropouts::from_config(config), &run).unwrap();
        let ours = memory::generate_cache_bytes(&g, &run).unwrap();
        let want = case["storage_bytes"].as_u64().unwrap();
        println!("{name}: ours {ours} transformers {want}");
        if ours != want {
            failures.push(format!("{name}: {ours} != {want}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn memory_lowers_every_config_in_every_mode() {
    for row in section("rows") {
        let name = row["name"].as_str().unwrap();
        let text = serde_json::to_vec(&row["config"]).unwrap();
        for head in [None, Some(hf::Head::Base)] {
            let counted = formats::summary(&text, name, head).unwrap();
            for mode in [Mode::Train, Mode::Infer, Mode::Generate] {
                for attn in [AttnImpl::Sdpa, AttnImpl::Eager] {
                    let run = RunSettings {
                        mode,
                        batch: 1,
                        new_tokens: 4,
                        attn,
                        ..Default::default()
                    };
                    let m = formats::memory(&text, name, head, &run, Some(80))
                        .unwrap_or_else(|e| panic!("{name} {head:?} {mode:?}: {e}"));
                    assert_eq!(m.params, counted.total_params, "{name} {mode:?}");
                    assert!(m.peak_bytes > m.breakdown.weights, "{name} {mode:?}");
                }
            }
        }
    }
}

#[test]
fn bad_linear_heads_name_the_keys() {
    let config = serde_json::json!({"model_type": "qwen3_next", "linear_num_key_heads": 3,
        "linear_num_value_heads": 4});
    let e = hf::summarize(&config, None, "cfg.json")
        .expect_err("must fail")
        .to_string();
    assert!(
        e.starts_with("cfg.json: ")
            && e.contains("linear_num_value_heads")
            && e.contains("linear_num_key_heads"),
        "{e}"
    );
    let config = serde_json::json!({"model_type": "qwen3_next", "num_hidden_layers": 2,
        "layer_types": ["linear_attention", "sliding_attention"]});
    let e = hf::summarize(&config, None, "cfg.json")
        .expect_err("must fail")
        .to_string();
    assert!(
        e.contains("layer_types") && e.contains("sliding_attention"),
        "{e}"
    );
}
