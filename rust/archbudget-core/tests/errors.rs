//! Hostile model input gets an error, never a panic, a wrapped number or a hang: malformed
//! text, unknown names, bad values, impossible shapes, overflowing sizes, deep nesting.
//! Each case asserts the error's kind and that its one-line message names where the
//! problem is and what it is. Release builds wrap on overflow, so the huge values here
//! check that every count is computed with checked arithmetic.
use std::io::Write;

use archbudget_core::formats::{self, hf::Head};
use archbudget_core::memory::{Mode, RunSettings};
use archbudget_core::Error;
use serde_json::{json, Value};

#[path = "../../../fuzz/src/lib.rs"]
mod fuzz_bodies;
mod one_line;
use one_line::message;

const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn summary(model: &Value) -> Result<u64, Error> {
    formats::summary(model.to_string().as_bytes(), "model.json", None).map(|s| s.total_params)
}

fn memory(model: &Value, run: &RunSettings, seq: Option<u64>) -> Result<u64, Error> {
    formats::memory(model.to_string().as_bytes(), "model.json", None, run, seq)
        .map(|r| r.peak_bytes)
}

fn sequential(input: Value, layers: Vec<Value>) -> Value {
    let mut all = vec![
        json!({"class_name": "InputLayer", "config": {"name": "input", "batch_shape": input}}),
    ];
    all.extend(layers);
    json!({"class_name": "Sequential", "config": {"name": "seq", "layers": all}})
}

fn layer(class_name: &str, name: &str, config: Value) -> Value {
    let mut config = config;
    config["name"] = json!(name);
    json!({"class_name": class_name, "config": config})
}

fn dense(units: Value) -> Value {
    layer("Dense", "dense", json!({"units": units}))
}

fn llama(extra: Value) -> Value {
    let mut c = json!({"model_type": "llama", "vocab_size": 1000, "hidden_size": 64, "intermediate_size": 128,
                       "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2});
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

// ---------------------------------------------------------------- malformed text

#[test]
fn malformed_json_names_the_file_and_the_position() {
    for text in [
        "{",
        "{\"class_name\": }",
        "",
        "[1, 2",
        "{\"a\": 1,}",
        "nul",
        "\u{feff}{",
    ] {
        message(
            formats::summary(text.as_bytes(), "model.json", None),
            "ParseError",
            &["model.json", "malformed JSON"],
        );
    }
    message(
        formats::summary(&[0xff, 0xfe, 0x00], "model.json", None),
        "ParseError",
        &["model.json"],
    );
}

#[test]
fn json_that_is_not_a_model() {
    for v in [
        json!([1, 2]),
        json!(3),
        json!("x"),
        json!({}),
        json!({"config": {}}),
    ] {
        message(
            summary(&v),
            "ParseError",
            &["model.json", "class_name", "model_type"],
        );
    }
    message(
        summary(&json!({"class_name": "Dense", "config": {}})),
        "InvalidValueError",
        &["'Dense'", "Sequential"],
    );
    message(
        summary(&json!({"class_name": "Sequential", "config": []})),
        "InvalidValueError",
        &["'config'"],
    );
    message(
        summary(&json!({"class_name": "Sequential", "config": {"layers": 3}})),
        "InvalidValueError",
        &["'layers'"],
    );
    message(
        summary(&json!({"class_name": 7})),
        "InvalidValueError",
        &["model.json", "'class_name'"],
    );
}

#[test]
fn nesting_too_deep_is_refused() {
    let deep = "[".repeat(100_000);
    message(
        formats::summary(deep.as_bytes(), "deep.json", None),
        "ParseError",
        &["deep.json", "recursion"],
    );
    // Models nested as layers of models, and wrappers around wrappers: the JSON nesting
    // bound refuses them before any recursion over layers.
    let mut model = sequential(json!([null, 4]), vec![dense(json!(2))]);
    for i in 0..80 {
        let mut outer = sequential(json!([null, 4]), vec![]);
        let mut inner = model.clone();
        inner["config"]["name"] = json!(format!("m{i}"));
        outer["config"]["layers"]
            .as_array_mut()
            .unwrap()
            .push(inner);
        model = outer;
    }
    message(
        summary(&model),
        "ParseError",
        &["model.json", "recursion limit"],
    );
    let mut wrapped = json!({"class_name": "LSTM", "config": {"name": "lstm", "units": 4}});
    for _ in 0..80 {
        wrapped =
            json!({"class_name": "Bidirectional", "config": {"name": "bi", "layer": wrapped}});
    }
    let model = sequential(json!([null, 5, 3]), vec![wrapped]);
    message(
        summary(&model),
        "ParseError",
        &["model.json", "recursion limit"],
    );
}

#[test]
fn input_too_large_is_refused_before_parsing() {
    let big = vec![b' '; archbudget_core::formats::keras::MAX_INPUT_BYTES + 1];
    message(
        formats::summary(&big, "big.json", None),
        "InvalidValueError",
        &["big.json", "larger than"],
    );
}

#[test]
fn broken_keras_archives() {
    message(
        formats::summary(b"PK\x03\x04garbage", "m.keras", None),
        "ParseError",
        &["m.keras", ".keras archive"],
    );
    // A real zip without config.json.
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        zip.start_file(
            "metadata.json",
            zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored),
        )
        .unwrap();
        zip.write_all(b"{}").unwrap();
        zip.finish().unwrap();
    }
    message(
        formats::summary(buf.get_ref(), "m.keras", None),
        "ParseError",
        &["m.keras", "no config.json"],
    );
}

// ---------------------------------------------------------------- unknown names

#[test]
fn unknown_layer_class_suggests_close_names_or_the_custom_layer_route() {
    let typo = sequential(
        json!([null, 4]),
        vec![layer("Densse", "d1", json!({"units": 3}))],
    );
    message(
        summary(&typo),
        "UnknownLayerError",
        &[
            "model.json",
            "layer 'd1'",
            "'Densse'",
            "did you mean Dense?",
        ],
    );
    let custom = sequential(
        json!([null, 4]),
        vec![layer("Patches", "patches", json!({"patch_size": 4}))],
    );
    let text = message(
        summary(&custom),
        "UnknownLayerError",
        &[
            "layer 'patches'",
            "'Patches'",
            "custom layer",
            ".keras archive",
        ],
    );
    assert!(!text.contains("Conv2D"), "no list of every class: {text}");
}

#[test]
fn unknown_model_type_lists_the_supported_ones() {
    message(
        summary(&json!({"model_type": "llamma"})),
        "UnknownModelTypeError",
        &["model.json", "'llamma'", "llama", "gpt2"],
    );
    message(
        summary(&json!({"model_type": 3})),
        "InvalidValueError",
        &["'model_type'", "string"],
    );
}

// ---------------------------------------------------------------- bad values

#[test]
fn missing_or_non_positive_dimensions_name_the_layer_and_key() {
    let cases = [
        (dense(json!(0)), "'units' must be a positive integer"),
        (dense(json!(-3)), "'units'"),
        (dense(json!(1.5)), "'units'"),
        (dense(json!("64")), "'units'"),
        (dense(json!([64])), "'units'"),
        (dense(json!(true)), "'units'"),
        (layer("Dense", "dense", json!({})), "missing 'units'"),
        (
            layer("Dense", "dense", json!({"units": 4, "use_bias": "yes"})),
            "'use_bias' must be true or false",
        ),
    ];
    for (l, what) in cases {
        message(
            summary(&sequential(json!([null, 8]), vec![l])),
            "InvalidValueError",
            &["model.json", "layer 'dense'", what],
        );
    }
    let conv = |config: Value| {
        sequential(
            json!([null, 8, 8, 3]),
            vec![layer("Conv2D", "conv", config)],
        )
    };
    message(
        summary(&conv(json!({"filters": 4}))),
        "InvalidValueError",
        &["layer 'conv'", "missing 'kernel_size'"],
    );
    message(
        summary(&conv(json!({"filters": 4, "kernel_size": [3, 0]}))),
        "InvalidValueError",
        &["'kernel_size'"],
    );
    message(
        summary(&conv(json!({"filters": 4, "kernel_size": [3, 3, 3, 3]}))),
        "InvalidValueError",
        &["'kernel_size'", "a list of 2"],
    );
    message(
        summary(&conv(
            json!({"filters": 4, "kernel_size": 3, "padding": "full"}),
        )),
        "InvalidValueError",
        &["'padding'", "valid, same or causal"],
    );
    message(
        summary(&conv(
            json!({"filters": 4, "kernel_size": 3, "data_format": "nhwc"}),
        )),
        "InvalidValueError",
        &["'data_format'", "channels_last"],
    );
    message(
        summary(&sequential(json!([null, 0]), vec![dense(json!(2))])),
        "InvalidValueError",
        &["positive integers or null"],
    );
    message(
        summary(&sequential(json!("224"), vec![dense(json!(2))])),
        "InvalidValueError",
        &["must be a list"],
    );
}

#[test]
fn transformers_keys_of_the_wrong_type_or_sign() {
    for (key, value, what) in [
        ("hidden_size", json!(0), "a positive integer"),
        ("hidden_size", json!(-64), "a positive integer"),
        ("hidden_size", json!("64"), "a positive integer"),
        ("vocab_size", json!(1e19), "a positive integer"),
        ("num_hidden_layers", json!(1_000_000_000), "exceeds"),
        ("tie_word_embeddings", json!("no"), "true or false"),
        ("num_attention_heads", json!(5), "not a multiple"),
    ] {
        message(
            summary(&llama(json!({key: value}))),
            "InvalidValueError",
            &["model.json", key, what],
        );
    }
    let vit = json!({"model_type": "vit"});
    message(
        formats::summary(vit.to_string().as_bytes(), "vit.json", Some(Head::CausalLm)),
        "InvalidValueError",
        &["vit.json", "no language-model head"],
    );
    message(
        memory(&llama(json!({})), &RunSettings::default(), None),
        "InvalidValueError",
        &["model.json", "--seq"],
    );
}

#[test]
fn a_functional_graph_that_does_not_connect() {
    let input = json!({"class_name": "InputLayer", "name": "in", "config": {"name": "in", "batch_shape": [null, 4]}, "inbound_nodes": []});
    let node = |from: &str| json!([{"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": [from, 0, 0]}}], "kwargs": {}}]);
    let d = |name: &str, from: &str| json!({"class_name": "Dense", "name": name, "config": {"name": name, "units": 2}, "inbound_nodes": node(from)});
    let model = |layers: Vec<Value>, out: &str| json!({"class_name": "Functional", "config": {"name": "f", "layers": layers, "input_layers": [["in", 0, 0]], "output_layers": [[out, 0, 0]]}});
    message(
        summary(&model(vec![input.clone(), d("a", "ghost")], "a")),
        "InvalidValueError",
        &["'ghost'", "does not have"],
    );
    message(
        summary(&model(vec![input.clone(), d("a", "b"), d("b", "a")], "a")),
        "InvalidValueError",
        &["never become available"],
    );
    message(
        summary(&model(vec![input.clone(), d("a", "in"), d("a", "in")], "a")),
        "InvalidValueError",
        &["two layers are named 'a'"],
    );
    message(
        summary(&model(vec![input.clone(), d("a", "in")], "zzz")),
        "InvalidValueError",
        &["'zzz'"],
    );
    // An InputLayer called on a tensor (it once indexed past its calls).
    let mut called = input.clone();
    called["inbound_nodes"] = node("in");
    message(
        summary(&model(vec![called, d("a", "in")], "a")),
        "InvalidValueError",
        &["layer 'in'", "InputLayer"],
    );
    let bad_ref = json!({"class_name": "Dense", "name": "a", "config": {"name": "a", "units": 2}, "inbound_nodes": [[["in", -1, 0, {}]]]});
    message(
        summary(&model(vec![input.clone(), bad_ref], "a")),
        "InvalidValueError",
        &["layer 'a'", "tensor reference"],
    );
    let bad_tensor = json!({"class_name": "Dense", "name": "a", "config": {"name": "a", "units": 2}, "inbound_nodes": [[["in", 0, 7, {}]]]});
    message(
        summary(&model(vec![input, bad_tensor], "a")),
        "InvalidValueError",
        &["layer 'a'", "output 7"],
    );
}

// ---------------------------------------------------------------- impossible shapes

#[test]
fn impossible_shapes_name_the_layer_and_the_shapes() {
    let conv = layer("Conv2D", "conv", json!({"filters": 4, "kernel_size": 9}));
    message(
        summary(&sequential(json!([null, 4, 4, 3]), vec![conv])),
        "ShapeError",
        &["layer 'conv'", "kernel 9", "size 4"],
    );
    let flat = layer("Conv2D", "conv", json!({"filters": 4, "kernel_size": 3}));
    message(
        summary(&sequential(json!([null, 16]), vec![flat])),
        "ShapeError",
        &["layer 'conv'", "rank 4"],
    );
    let reshape = layer("Reshape", "r", json!({"target_shape": [7, 3]}));
    message(
        summary(&sequential(json!([null, 16]), vec![reshape])),
        "ShapeError",
        &["layer 'r'"],
    );
    let crop = layer("Cropping1D", "c", json!({"cropping": [3, 3]}));
    message(
        summary(&sequential(json!([null, 5, 2]), vec![crop])),
        "ShapeError",
        &["layer 'c'", "leaves nothing"],
    );
    let pool = layer("MaxPooling2D", "p", json!({"pool_size": 8}));
    message(
        summary(&sequential(json!([null, 4, 4, 3]), vec![pool])),
        "ShapeError",
        &["layer 'p'"],
    );
    let unknown_dim = layer("Dense", "d", json!({"units": 2}));
    message(
        summary(&sequential(json!([null, null]), vec![unknown_dim])),
        "ShapeError",
        &["layer 'd'", "must be known"],
    );
    let add = layer("Add", "add", json!({}));
    message(
        summary(&sequential(json!([null, 4]), vec![add])),
        "ShapeError",
        &["layer 'add'", "at least 2 inputs"],
    );
}

// ---------------------------------------------------------------- overflow

#[test]
fn huge_dimensions_overflow_instead_of_wrapping() {
    let units = json!(1u64 << 62);
    message(
        summary(&sequential(json!([null, 1024]), vec![dense(units.clone())])),
        "OverflowError",
        &["layer 'dense'", "overflows"],
    );
    message(
        summary(&sequential(
            json!([null, 1u64 << 40]),
            vec![dense(json!(1u64 << 40))],
        )),
        "OverflowError",
        &["layer 'dense'"],
    );
    let emb = layer(
        "Embedding",
        "emb",
        json!({"input_dim": u64::MAX, "output_dim": 1u64 << 20}),
    );
    message(
        summary(&sequential(json!([null, 8]), vec![emb])),
        "OverflowError",
        &["layer 'emb'"],
    );
    // Output dimensions that only grow: padding, upsampling, concatenation, transposed conv.
    let pad = layer("ZeroPadding1D", "pad", json!({"padding": [u64::MAX, 1]}));
    message(
        summary(&sequential(json!([null, 8, 2]), vec![pad])),
        "OverflowError",
        &["layer 'pad'", "output dimension"],
    );
    let up = layer("UpSampling1D", "up", json!({"size": 1u64 << 62}));
    message(
        summary(&sequential(json!([null, 8, 2]), vec![up])),
        "OverflowError",
        &["layer 'up'"],
    );
    let deconv = layer(
        "Conv1DTranspose",
        "deconv",
        json!({"filters": 2, "kernel_size": 3, "strides": 1u64 << 62}),
    );
    message(
        summary(&sequential(json!([null, 8, 2]), vec![deconv])),
        "OverflowError",
        &["layer 'deconv'"],
    );
    let crop = layer(
        "Cropping1D",
        "crop",
        json!({"cropping": [u64::MAX, u64::MAX]}),
    );
    message(
        summary(&sequential(json!([null, 8, 2]), vec![crop])),
        "ShapeError",
        &["layer 'crop'"],
    );
    // Model totals: many layers, each in range, summing beyond 64 bits.
    let big = |i: usize| {
        layer(
            "Embedding",
            &format!("e{i}"),
            json!({"input_dim": 1u64 << 31, "output_dim": 1u64 << 31}),
        )
    };
    let model = sequential(json!([null, 8]), (0..8).map(big).collect());
    message(summary(&model), "OverflowError", &["overflows"]);
}

#[test]
fn huge_transformers_overflow_instead_of_wrapping() {
    message(
        summary(&llama(
            json!({"vocab_size": 1u64 << 62, "hidden_size": 4096}),
        )),
        "OverflowError",
        &["model.json", "overflows"],
    );
    message(
        summary(&llama(json!({"intermediate_size": u64::MAX}))),
        "OverflowError",
        &["overflows"],
    );
    let gpt2 =
        json!({"model_type": "gpt2", "n_embd": 1u64 << 40, "n_head": 1, "n_positions": 1u64 << 40});
    message(summary(&gpt2), "OverflowError", &["overflows"]);
}

#[test]
fn huge_run_settings_overflow_instead_of_wrapping() {
    let model = sequential(json!([null, 1024]), vec![dense(json!(1024))]);
    let run = RunSettings {
        batch: 1 << 55,
        ..RunSettings::default()
    };
    message(memory(&model, &run, None), "OverflowError", &["overflows"]);
    let run = RunSettings {
        batch: u64::MAX,
        mode: Mode::Infer,
        ..RunSettings::default()
    };
    message(memory(&model, &run, None), "OverflowError", &["overflows"]);
    message(
        memory(
            &llama(json!({})),
            &RunSettings {
                batch: 1 << 40,
                ..RunSettings::default()
            },
            Some(1 << 40),
        ),
        "OverflowError",
        &["overflows"],
    );
    // The sequence length fills an unknown time axis.
    let rnn = sequential(
        json!([null, null, 8]),
        vec![layer("LSTM", "lstm", json!({"units": 16}))],
    );
    message(
        memory(&rnn, &RunSettings::default(), Some(u64::MAX)),
        "OverflowError",
        &["overflows"],
    );
}

// ---------------------------------------------------------------- the boundary

#[test]
fn internal_errors_ask_for_a_report() {
    let e = Error::Internal("index out of bounds".into());
    assert_eq!(e.kind(), "InternalError");
    let text = e.to_string();
    assert!(
        text.contains("internal error: index out of bounds") && text.contains("please report"),
        "{text}"
    );
}

// ---------------------------------------------------------------- fuzz corpus replay

/// The fuzz targets' bodies over their seeds (the repository's models and spaces) and
/// over `fuzz/regressions/`: every input that once crashed stays fixed under `cargo test`.
#[test]
fn fuzz_targets_replay_their_seeds_and_regressions() {
    let files = |dir: &str, ext: &str| -> Vec<Vec<u8>> {
        let mut paths: Vec<_> = std::fs::read_dir(format!("{REPO}/{dir}"))
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        paths.retain(|p| ext.is_empty() || p.extension().is_some_and(|x| x == ext));
        paths.sort();
        paths.iter().map(|p| std::fs::read(p).unwrap()).collect()
    };
    let models = [
        files("examples", "json"),
        files("tests/data/keras", "keras"),
        files("fuzz/regressions/model", ""),
    ]
    .concat();
    for data in &models {
        fuzz_bodies::model(data);
    }
    let spaces = [
        files("examples", "toml"),
        files("fuzz/regressions/space", ""),
    ]
    .concat();
    for data in &spaces {
        fuzz_bodies::space(data);
    }
    assert!(models.len() >= 5 && spaces.len() >= 4);
}
