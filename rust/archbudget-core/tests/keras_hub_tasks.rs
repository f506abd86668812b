//! Coverage of keras-hub's task classes: every model class keras-hub 0.32 exports for the
//! families read (tests/data/make_keras_hub_tasks.py built each from a small config),
//! read from its `model.to_json()` with totals and every row of `model.summary()` exact.
//! Prints the coverage: classes read / classes exported.
mod common;

use std::collections::BTreeSet;

use archbudget_core::formats;

#[test]
fn every_exported_class_of_the_read_families_matches_keras() {
    let data = common::fixture("keras_hub_tasks.json.gz");
    let models = data["models"].as_array().unwrap();
    let mut failures = Vec::new();
    let mut read: BTreeSet<String> = BTreeSet::new();
    for m in models {
        let name = m["name"].as_str().unwrap();
        let text = serde_json::to_vec(&m["model_json"]).unwrap();
        let outcome = common::compare_summary(m, formats::summary(&text, name, None), name);
        if outcome.failures.is_empty() {
            let registered = m["model_json"]["registered_name"].as_str().unwrap();
            read.insert(registered.trim_start_matches("keras_hub>").to_string());
        }
        failures.extend(outcome.failures);
    }
    // an alias (BertClassifier, Qwen2Backbone) serializes as the class it names
    let alias = |class: &str| {
        class
            .replace("Qwen2", "Qwen")
            .replace("Classifier", "TextClassifier")
            .replace("TextTextClassifier", "TextClassifier")
            .replace("ImageTextClassifier", "ImageClassifier")
    };
    let mut exported = 0;
    let mut covered = 0;
    for (family, classes) in data["exported"].as_object().unwrap() {
        for class in classes.as_array().unwrap() {
            exported += 1;
            let class = alias(class.as_str().unwrap());
            if read.contains(&class) {
                covered += 1;
            } else {
                failures.push(format!("{family}: {class} not read"));
            }
        }
    }
    eprintln!(
        "KerasHub coverage: {covered}/{exported} exported model classes of the {} read families read exactly ({} models built)",
        data["exported"].as_object().unwrap().len(),
        models.len()
    );
    assert!(
        data["not_round_tripping"].as_array().unwrap().is_empty(),
        "{}",
        data["not_round_tripping"]
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
