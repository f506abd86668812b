//! Keras ground truth beyond the dev oracle (tests/data/make_keras_extra.py, real Keras):
//! every layer class with its options, trainable semantics, nested and shared layers,
//! other seeds of the oracle's random generators and every keras.applications model.
//! Then the errors a user gets for bad models.
mod common;

use archbudget_core::error::Error;
use archbudget_core::formats::keras;
use serde_json::{json, Value};

#[test]
fn every_extra_model_matches_keras() {
    let data = common::fixture("keras_models_extra.json.gz");
    assert!(data["keras"].as_str().unwrap().starts_with('3'));
    common::assert_all_match(&data);
}

#[test]
fn keras_archives_are_read() {
    for (file, totals) in [
        ("mlp_bn.keras", (163, 147, 16)),
        ("bigru.keras", (282, 282, 0)),
    ] {
        let path = format!(
            "{}/../../tests/data/keras/{file}",
            env!("CARGO_MANIFEST_DIR")
        );
        let bytes = std::fs::read(&path).unwrap();
        let s = keras::read(&bytes, file)
            .and_then(|m| keras::summarize(&m, file))
            .unwrap();
        assert_eq!(
            (s.total_params, s.trainable_params, s.non_trainable_params),
            totals,
            "{file}"
        );
    }
}

fn summarize(model: &Value) -> Result<archbudget_core::summary::Summary, Error> {
    let text = serde_json::to_vec(model).unwrap();
    keras::read(&text, "model.json").and_then(|m| keras::summarize(&m, "model.json"))
}

fn sequential(input: Value, layers: Vec<Value>) -> Value {
    let mut all =
        vec![json!({"class_name": "InputLayer", "config": {"name": "in", "batch_shape": input}})];
    all.extend(layers);
    json!({"class_name": "Sequential", "config": {"name": "m", "layers": all}})
}

fn layer(class_name: &str, config: Value) -> Value {
    json!({"class_name": class_name, "config": config})
}

fn tensor(name: &str) -> Value {
    json!({"class_name": "__keras_tensor__", "config": {"shape": [null, 4], "dtype": "float32", "keras_history": [name, 0, 0]}})
}

fn functional(layers: Vec<Value>, output: &str) -> Value {
    json!({"class_name": "Functional", "config": {
        "name": "f", "layers": layers, "input_layers": [["in", 0, 0]], "output_layers": [[output, 0, 0]]}})
}

fn called(class_name: &str, name: &str, config: Value, inputs: &[&str]) -> Value {
    let mut config = config;
    config["name"] = json!(name);
    let args: Vec<Value> = inputs.iter().map(|i| tensor(i)).collect();
    let args = if args.len() == 1 {
        args[0].clone()
    } else {
        Value::Array(args)
    };
    json!({"class_name": class_name, "name": name, "config": config,
           "inbound_nodes": [{"args": [args], "kwargs": {}}]})
}

fn input(name: &str, shape: Value) -> Value {
    json!({"class_name": "InputLayer", "name": name, "config": {"name": name, "batch_shape": shape}, "inbound_nodes": []})
}

#[test]
fn unknown_class_names_the_layer() {
    let m = sequential(
        json!([null, 4]),
        vec![layer("FancyDense", json!({"name": "fancy_1", "units": 3}))],
    );
    match summarize(&m).unwrap_err() {
        Error::UnknownLayer {
            location,
            class_name,
            hint,
        } => {
            assert!(location.contains("fancy_1"), "{location}");
            assert_eq!(class_name, "FancyDense");
            assert!(hint.starts_with("a custom layer"), "{hint}");
        }
        other => panic!("expected UnknownLayer, got {other:?}"),
    }
}

#[test]
fn missing_units_is_an_invalid_value_naming_layer_and_key() {
    let m = sequential(
        json!([null, 4]),
        vec![layer("Dense", json!({"name": "head"}))],
    );
    let e = summarize(&m).unwrap_err();
    assert!(matches!(e, Error::InvalidValue { .. }), "{e:?}");
    let text = e.to_string();
    assert!(text.contains("head") && text.contains("units"), "{text}");
    let m = sequential(
        json!([null, 4]),
        vec![layer("Dense", json!({"name": "head", "units": 0}))],
    );
    assert!(matches!(
        summarize(&m).unwrap_err(),
        Error::InvalidValue { .. }
    ));
}

#[test]
fn kernel_larger_than_valid_input_is_a_shape_error() {
    let conv = layer(
        "Conv2D",
        json!({"name": "big_conv", "filters": 4, "kernel_size": 7, "padding": "valid"}),
    );
    let e = summarize(&sequential(json!([null, 5, 5, 3]), vec![conv])).unwrap_err();
    assert!(matches!(e, Error::Shape { .. }), "{e:?}");
    assert!(e.to_string().contains("big_conv"), "{e}");
}

#[test]
fn concatenate_of_mismatched_shapes_is_a_shape_error() {
    let m = json!({"class_name": "Functional", "config": {
        "name": "f",
        "layers": [
            input("a", json!([null, 4, 8])),
            input("b", json!([null, 5, 8])),
            called("Concatenate", "cat", json!({"axis": -1}), &["a", "b"]),
        ],
        "input_layers": [["a", 0, 0], ["b", 0, 0]],
        "output_layers": [["cat", 0, 0]]}});
    let e = summarize(&m).unwrap_err();
    assert!(matches!(e, Error::Shape { .. }), "{e:?}");
    assert!(e.to_string().contains("cat"), "{e}");
}

#[test]
fn cycles_and_missing_layers_are_reported() {
    let cycle = functional(
        vec![
            input("in", json!([null, 4])),
            called("Dense", "d1", json!({"units": 4}), &["d2"]),
            called("Dense", "d2", json!({"units": 4}), &["d1"]),
        ],
        "d2",
    );
    let e = summarize(&cycle).unwrap_err();
    assert!(matches!(e, Error::InvalidValue { .. }), "{e:?}");
    assert!(e.to_string().contains("cycle"), "{e}");

    let dangling = functional(
        vec![
            input("in", json!([null, 4])),
            called("Dense", "d1", json!({"units": 4}), &["ghost"]),
        ],
        "d1",
    );
    let e = summarize(&dangling).unwrap_err();
    assert!(e.to_string().contains("ghost"), "{e}");

    let bad_output = functional(vec![input("in", json!([null, 4]))], "nowhere");
    assert!(summarize(&bad_output)
        .unwrap_err()
        .to_string()
        .contains("nowhere"));
}

#[test]
fn malformed_json_is_a_parse_error() {
    for text in [&b"{\"class_name\": \"Sequential\", "[..], b"", b"[1, 2"] {
        let e = keras::read(text, "broken.json").unwrap_err();
        assert!(matches!(e, Error::Parse { .. }), "{e:?}");
        assert!(e.to_string().starts_with("broken.json"), "{e}");
    }
    let e = keras::read(b"{\"layers\": []}", "x.json").unwrap_err();
    assert!(e.to_string().contains("class_name"), "{e}");
    let e = keras::read(b"PK\x03\x04garbage", "x.keras").unwrap_err();
    assert!(matches!(e, Error::Parse { .. }), "{e:?}");
}
