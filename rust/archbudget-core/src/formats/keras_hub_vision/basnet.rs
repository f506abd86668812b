//! `BASNetBackbone` (keras_hub/src/models/basnet): a predict module (a projection, the
//! first four stacks of a v1 ResNet encoder, each a functional `resnet_block{n}` row
//! made of the encoder's layers from one pyramid level to the stack's last `_add`, two
//! max-pooled stages of three basic blocks, a dilated bridge, a U-Net decoder and the
//! `prediction_heads` on each decoder stage) and a residual refinement module on the
//! first prediction (a small U-Net, the `refinement_head`, added back), every output
//! through a sigmoid. The encoder is tracked too: its stem's weights (which no block
//! runs) are in Keras's totals and in no row.
use serde_json::{json, Value};

use super::blocks::Conv;
use super::graph::{Graph, Tensor};
use super::{resnet, Args};
use crate::error::Result;

/// Keras's BatchNormalization defaults (`convolution_block` passes none).
const BN_EPSILON: f64 = 1e-3;
const BN_MOMENTUM: f64 = 0.99;
/// The predict module's stages: four from the encoder, two of basic blocks.
const STAGES: usize = 6;
/// keras-hub's default prediction heads' upsampling, one head per decoder stage and
/// the bridge.
const HEAD_SIZES: [u64; 7] = [1, 2, 4, 8, 16, 32, 32];

pub fn build(args: &Args) -> Result<Value> {
    let encoder = Encoder::of(args)?;
    let filters = args.int_or("projection_filters", 64)?;
    if filters != encoder.stem_channels {
        // Keras refuses the call: resnet_block1 takes the stem's channels
        return Err(args.err(format!(
            "'projection_filters' {filters} must equal its image encoder's stem width {} (resnet_block1's input)",
            encoder.stem_channels
        )));
    }
    let classes = args.int("num_classes")?;
    let heads = match args.get("prediction_heads") {
        Some(Value::Array(heads)) if !heads.is_empty() => heads.clone(),
        Some(other) => {
            return Err(args.err(format!(
                "'prediction_heads' must be a non-empty list of serialized layers, got {other}"
            )))
        }
        None => HEAD_SIZES
            .iter()
            .map(|&s| default_head(classes, s))
            .collect(),
    };
    let refinement = args
        .get("refinement_head")
        .cloned()
        .unwrap_or_else(|| default_head(classes, 1));

    let mut g = Graph::new(false);
    // a fresh session: the encoder's input, then the heads, were made before
    g.auto_name("input_layer");
    for head in heads.iter().chain(std::iter::once(&refinement)) {
        reserve_names(&mut g, head);
    }
    let input = g.input(&args.image_shape()?);
    let predictions = predict(&mut g, &encoder, filters, &heads, input)?;
    let refined = refine(&mut g, filters, refinement, predictions[0]);
    let mut outputs = vec![("refine_out".to_string(), refined)];
    outputs.extend(
        predictions
            .iter()
            .enumerate()
            .map(|(i, &p)| (format!("predict_out_{}", i + 1), p)),
    );
    let mut outputs: Vec<(String, Tensor)> = outputs
        .into_iter()
        .map(|(name, x)| {
            let y = g.activation(&name, "sigmoid", x);
            (name, y)
        })
        .collect();
    // a dict's outputs in key order, as Keras flattens them
    outputs.sort_by(|a, b| a.0.cmp(&b.0));
    let mut kept = args.kept();
    kept.insert("unlisted".into(), encoder.unlisted);
    Ok(g.finish_dict(args.class, &args.name, input, &outputs, &kept))
}

/// The predict module's outputs: each head on its decoder stage (the bridge last).
fn predict(
    g: &mut Graph,
    encoder: &Encoder,
    filters: u64,
    heads: &[Value],
    input: Tensor,
) -> Result<Vec<Tensor>> {
    let name = g.auto_name("conv2d");
    let mut x = g.conv2d(&name, Conv::new(filters, 3).same(), input);
    let mut stages = Vec::with_capacity(STAGES + 1);
    for block in &encoder.blocks {
        x = g.nested(block.clone(), x);
        stages.push(x);
    }
    for stage in encoder.blocks.len()..STAGES {
        let name = g.auto_name("max_pooling2d");
        x = g.pool("MaxPooling2D", &name, 2, 2, "valid", x);
        for j in 0..3 {
            let name = format!("v1_basic_block_{}_{}", stage + 1, j + 1);
            x = resnet::basic_block(g, x, encoder.deepest_channels, &name);
        }
        stages.push(x);
    }
    for _ in 0..3 {
        x = convolution_block(g, filters * 8, 2, x);
    }
    stages.push(x);
    let mut decoder = Vec::with_capacity(STAGES + 1);
    for i in (0..STAGES).rev() {
        if i != STAGES - 1 {
            x = upsample(g, x);
        }
        let name = g.auto_name("concatenate");
        x = g.concatenate(&name, &[stages[i], x]);
        for _ in 0..3 {
            x = convolution_block(g, filters * 8, 1, x);
        }
        decoder.push(x);
    }
    decoder.reverse();
    decoder.push(stages[STAGES]);
    Ok(heads
        .iter()
        .zip(decoder)
        .map(|(head, x)| g.nested(head.clone(), x))
        .collect())
}

/// The residual refinement module on the first prediction.
fn refine(g: &mut Graph, filters: u64, head: Value, coarse: Tensor) -> Tensor {
    let name = g.auto_name("conv2d");
    let mut x = g.conv2d(&name, Conv::new(filters, 3).same(), coarse);
    let mut stages = Vec::with_capacity(4);
    for _ in 0..4 {
        x = convolution_block(g, filters, 1, x);
        stages.push(x);
        let name = g.auto_name("max_pooling2d");
        x = g.pool("MaxPooling2D", &name, 2, 2, "valid", x);
    }
    x = convolution_block(g, filters, 1, x);
    for &stage in stages.iter().rev() {
        x = upsample(g, x);
        let name = g.auto_name("concatenate");
        x = g.concatenate(&name, &[stage, x]);
        x = convolution_block(g, filters, 1, x);
    }
    let x = g.nested(head, x);
    let name = g.auto_name("add");
    g.add(&name, &[coarse, x])
}

/// keras-hub's `convolution_block`: a 3x3 convolution, its norm, relu.
fn convolution_block(g: &mut Graph, filters: u64, dilation: u64, x: Tensor) -> Tensor {
    let name = g.auto_name("conv2d");
    let x = g.conv2d(&name, Conv::new(filters, 3).same().dilation(dilation), x);
    let name = g.auto_name("batch_normalization");
    let x = g.batch_norm(&name, BN_EPSILON, BN_MOMENTUM, x);
    let name = g.auto_name("activation");
    g.activation(&name, "relu", x)
}

fn upsample(g: &mut Graph, x: Tensor) -> Tensor {
    let name = g.auto_name("up_sampling2d");
    let config = json!({"name": name, "size": [2, 2], "data_format": "channels_last",
                        "interpolation": "bilinear"});
    g.call("UpSampling2D", config, &[x])
}

/// keras-hub's default head: a 3x3 convolution to the classes, upsampled by `size`.
fn default_head(classes: u64, size: u64) -> Value {
    let mut layers = vec![
        json!({"module": "keras.layers", "class_name": "Conv2D", "config": {
        "filters": classes, "kernel_size": [3, 3], "strides": [1, 1], "padding": "same",
        "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1,
        "activation": "linear", "use_bias": true}}),
    ];
    if size != 1 {
        layers.push(
            json!({"module": "keras.layers", "class_name": "UpSampling2D", "config": {
            "size": [size, size], "data_format": "channels_last", "interpolation": "bilinear"}}),
        );
    }
    json!({"module": "keras", "class_name": "Sequential", "config": {"layers": layers}})
}

/// Count the automatic names a serialized head took (`sequential_3`, `conv2d_5`), so the
/// layers made after it are named as Keras named them.
fn reserve_names(g: &mut Graph, layer: &Value) {
    let class = layer["class_name"].as_str().unwrap_or_default();
    if class == "InputLayer" {
        // a Sequential's input is made when it is first called, after the backbone's
        return;
    }
    if let Some(name) = layer["config"]["name"].as_str() {
        g.reserve_name(&super::snake_case(class), name);
    }
    if let Some(inner) = layer["config"]["layers"].as_array() {
        for l in inner {
            reserve_names(g, l);
        }
    }
}

/// The image encoder: its `resnet_block{n}` models, the widths BASNet reads, and the
/// stretches of layers no block holds (a model each), for the totals.
struct Encoder {
    blocks: Vec<Value>,
    stem_channels: u64,
    deepest_channels: u64,
    unlisted: Value,
}

impl Encoder {
    fn of(args: &Args) -> Result<Encoder> {
        let value = args.get("image_encoder").ok_or_else(|| {
            args.err("'image_encoder' is missing (the serialized ResNetBackbone)")
        })?;
        let class = value
            .get("registered_name")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("keras_hub>"));
        if class != Some("ResNetBackbone") {
            return Err(args.err(format!(
                "its image encoder is {}, not the ResNetBackbone BASNet takes",
                class.unwrap_or("not a serialized KerasHub backbone")
            )));
        }
        let enc = Args::of(value, "ResNetBackbone", &args.here)?;
        if enc.bool_or("use_pre_activation", false)? {
            // get_resnet_block reads `stack{n}_block{m}_add`, which v2 blocks lack
            return Err(args.err(
                "its image encoder is a ResNet v2 (use_pre_activation), which keras-hub's BASNet cannot split into blocks",
            ));
        }
        if enc.channels_first()? {
            return Err(args.err(
                "a channels_first image encoder is not read: BASNet's own layers are channels_last",
            ));
        }
        let filters = enc.ints("stackwise_num_filters")?;
        let depths = enc.ints("stackwise_num_blocks")?;
        if filters.len() < 4 || depths.len() < 4 {
            return Err(args.err("its image encoder has fewer than the four stacks BASNet takes"));
        }
        let expansion = if enc.str_or("block_type", "")?.starts_with("bottleneck") {
            4
        } else {
            1
        };
        let width = |stack: usize| filters[stack] * expansion;
        let stem_channels = *enc.ints("input_conv_filters")?.last().unwrap_or(&0);
        let model = resnet::build(&enc)?;
        let layers = model["config"]["layers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let last_of = |stack: usize, suffix: &str| {
            format!("stack{stack}_block{}_{suffix}", depths[stack] - 1)
        };
        let mut blocks = Vec::with_capacity(4);
        for stack in 0..4 {
            let (from, channels) = match stack {
                0 => ("pool1_pool".to_string(), stem_channels),
                s => (last_of(s - 1, "out"), width(s - 1)),
            };
            let name = format!("resnet_block{}", stack + 1);
            blocks.push(between(
                &layers,
                &from,
                &last_of(stack, "add"),
                &name,
                channels,
            ));
        }
        // what no block runs: the stem, and any stack past the fourth
        let input = model["config"]["input_layers"][0][0]
            .as_str()
            .unwrap_or_default();
        let mut unlisted = vec![between(&layers, input, "pool1_pool", "stem", 3)];
        if depths.len() > 4 {
            let output = model["config"]["output_layers"][0]
                .as_str()
                .unwrap_or_default();
            unlisted.push(between(
                &layers,
                &last_of(3, "out"),
                output,
                "tail",
                width(3),
            ));
        }
        Ok(Encoder {
            blocks,
            stem_channels,
            deepest_channels: width(3),
            unlisted: Value::Array(unlisted),
        })
    }
}

/// `keras.Model(inputs=<from's output>, outputs=<to's output>)` over the encoder's
/// `layers`: the layers between, fed by an input of `channels` and unknown size (the
/// encoder's own graph's shape).
fn between(layers: &[Value], from: &str, to: &str, name: &str, channels: u64) -> Value {
    let input_name = format!("{name}_input");
    let mut kept: Vec<String> = Vec::new();
    let mut stack = vec![to.to_string()];
    while let Some(layer) = stack.pop() {
        if layer == from || kept.contains(&layer) {
            continue;
        }
        if let Some(entry) = layers.iter().find(|l| l["name"] == layer.as_str()) {
            stack.extend(inbound_names(&entry["inbound_nodes"]));
        }
        kept.push(layer);
    }
    let mut body: Vec<Value> = layers
        .iter()
        .filter(|l| {
            l["name"]
                .as_str()
                .is_some_and(|n| kept.iter().any(|k| k == n))
        })
        .cloned()
        .collect();
    for l in &mut body {
        rename_source(&mut l["inbound_nodes"], from, &input_name);
    }
    let input = json!({"module": "keras.layers", "class_name": "InputLayer", "name": input_name,
                       "config": {"name": input_name, "batch_shape": [null, null, null, channels],
                                  "dtype": "float32", "sparse": false},
                       "inbound_nodes": []});
    body.insert(0, input);
    json!({"class_name": "Functional", "config": {
        "name": name, "layers": body, "input_layers": [[input_name, 0, 0]],
        "output_layers": [to, 0, 0]}})
}

fn inbound_names(value: &Value) -> Vec<String> {
    match value {
        Value::Object(map) => match map.get("keras_history") {
            Some(h) => h[0].as_str().map(str::to_string).into_iter().collect(),
            None => map.values().flat_map(inbound_names).collect(),
        },
        Value::Array(items) => items.iter().flat_map(inbound_names).collect(),
        _ => Vec::new(),
    }
}

/// Point the `keras_history` references to layer `from` at `to`.
fn rename_source(value: &mut Value, from: &str, to: &str) {
    match value {
        Value::Object(map) => {
            if let Some(h) = map.get_mut("keras_history") {
                if h[0] == from {
                    *h = json!([to, 0, 0]);
                }
                return;
            }
            map.values_mut().for_each(|v| rename_source(v, from, to));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rename_source(v, from, to)),
        _ => {}
    }
}
