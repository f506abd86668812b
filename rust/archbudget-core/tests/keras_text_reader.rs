//! The summary's text reader (`keras::summary_model_from_text`, which reads a plain Keras
//! model's JSON text straight into its graph) against the `Value` reader that the oracle
//! tests check: the same rows and totals, or the same error, for every Keras model of the
//! fixtures (oracle Applications, extra, held-out and written models, the configs of the
//! `.keras` archives, KerasHub models), and the text left to the `Value` reader wherever
//! that one must read it.
mod common;

use std::io::Read;

use archbudget_core::formats::{self, keras};
use archbudget_core::Summary;
use serde_json::Value;

const FIXTURES: [&str; 12] = [
    "keras_models_dev.json.gz",
    "keras_models_extra.json.gz",
    "keras_models_heldout.json.gz",
    "keras_models_written.json.gz",
    "keras_hub.json.gz",
    "keras_hub_more.json.gz",
    "keras_hub_multimodal.json.gz",
    "keras_hub_sd3.json.gz",
    "keras_hub_tasks.json.gz",
    "keras_hub_text.json.gz",
    "keras_hub_vision.json.gz",
    "keras_hub_vision_more.json.gz",
];

fn by_value(bytes: &[u8]) -> archbudget_core::Result<Summary> {
    let value = keras::parse_bytes(bytes, "m.json")?;
    keras::summary_model(&value, None, "m.json", true).and_then(|m| keras::summarize(&m, "m.json"))
}

fn by_text(bytes: &[u8]) -> Option<archbudget_core::Result<Summary>> {
    keras::summary_model_from_text(bytes, "m.json", true)
        .map(|m| m.and_then(|m| keras::summarize(&m, "m.json")))
}

/// Whether the text reader must leave `model` to the `Value` reader: a KerasHub model or
/// a model with a nested model or a KerasHub layer.
fn declined_by_design(model: &Value) -> bool {
    let text = model.to_string();
    text.contains("\"keras_hub>") || text.contains("\"Sequential\"") || {
        let layers = model["config"]["layers"].as_array();
        layers.is_some_and(|ls| {
            ls.iter().any(|l| {
                let c = &l["config"];
                c.get("layers").is_some() && c.get("input_layers").is_some()
            })
        }) || model["class_name"] == "Sequential"
    }
}

/// Compare both readers on one text; returns whether the text reader read it.
fn same(bytes: &[u8], label: &str) -> bool {
    let Some(text) = by_text(bytes) else {
        return false;
    };
    match (text, by_value(bytes)) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{label}"),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{label}"),
        (a, b) => panic!(
            "{label}: text reader {:?}, Value reader {:?}",
            a.map(|s| s.total_params),
            b.map(|s| s.total_params)
        ),
    }
    true
}

#[test]
fn every_fixture_model_reads_the_same_by_text() {
    let (mut read, mut declined) = (0, 0);
    for fixture in FIXTURES {
        for m in common::fixture(fixture)["models"].as_array().unwrap() {
            let label = format!("{fixture}: {}", m["name"]);
            let model = &m["model_json"];
            let bytes = serde_json::to_vec(model).unwrap();
            if same(&bytes, &label) {
                read += 1;
                // and the oracle's rows, where the fixture has them
                if m.get("layers").is_some() && m["kind"] == "application" {
                    let outcome = common::compare_summary(m, by_text(&bytes).unwrap(), &label);
                    assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
                }
            } else {
                declined += 1;
                let plain = model["class_name"].is_string() && !declined_by_design(model);
                assert!(
                    !plain,
                    "{label}: a plain Keras model left to the Value reader"
                );
            }
        }
    }
    eprintln!("{read} models read by text, {declined} left to the Value reader");
    assert!(read > 200, "{read}");
}

#[test]
fn archive_configs_read_the_same_by_text() {
    let mut read = 0;
    for dir in ["keras", "keras_heldout", "keras_written"] {
        let path = format!("{}/../../tests/data/{dir}", env!("CARGO_MANIFEST_DIR"));
        for file in std::fs::read_dir(&path).unwrap() {
            let file = file.unwrap().path();
            if file.extension().is_none_or(|e| e != "keras") {
                continue;
            }
            let bytes = std::fs::read(&file).unwrap();
            // the archive's config.json as a JSON text (its weights left out)
            let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
            let mut config = Vec::new();
            zip.by_name("config.json")
                .unwrap()
                .read_to_end(&mut config)
                .unwrap();
            read += usize::from(same(&config, &file.display().to_string()));
        }
    }
    assert!(read > 20, "{read}");
}

#[test]
fn errors_of_malformed_graphs_are_the_value_readers() {
    let doc = common::fixture("keras_models_dev.json.gz");
    let model = doc["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "ResNet50")
        .unwrap()["model_json"]
        .clone();
    type Edit = fn(&mut Value);
    let edits: [(&str, Edit); 9] = [
        ("no class_name", |m| {
            m["config"]["layers"][3]
                .as_object_mut()
                .unwrap()
                .shift_remove("class_name");
        }),
        ("config not an object", |m| {
            m["config"]["layers"][3]["config"] = Value::from(3)
        }),
        ("missing layer", |m| {
            m["config"]["layers"][3]["inbound_nodes"][0]["args"][0]["config"]["keras_history"][0] =
                Value::from("nowhere")
        }),
        ("bad node index", |m| {
            m["config"]["layers"][3]["inbound_nodes"][0]["args"][0]["config"]["keras_history"][1] =
                Value::from(-1)
        }),
        ("no keras_history", |m| {
            m["config"]["layers"][3]["inbound_nodes"][0]["args"][0]["config"]
                .as_object_mut()
                .unwrap()
                .shift_remove("keras_history");
        }),
        ("input called", |m| {
            m["config"]["layers"][0]["inbound_nodes"] =
                m["config"]["layers"][3]["inbound_nodes"].clone()
        }),
        ("nodes not a list", |m| {
            m["config"]["layers"][3]["inbound_nodes"] = Value::from("x")
        }),
        ("duplicate name", |m| {
            m["config"]["layers"][4]["name"] = m["config"]["layers"][3]["name"].clone()
        }),
        ("Keras 2 nodes", |m| {
            m["config"]["layers"][3]["inbound_nodes"] =
                serde_json::json!([[[m["config"]["layers"][2]["name"], 0, 0, {}]]])
        }),
    ];
    for (what, edit) in edits {
        let mut broken = model.clone();
        edit(&mut broken);
        let bytes = serde_json::to_vec(&broken).unwrap();
        let via_formats = formats::summary_with_undeclared(&bytes, "m.json", None).map(|(s, _)| s);
        match (via_formats, by_value(&bytes)) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{what}"),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{what}"),
            (a, b) => panic!(
                "{what}: {:?} / {:?}",
                a.map(|s| s.total_params),
                b.map(|s| s.total_params)
            ),
        }
    }
    // malformed JSON, NaN and UTF-16 as the Value reader says them
    for text in [
        &b"{\"class_name\": \"Functional\", \"config\": {\"layers\": [}"[..],
        &b"{\"class_name\": NaN}"[..],
        &b"\xff\xfe{\x00}\x00"[..],
    ] {
        assert!(by_text(text).is_none());
        let a = formats::summary_with_undeclared(text, "m.json", None).map(|(s, _)| s.total_params);
        let b = keras::parse_bytes(text, "m.json")
            .and_then(|v| formats::from_value(v, None, "m.json"))
            .map(|_| 0);
        assert_eq!(a.map_err(|e| e.to_string()), b.map_err(|e| e.to_string()));
    }
}
