#![allow(dead_code)] // shared by several test binaries, each using a part
//! Shared by the Keras oracle tests: load a gzip fixture made by real Keras and compare
//! every model's totals and per-layer rows (name, class, output shape, params, trainable,
//! non-trainable) with what archbudget reads from the same `model_json`.
use std::io::Read;

use archbudget_core::formats::keras;
use archbudget_core::summary::OutputShape;
use serde_json::Value;

/// A fixture under `tests/data/` of the repository: `{"keras": ..., "models": [...]}`.
pub fn fixture(name: &str) -> Value {
    let path = format!("{}/../../tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut text = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut text)
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The oracle writes shapes as Python's `str(list(shape))`, and 'None' where
/// `layer.output` is not one tensor.
pub fn python_repr(shape: &Option<OutputShape>) -> String {
    let one = |s: &Vec<Option<u64>>| {
        let parts: Vec<String> = s
            .iter()
            .map(|d| d.map_or("None".into(), |v| v.to_string()))
            .collect();
        format!("[{}]", parts.join(", "))
    };
    match shape {
        Some(OutputShape::Single(s)) => one(s),
        _ => "None".into(),
    }
}

/// How one model compared: whether its totals match, its rows, and what differed.
pub struct Outcome {
    pub totals_exact: bool,
    pub rows: usize,
    pub rows_exact: usize,
    pub failures: Vec<String>,
}

/// Compare one oracle model (its `model_json`, totals and rows) with archbudget's summary.
pub fn compare(m: &Value, label: &str) -> Outcome {
    compare_bytes(m, &serde_json::to_vec(&m["model_json"]).unwrap(), label)
}

/// Compare an oracle model with what archbudget reads from `bytes` (its JSON or its
/// `.keras` archive).
pub fn compare_bytes(m: &Value, text: &[u8], label: &str) -> Outcome {
    compare_summary(
        m,
        keras::read(text, label).and_then(|model| keras::summarize(&model, label)),
        label,
    )
}

/// Compare an oracle model with a summary read by any reader.
pub fn compare_summary(
    m: &Value,
    summary: archbudget_core::Result<archbudget_core::Summary>,
    label: &str,
) -> Outcome {
    let want_rows = m["layers"].as_array().unwrap();
    let mut out = Outcome {
        totals_exact: false,
        rows: want_rows.len(),
        rows_exact: 0,
        failures: Vec::new(),
    };
    let summary = match summary {
        Ok(s) => s,
        Err(e) => {
            out.failures.push(format!("{label}: error {e}"));
            return out;
        }
    };
    let totals = (
        summary.total_params,
        summary.trainable_params,
        summary.non_trainable_params,
    );
    let expected = (
        m["total_params"].as_u64().unwrap(),
        m["trainable_params"].as_u64().unwrap(),
        m["non_trainable_params"].as_u64().unwrap(),
    );
    out.totals_exact = totals == expected;
    if !out.totals_exact {
        out.failures
            .push(format!("{label}: totals {totals:?} != keras {expected:?}"));
    }
    if want_rows.len() != summary.layers.len() {
        out.failures.push(format!(
            "{label}: {} rows != keras {}",
            summary.layers.len(),
            want_rows.len()
        ));
        return out;
    }
    for (row, want) in summary.layers.iter().zip(want_rows) {
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
        if got == exp {
            out.rows_exact += 1;
        } else {
            out.failures
                .push(format!("{label}: row {got:?} != keras {exp:?}"));
        }
    }
    out
}

/// Read every model from its `model_json` by whichever reader handles it
/// (`formats::summary`: Keras, KerasHub); totals and every row must equal Keras's.
pub fn assert_each_reads_as_keras(models: &[Value]) {
    let (mut rows, mut rows_exact) = (0, 0);
    let mut failures = Vec::new();
    for m in models {
        let name = m["name"].as_str().unwrap();
        let text = serde_json::to_vec(&m["model_json"]).unwrap();
        let summary = archbudget_core::formats::summary(&text, name, None);
        let outcome = compare_summary(m, summary, name);
        rows += outcome.rows;
        rows_exact += outcome.rows_exact;
        failures.extend(outcome.failures);
    }
    eprintln!("{} models, {rows_exact}/{rows} rows exact", models.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Compare every model of a fixture; all must match exactly (totals and every row).
pub fn assert_all_match(data: &Value) {
    let models = data["models"].as_array().unwrap();
    let (mut models_exact, mut rows, mut rows_exact) = (0, 0, 0);
    let mut failures = Vec::new();
    for (i, m) in models.iter().enumerate() {
        let label = format!(
            "#{i} {} {}",
            m["kind"].as_str().unwrap(),
            m["name"].as_str().unwrap_or("")
        );
        let outcome = compare(m, &label);
        models_exact += usize::from(outcome.failures.is_empty());
        rows += outcome.rows;
        rows_exact += outcome.rows_exact;
        failures.extend(outcome.failures);
    }
    eprintln!(
        "{models_exact}/{} models exact, {rows_exact}/{rows} rows exact",
        models.len()
    );
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The model JSON of the first of `models` named `name`, its config changed by `edit`
/// (a null value removes the key): a constructor argument set to what a test needs.
pub fn edited(models: &[Value], name: &str, edit: Value) -> Vec<u8> {
    let mut model = models.iter().find(|m| m["name"] == name).unwrap()["model_json"].clone();
    for (k, v) in edit.as_object().unwrap() {
        if v.is_null() {
            model["config"].as_object_mut().unwrap().remove(k);
        } else {
            model["config"][k] = v.clone();
        }
    }
    serde_json::to_vec(&model).unwrap()
}

/// `memory` (train, batch 2, seq 16) of each of `models` is refused in one line that names
/// the model's class and the families memory covers.
pub fn assert_memory_refused_naming_coverage<'m>(models: impl IntoIterator<Item = &'m Value>) {
    let run = archbudget_core::memory::RunSettings {
        mode: archbudget_core::memory::Mode::Train,
        batch: 2,
        seq: 16,
        ..Default::default()
    };
    for m in models {
        let name = m["name"].as_str().unwrap();
        let text = serde_json::to_vec(&m["model_json"]).unwrap();
        let err = archbudget_core::formats::memory(&text, name, None, &run, Some(16))
            .unwrap_err()
            .to_string();
        let class = m["model_json"]["class_name"].as_str().unwrap();
        assert!(
            err.contains(class) && err.contains("memory covers"),
            "{name}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}
