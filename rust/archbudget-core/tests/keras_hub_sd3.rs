//! KerasHub Stable Diffusion 3 built by the real keras-hub
//! (tests/data/make_keras_hub_sd3.py): backbones with and without T5, with SD3.5's
//! rms q/k norms and dual attention, and the TextToImage / ImageToImage / Inpaint task
//! models, each read from its `model.to_json()`, totals and every row of
//! `model.summary()` exact; the preset-sized builds equal keras-hub's preset metadata.
mod common;

use archbudget_core::formats;

#[test]
fn every_sd3_model_matches_keras() {
    let data = common::fixture("keras_hub_sd3.json.gz");
    let models = data["models"].as_array().unwrap();
    let mut failures = Vec::new();
    let (mut rows, mut rows_exact) = (0, 0);
    for m in models {
        let name = m["name"].as_str().unwrap();
        let text = serde_json::to_vec(&m["model_json"]).unwrap();
        let outcome = common::compare_summary(m, formats::summary(&text, name, None), name);
        rows += outcome.rows;
        rows_exact += outcome.rows_exact;
        failures.extend(outcome.failures);
    }
    eprintln!("{} models, {rows_exact}/{rows} rows exact", models.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
