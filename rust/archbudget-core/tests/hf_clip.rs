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
        assert_eq!(
            s.total_params,
            row["base_params"].as_u64().unwrap(),
            "{name}"
        );
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
            assert_eq!(
                module[0].as_str(),
                Some(layer.class_name.as_str()),
                "{name} {}",
                layer.name
            );
            assert_eq!(
                module[1].as_u64(),
                Some(layer.params),
                "{name} {}",
                layer.name
            );
        }
    }
}

#[test]
fn flops_equal_torch_flop_counter() {
    let data = data();
    for case in data["flops"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let a = hf::arch(&case["config"], None, name).unwrap();
        let run = RunSettings {
            batch: case["batch"].as_u64().unwrap(),
            seq: case["seq"].as_u64().unwrap(),
            attn: memory::AttnImpl::Eager,
            ..Default::default()
        };
        let drop = memory::hf::Dropouts::from_config(&case["config"]);
        let report = memory::estimate(&memory::hf::graph(&a, &drop, &run).unwrap(), &run).unwrap();
        for (got, key) in [
            (report.flops_fwd, "flops_fwd"),
            (report.flops_fwd_bwd, "flops_fwd_bwd"),
        ] {
            assert_eq!(got, case[key].as_u64().unwrap(), "{name} {key}");
        }
    }
}

#[test]
fn memory_counts_the_parameters_transformers_builds() {
    let data = data();
    for row in data["rows"].as_array().unwrap() {
        let name = row["name"].as_str().unwrap();
        let a = hf::arch(&row["config"], None, name).unwrap();
        let run = RunSettings {
            batch: 2,
            seq: 8,
            ..Default::default()
        };
        let drop = memory::hf::Dropouts::from_config(&row["config"]);
        match memory::hf::graph(&a, &drop, &run) {
            Ok(g) => {
                let report = memory::estimate(&g, &run).unwrap();
                assert_eq!(
                    report.params,
                    row["base_params"].as_u64().unwrap(),
                    "{name}"
                );
            }
            // SiglipModel's forward fails without the vision pooling head
            Err(e) => assert!(e.to_string().contains("vision_use_head"), "{name}: {e}"),
        }
    }
}
