//! The mixture-of-experts and MLA types (qwen3_moe, deepseek_v2, deepseek_v3, glm4_moe,
//! gpt_oss, llama4_text) against the real library: `hf_moe.json`, made by
//! `tests/data/make_hf_moe.py` on the meta device (defaults, real checkpoint sizes,
//! edge options): totals and classes of both heads, the active parameters per token,
//! and for small models each summary row against the module of the same path.
use archbudget_core::formats::hf::{summarize, Head};
use archbudget_core::Summary;
use serde_json::Value;

fn rows() -> Vec<Value> {
    let path = format!(
        "{}/../../tests/data/hf_moe.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let data: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).expect(&path);
    data["rows"].as_array().expect("rows").clone()
}

fn count(row: &Value, head: Head) -> Summary {
    let name = row["name"].as_str().unwrap();
    summarize(&row["config"], Some(head), "config.json").unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn totals_classes_and_active_params_exact() {
    let mut failures = Vec::new();
    let rows = rows();
    for row in &rows {
        let name = row["name"].as_str().unwrap();
        for (key, head) in [("base", Head::Base), ("causal_lm", Head::CausalLm)] {
            let s = count(row, head);
            let got = (s.total_params, s.active_params, s.name.as_str());
            let want = (
                row[format!("{key}_params")].as_u64().unwrap(),
                row[format!("{key}_active")].as_u64().unwrap(),
                row[format!("{key}_class")].as_str().unwrap(),
            );
            if got != want || s.trainable_params != s.total_params {
                failures.push(format!("{name} {key}: {got:?} != {want:?}"));
            }
        }
    }
    let types: std::collections::BTreeSet<&str> = rows
        .iter()
        .map(|r| r["model_type"].as_str().unwrap())
        .collect();
    for t in [
        "qwen3_moe",
        "deepseek_v2",
        "deepseek_v3",
        "glm4_moe",
        "gpt_oss",
        "llama4_text",
    ] {
        let n = rows.iter().filter(|r| r["model_type"] == t).count();
        assert!(n >= 5, "{t}: only {n} configs");
    }
    assert!(types.len() >= 6);
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Each row equals its module's count less the rows nested inside it (tied rows
/// skipped: the module counts the shared tensor, the row does not).
#[test]
fn rows_match_modules() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for row in rows() {
        let name = row["name"].as_str().unwrap();
        for (key, head) in [("base", Head::Base), ("lm", Head::CausalLm)] {
            let Some(modules) = row["modules"][key].as_object() else {
                continue;
            };
            let s = count(&row, head);
            for r in &s.layers {
                let Some(module) = modules.get(&r.name) else {
                    failures.push(format!("{name} {key}: no module {}", r.name));
                    continue;
                };
                if module[0] != r.class_name.as_str() {
                    failures.push(format!(
                        "{name} {key}: {} is {} not {}",
                        r.name, module[0], r.class_name
                    ));
                }
                if r.explain.contains("tied to") {
                    continue;
                }
                let nested: u64 = s
                    .layers
                    .iter()
                    .filter(|o| o.name.starts_with(&format!("{}.", r.name)))
                    .map(|o| modules[&o.name][1].as_u64().unwrap())
                    .sum();
                let expected = module[1].as_u64().unwrap() - nested;
                if r.params != expected {
                    failures.push(format!(
                        "{name} {key}: row {} has {} params, module {expected}",
                        r.name, r.params
                    ));
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 300, "only {checked} rows checked");
    assert!(failures.is_empty(), "{failures:#?}");
}
