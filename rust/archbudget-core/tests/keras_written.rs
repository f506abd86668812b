//! Keras models as people write them (tests/data/make_keras_written.py, real Keras): the
//! keras-io examples' custom layers, Lambda, `keras.ops` nodes, preprocessing layers and
//! a functional Model subclass, each read from its `.keras` archive, whose
//! `model.weights.h5` counts the layers no rule knows.
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

#[test]
fn every_written_model_read_from_its_archive_matches_keras() {
    let (mut rows, mut rows_exact, mut failures) = (0, 0, Vec::new());
    for m in models() {
        let name = m["name"].as_str().unwrap();
        let outcome = common::compare_bytes(&m, &archive(name), name);
        assert!(outcome.totals_exact, "{name}: {:?}", outcome.failures);
        rows += outcome.rows;
        rows_exact += outcome.rows_exact;
        failures.extend(outcome.failures);
    }
    eprintln!("{rows_exact}/{rows} rows exact:\n{}", failures.join("\n"));
}

/// From the JSON alone (no saved weights), a model without custom layers is read
/// exactly, and one with a custom layer is refused naming the layer and the archive.
#[test]
fn json_alone_reads_models_without_custom_layers_and_names_custom_ones() {
    let mut exact = 0;
    for m in models() {
        let name = m["name"].as_str().unwrap();
        let text = serde_json::to_vec(&m["model_json"]).unwrap();
        let custom = m["model_json"]["config"]["layers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| {
                l["registered_name"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("keras_io>"))
            });
        match custom {
            Some(layer) => {
                let e = archbudget_core::formats::keras::read(&text, name).unwrap_err();
                let layer_name = layer["config"]["name"].as_str().unwrap();
                let text = e.to_string();
                assert!(
                    text.contains(&format!("layer '{layer_name}'"))
                        && text.contains(".keras archive"),
                    "{text}"
                );
            }
            None => {
                let outcome = common::compare_bytes(&m, &text, name);
                assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
                exact += 1;
            }
        }
    }
    assert_eq!(exact, 7, "models without custom layers");
}
