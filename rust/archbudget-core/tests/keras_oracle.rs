//! Every model of the Keras oracle (Keras 3.15.1): totals and every per-layer row
//! (name, class, output shape, params, trainable, non-trainable) as Keras reports them.
mod common;

#[test]
fn every_dev_model_matches_keras() {
    let data = common::fixture("keras_models_dev.json.gz");
    assert_eq!(data["models"].as_array().unwrap().len(), 157);
    common::assert_all_match(&data);
}
