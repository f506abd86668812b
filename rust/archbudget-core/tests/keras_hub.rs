//! KerasHub text models built by the real keras-hub (tests/data/make_keras_hub.py):
//! every backbone and task model read from its `model.to_json()`, totals and every row
//! of `model.summary()` exact.
mod common;

#[test]
fn every_keras_hub_model_matches_keras() {
    let data = common::fixture("keras_hub.json.gz");
    let models = data["models"].as_array().unwrap();
    common::assert_each_reads_as_keras(models);
}
