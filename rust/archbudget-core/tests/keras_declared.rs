//! Custom layers declared by the user (tests/data/keras_written/custom_layers.toml) for
//! the keras-io-style models of make_keras_written.py. Declarations are process-wide, so
//! this is its own test binary.
mod common;

use serde_json::Value;

fn archive(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../tests/data/keras_written/{name}.keras",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn models() -> Vec<Value> {
    let data = common::fixture("keras_models_written.json.gz");
    data["models"].as_array().unwrap().clone()
}

/// With the custom layers declared (tests/data/keras_written/custom_layers.toml), every
/// model is read exactly from its JSON alone, and from its archive every row is exact:
/// the declarations give the shapes of the custom layers that are model outputs.
#[test]
fn declared_custom_layers_read_every_model_exactly() {
    let path = format!(
        "{}/../../tests/data/keras_written/custom_layers.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let classes = archbudget_core::layers::declared::register(&text, true, &path).unwrap();
    assert_eq!(classes.len(), 13);
    for m in models() {
        let name = m["name"].as_str().unwrap();
        let json = serde_json::to_vec(&m["model_json"]).unwrap();
        for (what, bytes) in [("json", json), ("archive", archive(name))] {
            let outcome = common::compare_bytes(&m, &bytes, name);
            assert!(
                outcome.failures.is_empty(),
                "{what}: {:?}",
                outcome.failures
            );
        }
    }
}
