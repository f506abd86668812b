//! Held-out real config.json files of public checkpoints (`tests/data/hf_real/`, sources
//! in its SOURCES.md) against transformers 5.24 on the meta device
//! (`tests/data/hf_real_expected.json`, made by `tests/data/make_hf_real.py`): every
//! count exact for both heads (the sweep's count-only path too), active parameters of
//! the MoE models, and `memory` gives a figure in train, infer and generate modes for
//! every config.
use archbudget_core::formats::{self, hf};
use archbudget_core::memory::{Mode, RunSettings};
use serde_json::Value;

fn dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data")
}

fn rows() -> Vec<Value> {
    let text = std::fs::read_to_string(dir().join("hf_real_expected.json")).unwrap();
    let data: Value = serde_json::from_str(&text).unwrap();
    data["rows"].as_array().unwrap().clone()
}

fn config_text(row: &Value) -> Vec<u8> {
    std::fs::read(dir().join("hf_real").join(row["file"].as_str().unwrap())).unwrap()
}

#[test]
fn every_count_exact() {
    let rows = rows();
    let mut failures = Vec::new();
    for row in &rows {
        let file = row["file"].as_str().unwrap();
        let text = config_text(row);
        let config: Value = serde_json::from_slice(&text).unwrap();
        for (key, head) in [("base", hf::Head::Base), ("lm", hf::Head::CausalLm)] {
            let Some(want) = row[format!("{key}_params")].as_u64() else {
                continue;
            };
            match formats::summary(&text, file, Some(head)) {
                Ok(s) => {
                    let active = row[format!("{key}_active")].as_u64().unwrap();
                    if (s.total_params, s.active_params) != (want, active) {
                        failures.push(format!(
                            "{file} {key}: ({}, {}) != ({want}, {active})",
                            s.total_params, s.active_params
                        ));
                    }
                    let (c, _) = hf::count(&config, Some(head), file).unwrap();
                    if c.total_params != want {
                        failures.push(format!("{file} {key} count-only: {}", c.total_params));
                    }
                }
                Err(e) => failures.push(format!("{file} {key}: {e}")),
            }
        }
    }
    let types: std::collections::BTreeSet<&str> = rows
        .iter()
        .map(|r| r["model_type"].as_str().unwrap())
        .collect();
    println!("{} configs, {} types: {types:?}", rows.len(), types.len());
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn memory_gives_a_figure_in_every_mode() {
    let mut failures = Vec::new();
    for row in rows() {
        let file = row["file"].as_str().unwrap();
        let text = config_text(&row);
        // the default head: the causal LM where the type has one, else the bare model
        let params = formats::summary(&text, file, None).unwrap().total_params;
        for mode in [Mode::Train, Mode::Infer, Mode::Generate] {
            let run = RunSettings {
                mode,
                batch: 1,
                seq: 128,
                new_tokens: 16,
                ..Default::default()
            };
            match formats::memory(&text, file, None, &run, Some(128)) {
                Ok(m) if m.params == params && m.peak_bytes > m.breakdown.weights => {}
                Ok(m) => failures.push(format!(
                    "{file} {mode:?}: params {} peak {}",
                    m.params, m.peak_bytes
                )),
                Err(e) => failures.push(format!("{file} {mode:?}: {e}")),
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
