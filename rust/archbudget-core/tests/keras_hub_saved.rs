//! KerasHub models saved by the real keras-hub with `model.save(path)`
//! (tests/data/make_keras_hub_archives.py, and EdRec by make_keras_hub_text2.py). EdRec,
//! which no reader knows, is counted from the archive's model.weights.h5, totals exact and
//! one row per top-level layer equal to Keras's `count_params()`, in `model.layers` order;
//! `memory` refuses it in one line; the JSON alone keeps the error naming the class and
//! the archive route. Qwen3.5 (a CausalLM, and one with its backbone frozen) and RWKV-7
//! are read from the archive's config: the same totals as its weights file, and every row
//! of `model.summary()`.
use std::path::PathBuf;

use archbudget_core::formats;
use archbudget_core::memory::RunSettings;
use serde_json::Value;

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data")
}

/// The Keras figures of every archive: make_keras_hub_archives.py's and EdRec's.
fn expected() -> Value {
    let read = |file: &str| -> Value {
        let text = std::fs::read_to_string(data_dir().join(file)).unwrap();
        serde_json::from_str(&text).unwrap()
    };
    let mut all = read("keras_hub_archives.json");
    let more = read("keras_hub_archives_text2.json");
    let models = all["models"].as_object_mut().unwrap();
    models.extend(more["models"].as_object().unwrap().clone());
    all
}

fn archive(name: &str) -> Vec<u8> {
    std::fs::read(data_dir().join(format!("keras_hub_archives/{name}.keras"))).unwrap()
}

/// Classes the weights file names: plain Keras layers (from the saved name) and the
/// config's nested models; the others are shown as their saved snake_case name.
const NAMED_CLASSES: &[&str] = &[
    "InputLayer",
    "Dense",
    "Dropout",
    "LayerNormalization",
    "Embedding",
    "Qwen3_5Backbone",
];

#[test]
fn every_archive_matches_keras() {
    let expected = expected();
    let models = expected["models"].as_object().unwrap();
    assert_eq!(models.len(), 4);
    for (name, want) in models {
        let s =
            formats::summary(&archive(name), name, None).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            (s.total_params, s.trainable_params, s.non_trainable_params),
            (
                want["total_params"].as_u64().unwrap(),
                want["trainable_params"].as_u64().unwrap(),
                want["non_trainable_params"].as_u64().unwrap()
            ),
            "{name} totals"
        );
        // read from its config: every Keras row, with its output shape
        let from_config = name.starts_with("qwen3_5") || name.starts_with("rwkv7");
        // from the weights file, a layer whose weights an earlier one saved (the tied LM
        // head) has no group
        let rows: Vec<&Value> = want["layers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| from_config || !r["shared"].as_bool().unwrap())
            .collect();
        let got: Vec<(String, u64, u64, u64)> = s
            .layers
            .iter()
            .map(|r| (r.name.clone(), r.params, r.trainable, r.non_trainable))
            .collect();
        let keras: Vec<(String, u64, u64, u64)> = rows
            .iter()
            .map(|r| {
                (
                    r["name"].as_str().unwrap().to_string(),
                    r["params"].as_u64().unwrap(),
                    r["trainable"].as_u64().unwrap(),
                    r["non_trainable"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(got, keras, "{name} rows");
        if from_config {
            assert!(s.notes.is_empty(), "{name}");
            // RWKV-7's blocks return two tensors: no single shape, as Keras shows them
            if name.starts_with("qwen3_5") {
                assert!(s.layers.iter().all(|r| r.output_shape.is_some()));
            }
            continue;
        }
        for (row, r) in s.layers.iter().zip(&rows) {
            let class = r["class_name"].as_str().unwrap();
            if NAMED_CLASSES.contains(&class) {
                assert_eq!(row.class_name, class, "{name} {}", row.name);
            }
            assert!(row.output_shape.is_none() && row.explain.contains("model.weights.h5"));
        }
        assert!(s.notes[0].contains("output shapes are unknown"), "{name}");
    }
}

#[test]
fn memory_refuses_in_one_line() {
    let e = formats::memory(
        &archive("edrec_backbone"),
        "edrec.keras",
        None,
        &RunSettings::default(),
        Some(8),
    )
    .unwrap_err()
    .to_string();
    assert!(!e.contains('\n'), "{e}");
    for part in [
        "edrec.keras",
        "EdRecBackbone",
        "model.weights.h5",
        "summary",
    ] {
        assert!(e.contains(part), "{part} not in: {e}");
    }
}

#[test]
fn json_alone_names_the_class_and_the_archive_route() {
    let bytes = archive("edrec_backbone");
    let config = formats::keras::parse_bytes(&bytes, "edrec.keras").unwrap();
    let text = serde_json::to_vec(&config).unwrap();
    let e = formats::summary(&text, "edrec.json", None)
        .unwrap_err()
        .to_string();
    assert!(!e.contains('\n'), "{e}");
    for part in ["edrec.json", "EdRecBackbone", "GPT2", ".keras archive"] {
        assert!(e.contains(part), "{part} not in: {e}");
    }
}
