//! Every model of the Keras oracle (Keras 3.15.1): totals and every per-layer row
//! (name, class, output shape, params, trainable, non-trainable) as Keras reports them.
use std::io::Read;

use archbudget_core::formats::keras;
use archbudget_core::summary::OutputShape;
use serde_json::Value;

fn oracle() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/keras_models_dev.json.gz");
    let file = std::fs::File::open(path).expect("tests/data/keras_models_dev.json.gz");
    let mut text = String::new();
    flate2::read::GzDecoder::new(file).read_to_string(&mut text).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The oracle writes shapes as Python's `str(list(shape))`.
fn python_repr(shape: &Option<OutputShape>) -> String {
    let one = |s: &Vec<Option<u64>>| {
        let parts: Vec<String> = s.iter().map(|d| d.map_or("None".into(), |v| v.to_string())).collect();
        format!("[{}]", parts.join(", "))
    };
    match shape {
        Some(OutputShape::Single(s)) => one(s),
        _ => "None".into(),
    }
}

#[test]
fn every_dev_model_matches_keras() {
    let data = oracle();
    let models = data["models"].as_array().unwrap();
    assert_eq!(models.len(), 157);
    let mut failures = Vec::new();
    for (i, m) in models.iter().enumerate() {
        let label = format!("#{i} {} {}", m["kind"].as_str().unwrap(), m["name"].as_str().unwrap_or(""));
        let text = serde_json::to_vec(&m["model_json"]).unwrap();
        let summary = match keras::read(&text, &label).and_then(|model| keras::summarize(&model, &label)) {
            Ok(s) => s,
            Err(e) => {
                failures.push(format!("{label}: error {e}"));
                continue;
            }
        };
        let totals = (summary.total_params, summary.trainable_params, summary.non_trainable_params);
        let expected = (
            m["total_params"].as_u64().unwrap(),
            m["trainable_params"].as_u64().unwrap(),
            m["non_trainable_params"].as_u64().unwrap(),
        );
        if totals != expected {
            failures.push(format!("{label}: totals {totals:?} != keras {expected:?}"));
        }
        let rows = m["layers"].as_array().unwrap();
        if rows.len() != summary.layers.len() {
            failures.push(format!("{label}: {} rows != keras {}", summary.layers.len(), rows.len()));
            continue;
        }
        for (row, want) in summary.layers.iter().zip(rows) {
            let got = (
                row.name.as_str(),
                row.class_name.as_str(),
                python_repr(&row.output_shape),
                row.params,
                row.trainable,
                row.non_trainable,
            );
            let exp = (
                want["name"].as_str().unwrap(),
                want["class_name"].as_str().unwrap(),
                want["output_shape"].as_str().unwrap().to_string(),
                want["params"].as_u64().unwrap(),
                want["trainable"].as_u64().unwrap(),
                want["non_trainable"].as_u64().unwrap(),
            );
            if got != exp {
                failures.push(format!("{label}: row {got:?} != keras {exp:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}
