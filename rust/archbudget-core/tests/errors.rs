//! Hostile input gets an error, never a panic, a wrapped number or a hang: malformed
//! text, unknown names, bad values, impossible shapes, overflowing sizes, deep nesting.
//! Each case asserts the error's kind and that its one-line message names where the
//! problem is and what it is. Release builds wrap on overflow, so the huge values here
//! check that every count is computed with checked arithmetic.
use std::io::Write;

use archbudget_core::formats::{self, hf::Head};
use archbudget_core::memory::{Mode, RunSettings};
use archbudget_core::space::{self, Space, SweepOptions};
use archbudget_core::Error;
use serde_json::{json, Value};

#[path = "../../../fuzz/src/lib.rs"]
mod fuzz_bodies;

const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// The message of a failure, checked to be one line that names `parts`.
fn message<T>(result: Result<T, Error>, kind: &str, parts: &[&str]) -> String {
    let Err(e) = result else {
        panic!("bad input must be an error ({kind}: {parts:?})")
    };
    let text = e.to_string();
    assert_eq!(e.kind(), kind, "{text}");
    assert!(!text.contains('\n'), "one line: {text:?}");
    for part in parts {
        assert!(text.contains(part), "{text:?} should name {part:?}");
    }
    text
}

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

// ---------------------------------------------------------------- search spaces

fn no_template(path: &str) -> Result<Vec<u8>, Error> {
    Err(Error::invalid(path, "cannot read the template"))
}

fn parse_space(text: &str) -> Result<Space, Error> {
    Space::from_toml(text, "space.toml", &no_template)
}

const MLP: &str = "family = \"mlp\"\n[fixed]\nclasses = 10\ninput_dim = 8\n[axes]\ndepth = [1, 2]\nwidth = [16, 32]\n";

#[test]
fn malformed_spaces_name_the_file_and_the_key() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "family = \"mlp\"\n[axes\n",
            "ParseError",
            &["space.toml", "malformed TOML", "line 2"],
        ),
        ("family = mlp", "ParseError", &["malformed TOML", "line 1"]),
        (
            "family = \"rnn\"",
            "SpaceError",
            &["'rnn'", "mlp, cnn, lstm, hf, keras"],
        ),
        ("[axes]\nwidth = [1]", "SpaceError", &["missing 'family'"]),
        (
            "family = \"mlp\"\nfamilly = 3",
            "SpaceError",
            &["'familly'", "expected family"],
        ),
        (
            "family = \"mlp\"\naxes = 3",
            "SpaceError",
            &["'[axes]' must be a table"],
        ),
        (
            "family = \"mlp\"\n[axes]\nwidth = []",
            "SpaceError",
            &["'width' has no values"],
        ),
        (
            "family = \"mlp\"\n[axes]\nwidth = 16",
            "SpaceError",
            &["'width' must be a list"],
        ),
        (
            "family = \"mlp\"\n[axes]\nwidth = [[1]]",
            "SpaceError",
            &["'width'"],
        ),
        (
            "family = \"mlp\"\n[axes]\nwidth = {start = 10, stop = 1}",
            "SpaceError",
            &["'width'", "below start"],
        ),
        (
            "family = \"mlp\"\n[axes]\nwidth = {start = 1, stop = 10, step = 0}",
            "SpaceError",
            &["'step' must be positive"],
        ),
        (
            "family = \"mlp\"\n[axes]\nwidth = {start = 1, stop = 10, factor = 1}",
            "SpaceError",
            &["factor > 1"],
        ),
        (
            "family = \"mlp\"\n[axes]\nwidth = {start = 1, stop = 10, step = 1, factor = 2}",
            "SpaceError",
            &["not both"],
        ),
        (
            "family = \"mlp\"\n[axes]\nwidth = {start = 1, stop = 10, stpe = 1}",
            "SpaceError",
            &["'stpe'"],
        ),
        (
            "family = \"mlp\"\n[axes]\nwidth = {start = \"a\", stop = 10}",
            "SpaceError",
            &["'start' must be a number"],
        ),
        (
            "family = \"mlp\"\n[axes]\nwidth = {start = 1, stop = 1e12}",
            "SpaceError",
            &["'width'", "more than 1000000"],
        ),
        (
            "family = \"mlp\"\n[axes]\nwidth = {start = 1e-300, stop = 1e300, factor = 1.0000001}",
            "SpaceError",
            &["'width'", "more than 1000000"],
        ),
        (
            "family = \"mlp\"\n[run]\nbatchsize = 3",
            "SpaceError",
            &["'batchsize'", "batch"],
        ),
        (
            "family = \"mlp\"\n[fixed]\nwidthh = 3\n",
            "SpaceError",
            &["'widthh'", "input_dim, depth, width, classes"],
        ),
        (
            "family = \"mlp\"\n[fixed]\nwidth = 3\n[axes]\nwidth = [1]",
            "SpaceError",
            &["'width' is given twice"],
        ),
        (
            "family = \"mlp\"\n[fixed]\nclasses = 10\n",
            "SpaceError",
            &["needs 'input_dim'"],
        ),
        (
            "family = \"hf\"\n[fixed]\nvocab_size = 10",
            "SpaceError",
            &["'model_type'"],
        ),
        ("family = \"keras\"", "SpaceError", &["'template'"]),
        (
            "family = \"keras\"\ntemplate = \"missing.json\"",
            "InvalidValueError",
            &["missing.json", "cannot read"],
        ),
        (
            "family = \"mlp\"\ntemplate = \"m.json\"",
            "SpaceError",
            &["only for the keras family"],
        ),
        (
            "family = \"mlp\"\nconstraints = \"width > 1\"",
            "SpaceError",
            &["list of strings"],
        ),
        (
            "family = \"mlp\"\nconstraints = [3]",
            "SpaceError",
            &["must be strings"],
        ),
    ];
    for (text, kind, parts) in cases {
        let mut parts = parts.to_vec();
        if *kind != "InvalidValueError" {
            parts.push("space.toml");
        }
        message(parse_space(text), kind, &parts);
    }
}

fn with_constraint(c: &str) -> String {
    format!(
        "constraints = [{}]\n{MLP}",
        serde_json::to_string(c).unwrap()
    )
}

#[test]
fn constraints_that_do_not_parse_name_the_constraint() {
    for (c, what) in [
        ("width % 2 = 0", "use =="),
        ("width > ", "ends too early"),
        ("(width > 3", "missing ')'"),
        ("width > 3)", "after a complete expression"),
        ("widht > 3", "unknown name 'widht'"),
        ("width $ 3", "unexpected '$'"),
        ("width > 'abc", "unclosed string"),
        ("width > 1.2.3", "not a number"),
        ("", "is empty"),
        ("width & 1", "use =="),
    ] {
        message(
            parse_space(&with_constraint(c)),
            "SpaceError",
            &["space.toml", what],
        );
    }
}

#[test]
fn constraints_nested_or_long_enough_to_exhaust_the_stack_are_refused() {
    for c in [
        "(".repeat(300) + "width" + &")".repeat(300),
        "not ".repeat(300) + "true",
        "-".repeat(300) + "width > 0",
    ] {
        let text = message(
            parse_space(&with_constraint(&c)),
            "SpaceError",
            &["space.toml", "nests deeper than 64"],
        );
        assert!(
            text.len() < 300,
            "the constraint is quoted shortened: {text}"
        );
    }
    let long = "width".to_string() + &" + width".repeat(100_000) + " > 0";
    message(
        parse_space(&with_constraint(&long)),
        "SpaceError",
        &["space.toml", "tokens"],
    );
    // Within the bounds, a deep but legal constraint still evaluates.
    let ok = "(".repeat(60) + "width > 0" + &")".repeat(60);
    let s = parse_space(&with_constraint(&ok)).unwrap();
    assert_eq!(space::count(&s, None).unwrap().satisfying_constraints, 4);
}

#[test]
fn constraints_of_the_wrong_type_fail_when_evaluated_naming_the_constraint() {
    for (c, what) in [
        ("width + 1", "not a comparison"),
        ("width and true", "true/false operands"),
        ("'a' < width", "non-numbers"),
    ] {
        let s = parse_space(&with_constraint(c)).unwrap();
        message(
            space::count(&s, None),
            "SpaceError",
            &["space.toml", c, what],
        );
        message(
            space::sweep(&s, &SweepOptions::default()),
            "SpaceError",
            &["space.toml", c, what],
        );
    }
}

#[test]
fn a_space_whose_size_overflows() {
    let axis = |name: &str| format!("{name} = {{start = 1, stop = 1000000}}\n");
    let text = format!(
        "family = \"mlp\"\n[fixed]\nclasses = 3\n[axes]\n{}{}{}{}",
        axis("input_dim"),
        axis("depth"),
        axis("width"),
        "[run]\nbatch = {start = 1, stop = 20}\n"
    );
    message(
        parse_space(&text),
        "OverflowError",
        &["space.toml", "number of candidates"],
    );
}

#[test]
fn a_space_near_u64_max_counts_and_sweeps_its_last_candidates() {
    // 2^63 candidates: blocks are made lazily, and the last one ends at the space's end.
    let axis = |name: &str, n: u32| format!("{name} = {{start = 1, stop = {}}}\n", 1u64 << n);
    let text = format!("family = \"mlp\"\n[fixed]\nclasses = 3\n[axes]\n{}{}{}[run]\nbatch = {{start = 1, stop = {}}}\n", axis("input_dim", 19), axis("depth", 14), axis("width", 19), 1u64 << 11);
    let s = parse_space(&text).unwrap();
    assert_eq!(s.size, 1 << 63);
    let tail = Some((s.size - 5, s.size));
    let c = space::count(&s, tail).unwrap();
    assert_eq!((c.in_range, c.satisfying_constraints), (5, 5));
    let cols = space::sweep(
        &s,
        &SweepOptions {
            range: tail,
            max_params: Some(0),
            ..SweepOptions::default()
        },
    )
    .unwrap();
    assert_eq!((cols.stats.candidates, cols.stats.cut_by_budgets), (5, 5));
    // With a constraint, counting walks the blocks up to the last candidate.
    let s = parse_space(&format!("constraints = [\"depth > 16383\"]\n{text}")).unwrap();
    assert_eq!(space::count(&s, tail).unwrap().satisfying_constraints, 5);
    message(
        space::count(&s, Some((5, 4))),
        "SpaceError",
        &["space.toml", "outside"],
    );
    message(
        space::sweep(
            &s,
            &SweepOptions {
                range: Some((0, u64::MAX)),
                ..SweepOptions::default()
            },
        ),
        "SpaceError",
        &["outside"],
    );
}

#[test]
fn candidates_beyond_64_bits_are_skipped_and_counted() {
    let text = "family = \"mlp\"\n[fixed]\nclasses = 10\ninput_dim = 8\ndepth = 3\n[axes]\nwidth = [16, 4611686018427387904]\n";
    let s = parse_space(text).unwrap();
    let ranked = SweepOptions {
        sort: Some("params".into()),
        top: Some(1),
        ..SweepOptions::default()
    };
    for opts in [SweepOptions::default(), ranked] {
        let cols = space::sweep(&s, &opts).unwrap();
        assert_eq!((cols.index.clone(), cols.stats.invalid), (vec![0], 1));
        let first = cols.stats.first_invalid.unwrap();
        assert!(
            first.contains("candidate 1 (width=4611686018427387904)")
                && first.contains("overflows"),
            "{first}"
        );
    }
    // A batch that overflows only the memory model.
    let text = "family = \"mlp\"\n[fixed]\nclasses = 10\ninput_dim = 8\ndepth = 3\nwidth = 16\n[run]\nbatch = [1, 9223372036854775807]\n";
    let cols = space::sweep(&parse_space(text).unwrap(), &SweepOptions::default()).unwrap();
    assert_eq!((cols.index, cols.stats.invalid), (vec![0], 1));
    // An hf candidate whose vocabulary overflows, under a params budget too.
    let text = "family = \"hf\"\n[fixed]\nmodel_type = \"llama\"\nhidden_size = 4096\nintermediate_size = 11008\nnum_hidden_layers = 2\nnum_attention_heads = 32\n[axes]\nvocab_size = [32000, 1000000000000000000]\n[run]\nseq = 16\n";
    let budget = SweepOptions {
        max_params: Some(1_000_000_000),
        ..SweepOptions::default()
    };
    let cols = space::sweep(&parse_space(text).unwrap(), &budget).unwrap();
    assert_eq!((cols.index, cols.stats.invalid), (vec![0], 1));
}

#[test]
fn constraint_arithmetic_that_fails_makes_the_candidate_invalid() {
    for (c, invalid, why) in [
        ("width / 0 > 1", 4, "division by zero"),
        ("width // (width - 16) > 1", 2, "division by zero"),
        ("width % (width - 16) == 0", 2, "modulo by zero"),
        ("width * 4611686018427387904 > 0", 4, "'*' overflows"),
        (
            "-(width - 16 - 9223372036854775807 - 1) > 0",
            2,
            "'-' overflows",
        ),
    ] {
        let s = parse_space(&with_constraint(c)).unwrap();
        let counted = space::count(&s, None).unwrap();
        assert_eq!(
            (counted.invalid, counted.satisfying_constraints),
            (invalid, 4 - invalid),
            "{c}"
        );
        let cols = space::sweep(&s, &SweepOptions::default()).unwrap();
        assert_eq!(cols.stats.invalid, invalid, "{c}");
        let first = cols.stats.first_invalid.unwrap();
        assert!(
            first.contains(&format!("constraint '{c}': {why}")),
            "{first}"
        );
    }
}

#[test]
fn constraints_compute_as_python_does() {
    for (c, holds) in [
        ("9007199254740993 - 9007199254740992 == 1", true),
        ("-7 // 2 == -4 and -7 % 2 == 1 and 7 % -2 == -1", true),
        ("7 / 2 == 3.5 and 6 / 3 == 2", true),
        ("9007199254740993 == 9007199254740992.0", false),
        ("width > 15.5 and width >= 16 and not (width < 16.0)", true),
    ] {
        let s = parse_space(&with_constraint(c)).unwrap();
        let n = space::count(&s, None).unwrap().satisfying_constraints;
        assert_eq!(n, if holds { 4 } else { 0 }, "{c}");
    }
}

#[test]
fn a_cancelled_sweep_or_count_stops_with_cancelled() {
    use archbudget_core::space::Cancel;
    use std::sync::Arc;
    let s = parse_space(&with_constraint("width > 0")).unwrap();
    let cancel = Arc::new(Cancel::default());
    cancel.cancel();
    assert_eq!(space::count_until(&s, None, &cancel), Err(Error::Cancelled));
    let opts = SweepOptions {
        cancel: Some(cancel),
        ..SweepOptions::default()
    };
    assert_eq!(space::sweep(&s, &opts).map(|_| ()), Err(Error::Cancelled));
}

#[test]
fn messages_show_values_as_the_space_file_writes_them() {
    let text = "family = \"mlp\"\n[fixed]\nclasses = 10\ninput_dim = 8\nwidth = 16\n[axes]\ndepth = [\"a\"]\n";
    let cols = space::sweep(&parse_space(text).unwrap(), &SweepOptions::default()).unwrap();
    let first = cols.stats.first_invalid.unwrap();
    assert!(
        first.contains("got \"a\"") && !first.contains("Str("),
        "{first}"
    );
    let e = parse_space(&with_constraint("* width > 0"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("unexpected '*'") && !e.contains("Op("), "{e}");
    let e = parse_space("family = \"mlp\"\n[axes]\nwidth = {start = 1, stop = 1e19}\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("has 10000000000000000000 values"), "{e}");
}

#[test]
fn candidates_that_cannot_be_built_are_counted_not_fatal() {
    // A depth far beyond any network is refused per candidate, without building it.
    let text = "family = \"mlp\"\n[fixed]\nclasses = 10\ninput_dim = 8\nwidth = 16\n[axes]\ndepth = [2, 1000000000]\n";
    let cols = space::sweep(&parse_space(text).unwrap(), &SweepOptions::default()).unwrap();
    assert_eq!((cols.index.len(), cols.stats.invalid), (1, 1));
    assert!(
        cols.stats
            .first_invalid
            .as_deref()
            .unwrap()
            .contains("candidate 1 (depth=1000000000): depth"),
        "{:?}",
        cols.stats.first_invalid
    );
    let text = "family = \"cnn\"\n[fixed]\nimage = 32\nchannels = 3\nstages = 1\nfilters = 4\nclasses = 2\nbatchnorm = false\n[axes]\nconvs = [1, 1000000000]\n";
    let cols = space::sweep(&parse_space(text).unwrap(), &SweepOptions::default()).unwrap();
    assert_eq!((cols.index.len(), cols.stats.invalid), (1, 1));
    let text = "family = \"mlp\"\n[fixed]\nclasses = 10\ninput_dim = 8\nwidth = 16\n[axes]\ndepth = [2, -1]\n";
    let cols = space::sweep(&parse_space(text).unwrap(), &SweepOptions::default()).unwrap();
    assert_eq!(cols.stats.invalid, 1);
    assert!(
        cols.stats
            .first_invalid
            .as_deref()
            .unwrap()
            .contains("'depth' must be an integer"),
        "{:?}",
        cols.stats.first_invalid
    );
}

#[test]
fn sweep_options_that_name_nothing() {
    let s = parse_space(MLP).unwrap();
    message(
        space::sweep(
            &s,
            &SweepOptions {
                sort: Some("parms".into()),
                ..SweepOptions::default()
            },
        ),
        "SpaceError",
        &["'parms'", "params", "width"],
    );
    // A huge top-k keeps everything, without quadratic work.
    let cols = space::sweep(
        &s,
        &SweepOptions {
            sort: Some("params".into()),
            top: Some(usize::MAX),
            ..SweepOptions::default()
        },
    )
    .unwrap();
    assert_eq!(cols.index.len(), 4);
    let cols = space::sweep(
        &s,
        &SweepOptions {
            top: Some(usize::MAX),
            ..SweepOptions::default()
        },
    )
    .unwrap();
    assert_eq!(cols.index.len(), 4);
}

#[test]
fn a_large_string_axis_becomes_codes_in_linear_time() {
    let values: Vec<String> = (0..200_000).map(|i| format!("\"v{i}\"")).collect();
    let text = format!(
        "family = \"hf\"\n[fixed]\nmodel_type = \"gpt2\"\n[axes]\nname = [{}]\n",
        values.join(", ")
    );
    let s = parse_space(&text).unwrap();
    let cols = space::sweep(
        &s,
        &SweepOptions {
            range: Some((0, 3)),
            ..SweepOptions::default()
        },
    )
    .unwrap();
    assert_eq!(cols.stats.candidates, 3);
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
