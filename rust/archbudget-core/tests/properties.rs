//! Properties over generated input: the readers never panic on JSON shaped like real
//! descriptions with random configs; layer rules grow and shrink as they must; the
//! enumerator's counts, shards and top-k agree with brute force.
use archbudget_core::formats::{self, hf};
use archbudget_core::layers::supported_classes;
use archbudget_core::memory::{Mode, RunSettings};
use archbudget_core::space::{self, Space, SweepOptions};
use archbudget_core::Error;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// Values of every JSON type, with the sizes hostile input uses (0, negative, huge).
fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => (1u64..64).prop_map(Value::from),
        1 => Just(json!(0)),
        1 => (-5i64..0).prop_map(Value::from),
        1 => prop_oneof![Just(json!(1u64 << 62)), Just(json!(u64::MAX)), Just(json!(1e19)), Just(json!(2.5))],
        1 => any::<bool>().prop_map(Value::from),
        1 => Just(Value::Null),
        1 => prop_oneof![Just("same"), Just("valid"), Just("causal"), Just("channels_first"), Just("concat"), Just("x")].prop_map(Value::from),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![4 => scalar(), 1 => prop::collection::vec(scalar(), 0..4).prop_map(Value::Array)]
}

const LAYER_KEYS: &[&str] = &[
    "units",
    "filters",
    "kernel_size",
    "strides",
    "padding",
    "dilation_rate",
    "groups",
    "use_bias",
    "axis",
    "rate",
    "pool_size",
    "size",
    "cropping",
    "target_shape",
    "dims",
    "n",
    "input_dim",
    "output_dim",
    "num_heads",
    "key_dim",
    "value_dim",
    "depth_multiplier",
    "return_sequences",
    "return_state",
    "merge_mode",
    "data_format",
    "trainable",
    "output_padding",
    "equation",
    "output_shape",
    "bias_axes",
    "center",
    "scale",
    "layer",
    "activation",
];

fn config(keys: &'static [&'static str]) -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::vec((prop::sample::select(keys), value()), 0..8)
        .prop_map(|pairs| pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

fn keras_layer() -> impl Strategy<Value = Value> {
    let classes = prop::sample::select(supported_classes());
    (classes, config(LAYER_KEYS), any::<u16>()).prop_map(|(class_name, mut config, id)| {
        if class_name == "Bidirectional" || class_name == "TimeDistributed" {
            config.insert(
                "layer".into(),
                json!({"class_name": "LSTM", "config": {"name": "inner", "units": 4}}),
            );
        }
        config.insert("name".into(), json!(format!("layer_{id}")));
        json!({"class_name": class_name, "config": config})
    })
}

fn keras_model() -> impl Strategy<Value = Value> {
    let dim = prop_oneof![3 => (1u64..32).prop_map(Value::from), 1 => Just(Value::Null)];
    let shape = prop::collection::vec(dim, 1..5);
    (shape, prop::collection::vec(keras_layer(), 1..4)).prop_map(|(shape, layers)| {
        let mut batch_shape = vec![Value::Null];
        batch_shape.extend(shape);
        let mut all = vec![json!({"class_name": "InputLayer", "config": {"name": "input", "batch_shape": batch_shape}})];
        all.extend(layers.into_iter().enumerate().map(|(i, mut l)| {
            l["config"]["name"] = json!(format!("layer_{i}"));
            l
        }));
        json!({"class_name": "Sequential", "config": {"name": "m", "layers": all}})
    })
}

const HF_KEYS: &[&str] = &[
    "vocab_size",
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "tie_word_embeddings",
    "max_position_embeddings",
    "n_embd",
    "n_layer",
    "n_head",
    "n_inner",
    "n_positions",
    "num_local_experts",
    "num_experts",
    "num_experts_per_tok",
    "moe_intermediate_size",
    "shared_expert_intermediate_size",
    "mlp_only_layers",
    "decoder_sparse_step",
    "ffn_dim",
    "word_embed_proj_dim",
    "dim",
    "hidden_dim",
    "n_layers",
    "n_heads",
    "d_model",
    "d_ff",
    "d_kv",
    "num_layers",
    "num_decoder_layers",
    "num_heads",
    "feed_forward_proj",
    "image_size",
    "patch_size",
    "num_channels",
    "type_vocab_size",
    "new_decoder_architecture",
    "multi_query",
    "num_kv_heads",
    "bias",
    "parallel_attn",
    "attention_bias",
    "mlp_bias",
    "qkv_bias",
    "rotary_pct",
    "use_parallel_residual",
    "do_layer_norm_before",
];

fn hf_config() -> impl Strategy<Value = Value> {
    let small = prop_oneof![
        (1u64..9).prop_map(Value::from),
        Just(json!(16)),
        Just(json!(64))
    ];
    let v = prop_oneof![3 => small, 2 => value()];
    let pairs = prop::collection::vec((prop::sample::select(HF_KEYS), v), 0..10);
    (prop::sample::select(hf::supported_model_types()), pairs).prop_map(|(model_type, pairs)| {
        let mut map: Map<String, Value> =
            pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        // Keep the defaults' sizes small where the generator did not set them.
        for (k, v) in [
            ("vocab_size", 97),
            ("hidden_size", 32),
            ("num_hidden_layers", 2),
            ("num_attention_heads", 4),
        ] {
            map.entry(k).or_insert(json!(v));
        }
        map.insert("model_type".into(), json!(model_type));
        Value::Object(map)
    })
}

/// Summary and memory of `model`: each an answer or an error, never a panic or an
/// internal error.
fn read_all(model: &Value) {
    let bytes = model.to_string().into_bytes();
    let outcomes = [
        formats::summary(&bytes, "p.json", None).map(|_| ()),
        formats::summary(&bytes, "p.json", Some(hf::Head::Base)).map(|_| ()),
        formats::memory(
            &bytes,
            "p.json",
            None,
            &RunSettings {
                batch: 2,
                ..RunSettings::default()
            },
            Some(8),
        )
        .map(|_| ()),
        formats::memory(
            &bytes,
            "p.json",
            None,
            &RunSettings {
                mode: Mode::Infer,
                ..RunSettings::default()
            },
            Some(3),
        )
        .map(|_| ()),
    ];
    for outcome in outcomes {
        if let Err(e) = outcome {
            assert!(!matches!(e, Error::Internal(_)), "{e}");
            assert!(!e.to_string().is_empty());
        }
    }
}

fn params(model: &Value) -> u64 {
    formats::summary(model.to_string().as_bytes(), "p.json", None)
        .unwrap()
        .total_params
}

fn sequential(input: Value, layer: Value) -> Value {
    json!({"class_name": "Sequential", "config": {"name": "m", "layers": [
        {"class_name": "InputLayer", "config": {"name": "input", "batch_shape": input}}, layer]}})
}

fn no_template(path: &str) -> Result<Vec<u8>, Error> {
    Err(Error::invalid(path, "no templates here"))
}

fn mlp_space(
    input: &[i64],
    depth: &[i64],
    width: &[i64],
    batch: &[i64],
    constraint: Option<&str>,
) -> Space {
    let list = |v: &[i64]| {
        format!(
            "[{}]",
            v.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
        )
    };
    let constraints = constraint
        .map(|c| format!("constraints = [{}]\n", json!(c)))
        .unwrap_or_default();
    let text = format!(
        "{constraints}family = \"mlp\"\n[fixed]\nclasses = 10\n[axes]\ninput_dim = {}\ndepth = {}\nwidth = {}\n[run]\nbatch = {}\n",
        list(input), list(depth), list(width), list(batch)
    );
    Space::from_toml(&text, "p.toml", &no_template).unwrap()
}

fn axis() -> impl Strategy<Value = Vec<i64>> {
    prop::collection::btree_set(1i64..200, 1..5).prop_map(|s| s.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn keras_readers_never_panic(model in keras_model()) {
        read_all(&model);
    }

    #[test]
    fn transformers_readers_never_panic(config in hf_config()) {
        read_all(&config);
    }

    #[test]
    fn dense_params_grow_with_units(inputs in 1u64..4096, units in 1u64..4096) {
        let dense = |u: u64| params(&sequential(json!([null, inputs]), json!({"class_name": "Dense", "config": {"name": "d", "units": u}})));
        prop_assert_eq!(dense(units), (inputs + 1) * units);
        prop_assert!(dense(units + 1) > dense(units));
    }

    #[test]
    fn conv_params_grow_with_filters_and_valid_outputs_shrink(
        size in 1u64..64, channels in 1u64..16, filters in 1u64..64, kernel in 1u64..8, stride in 1u64..4,
    ) {
        let conv = |f: u64| sequential(json!([null, size, size, channels]), json!({"class_name": "Conv2D", "config": {
            "name": "c", "filters": f, "kernel_size": kernel, "strides": stride, "padding": "valid"}}));
        let summary = formats::summary(conv(filters).to_string().as_bytes(), "p.json", None);
        if kernel > size {
            let refused = matches!(summary, Err(Error::Shape { .. }));
            prop_assert!(refused, "a kernel larger than its input is a shape error");
        } else {
            let s = summary.unwrap();
            prop_assert!(params(&conv(filters + 1)) > s.total_params);
            match &s.layers[0].output_shape {
                Some(archbudget_core::summary::OutputShape::Single(shape)) => {
                    prop_assert!(shape[1].unwrap() <= size && shape[2].unwrap() <= size);
                    prop_assert_eq!(shape[1].unwrap(), (size - kernel) / stride + 1);
                }
                other => prop_assert!(false, "output shape {:?}", other),
            }
        }
    }

    #[test]
    fn count_is_the_product_of_the_axes(input in axis(), depth in axis(), width in axis(), batch in axis()) {
        let s = mlp_space(&input, &depth, &width, &batch, None);
        let product = (input.len() * depth.len() * width.len() * batch.len()) as u64;
        prop_assert_eq!(s.size, product);
        let c = space::count(&s, None).unwrap();
        prop_assert_eq!((c.total, c.in_range, c.satisfying_constraints), (product, product, product));
    }

    #[test]
    fn shards_partition_the_space(
        input in axis(), width in axis(), shards in 1u64..7, modulus in 2i64..5,
    ) {
        let constraint = format!("width % {modulus} != 1");
        let s = mlp_space(&input, &[1, 2], &width, &[4], Some(&constraint));
        let whole = space::sweep(&s, &SweepOptions::default()).unwrap();
        let mut merged = Vec::new();
        let mut satisfying = 0;
        for i in 0..shards {
            let range = Some((s.size * i / shards, s.size * (i + 1) / shards));
            merged.extend(space::sweep(&s, &SweepOptions { range, ..SweepOptions::default() }).unwrap().index);
            satisfying += space::count(&s, range).unwrap().satisfying_constraints;
        }
        prop_assert_eq!(&merged, &whole.index);
        prop_assert_eq!(satisfying, whole.index.len() as u64);
    }

    #[test]
    fn top_k_is_the_head_of_the_full_sort(
        input in axis(), width in axis(), k in 1usize..12, descending in any::<bool>(), by in 0usize..3,
    ) {
        let s = mlp_space(&input, &[0, 1, 3], &width, &[2], None);
        let sort = ["params", "peak_bytes", "width"][by].to_string();
        let full = space::sweep(&s, &SweepOptions { sort: Some(sort.clone()), descending, ..SweepOptions::default() }).unwrap();
        let top = space::sweep(&s, &SweepOptions { sort: Some(sort), descending, top: Some(k), ..SweepOptions::default() }).unwrap();
        prop_assert_eq!(&top.index[..], &full.index[..k.min(full.index.len())]);
    }

    #[test]
    fn mlp_params_grow_with_width(input in 1i64..500, depth in 1i64..5, width in 1i64..2000) {
        let s = mlp_space(&[input], &[depth], &[width, width + 1], &[1], None);
        let cols = space::sweep(&s, &SweepOptions::default()).unwrap();
        let p = &cols.metrics.iter().find(|(n, _)| *n == "params").unwrap().1;
        prop_assert!(p[1] > p[0], "params {:?}", p);
    }
}
