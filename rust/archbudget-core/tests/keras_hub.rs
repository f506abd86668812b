//! KerasHub text models built by the real keras-hub (tests/data/make_keras_hub.py):
//! every backbone and task model read from its `model.to_json()`, totals and every row
//! of `model.summary()` exact.
mod common;

use archbudget_core::formats;

#[test]
fn every_keras_hub_model_matches_keras() {
    let data = common::fixture("keras_hub.json.gz");
    let models = data["models"].as_array().unwrap();
    let mut failures = Vec::new();
    let (mut rows, mut rows_exact, mut read) = (0, 0, 0);
    for m in models {
        let name = m["name"].as_str().unwrap();
        let text = serde_json::to_vec(&m["model_json"]).unwrap();
        let outcome = common::compare_summary(m, formats::summary(&text, name, None), name);
        read += usize::from(outcome.rows_exact > 0);
        rows += outcome.rows;
        rows_exact += outcome.rows_exact;
        failures.extend(outcome.failures);
    }
    eprintln!(
        "{read}/{} models read, {rows_exact}/{rows} rows exact",
        models.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
