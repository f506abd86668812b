//! `memory`'s buffer elements against `model.named_buffers()` of transformers 5.24
//! (`tests/data/hf_buffers.json`, made by `tests/data/make_hf_buffers.py`): rotary tables
//! per layer type (gemma3_text, olmo3), gemma's `embed_scale`, the encoders' index
//! buffers; bare model and LM-head class.
use archbudget_core::formats::{self, hf};
use archbudget_core::memory::{Mode, RunSettings};
use serde_json::Value;

#[test]
fn buffers_equal_transformers() {
    let path = format!(
        "{}/../../tests/data/hf_buffers.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let data: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).expect(&path);
    let mut failures = Vec::new();
    for row in data["rows"].as_array().unwrap() {
        let text = serde_json::to_vec(&row["config"]).unwrap();
        for (key, head) in [("base", hf::Head::Base), ("lm", hf::Head::CausalLm)] {
            let run = RunSettings {
                mode: Mode::Infer,
                batch: 1,
                ..Default::default()
            };
            let m = formats::memory(&text, "config.json", Some(head), &run, Some(16)).unwrap();
            let want = row[format!("{key}_buffers")].as_u64().unwrap();
            if m.buffers != want {
                failures.push(format!("{} {key}: {} != {want}", row["config"], m.buffers));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
