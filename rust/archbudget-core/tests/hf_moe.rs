//! The mixture-of-experts and MLA types (qwen3_moe, deepseek_v2, deepseek_v3, glm4_moe,
//! gpt_oss, llama4_text) against the real library: `hf_moe.json`, made by
//! `tests/data/make_hf_moe.py` on the meta device (defaults, real checkpoint sizes,
//! edge options): totals and classes of both heads, the active parameters per token,
//! and for small models each summary row against the module of the same path.
use archbudget_core::formats::hf::{count as count_totals, summarize, Head};
use archbudget_core::Summary;
use serde_json::Value;

mod hf_lowering;
mod hf_rows;

fn rows() -> Vec<Value> {
    section("rows")
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
            // the sweep's count-only path (blocks counted once per kind) agrees
            let (c, _) = count_totals(&row["config"], Some(head), "config.json").unwrap();
            if (c.total_params, c.active_params) != (want.0, want.1) {
                failures.push(format!(
                    "{name} {key} count-only: {:?}",
                    (c.total_params, c.active_params)
                ));
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
            checked += hf_rows::check_rows(name, key, &s, modules, &mut failures);
        }
    }
    assert!(checked > 300, "only {checked} rows checked");
    assert!(failures.is_empty(), "{failures:#?}");
}

fn section(name: &str) -> Vec<Value> {
    hf_rows::fixture_section("hf_moe.json", name)
}

/// FLOPs of tiny configs of every type within 1% of `torch.utils.flop_counter` (CPU,
/// experts on transformers' eager path, which the counter sees; see make_hf_moe.py),
/// and parameters and buffers equal to the model's.
#[test]
fn flops_params_and_buffers_match_torch() {
    use archbudget_core::formats;
    use archbudget_core::memory::{AttnImpl, RunSettings};
    let cases = section("flops");
    assert!(cases.len() >= 9);
    let mut failures = Vec::new();
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let text = serde_json::to_vec(&case["config"]).unwrap();
        let head = match case["head"].as_str().unwrap() {
            "base" => Head::Base,
            _ => Head::CausalLm,
        };
        let seq = case["seq"].as_u64().unwrap();
        let run = RunSettings {
            batch: case["batch"].as_u64().unwrap(),
            seq,
            attn: match case["attn"].as_str() {
                Some("eager") => AttnImpl::Eager,
                _ => AttnImpl::Sdpa,
            },
            ..Default::default()
        };
        let m = formats::memory(&text, name, Some(head), &run, Some(seq))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        for (ours, key) in [(m.params, "params"), (m.buffers, "buffers")] {
            if ours != case[key].as_u64().unwrap() {
                failures.push(format!("{name} {key}: {ours} != {}", case[key]));
            }
        }
        for (ours, key) in [
            (m.flops_fwd, "flops_fwd"),
            (m.flops_fwd_bwd, "flops_fwd_bwd"),
        ] {
            let want = case[key].as_u64().unwrap() as f64;
            let gap = 100.0 * (ours as f64 / want - 1.0);
            println!("{name} {key}: ours {ours} counter {want} ({gap:+.4}%)");
            if gap.abs() > 1.0 {
                failures.push(format!("{name} {key}: {ours} vs {want} ({gap:+.3}%)"));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The kv cache `generate` leaves (tiny MLA, gpt_oss sliding + sinks, llama4 chunked,
/// qwen3_moe full attention; CPU, greedy): archbudget's cache bytes equal the bytes of
/// the cache tensors' storage.
#[test]
fn generate_cache_equals_transformers() {
    let cases = section("caches");
    assert!(cases.len() >= 4);
    let gaps = hf_lowering::generate_cache_gaps(&cases, "storage_bytes");
    assert!(gaps.is_empty(), "{gaps:#?}");
}
