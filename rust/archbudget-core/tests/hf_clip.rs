//! The dual encoders clip and siglip against transformers 5.24 (`tests/data/hf_clip.json`,
//! made by `tests/data/make_hf_clip.py`): totals exact, and each leaf row equal to the
//! module transformers builds; `memory` refuses them with one line.
use archbudget_core::formats::hf;
use archbudget_core::memory::{self, RunSettings};
use serde_json::Value;

fn data() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/hf_clip.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn counts_equal_transformers() {
    let data = data();
    for row in data["rows"].as_array().unwrap() {
        let name = row["name"].as_str().unwrap();
        let s = hf::summarize(&row["config"], Some(hf::Head::Base), name).unwrap();
        assert_eq!(s.total_params, row["base_params"].as_u64().unwrap(), "{name}");
        assert_eq!(s.name, row["base_class"].as_str().unwrap(), "{name}");
        let (counted, _) = hf::count(&row["config"], None, name).unwrap();
        assert_eq!(counted.total_params, s.total_params, "{name}");
    }
}

#[test]
fn every_row_is_a_module_with_its_count() {
    let data = data();
    for row in data["rows"].as_array().unwrap() {
        let Some(modules) = row["modules"].as_object() else {
            continue;
        };
        let name = row["name"].as_str().unwrap();
        let s = hf::summarize(&row["config"], Some(hf::Head::Base), name).unwrap();
        for layer in &s.layers {
            // the model's own parameters (`logit_scale`, `logit_bias`) are no module
            if layer.class_name == "Parameter" {
                continue;
            }
            let module = &modules[&layer.name];
            assert_eq!(module[0].as_str(), Some(layer.class_name.as_str()), "{name} {}", layer.name);
            assert_eq!(module[1].as_u64(), Some(layer.params), "{name} {}", layer.name);
        }
    }
}

#[test]
fn memory_refuses_with_one_line() {
    let data = data();
    let row = &data["rows"][0];
    let a = hf::arch(&row["config"], None, "clip").unwrap();
    let run = RunSettings::default();
    let drop = memory::hf::Dropouts::from_config(&row["config"]);
    let e = memory::hf::graph(&a, &drop, &run).unwrap_err().to_string();
    assert!(e.contains("dual encoder 'clip'") && !e.contains('\n'), "{e}");
}
