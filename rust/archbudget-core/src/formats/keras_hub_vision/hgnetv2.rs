//! `HGNetV2Backbone` and `HGNetV2ImageClassifier` (keras_hub/src/models/hgnetv2): a stem
//! layer (`HGNetV2Embeddings`: strided convolutions, a max-pooled branch concatenated
//! with a convolved one) and an encoder layer (`HGNetV2Encoder`: stages of an optional
//! depthwise downsampling and `HGNetV2BasicLayer`s, each convolution stack concatenated
//! and squeezed back, residual after the first). Each of the two is one row of the
//! summary: here a nested model of the layers its `call` runs; the encoder returns its
//! input and every stage's output, and the backbone a dict of those named in
//! `out_features` (`stem`, `stage1`, ...).
//!
//! Inner layer names are keras-hub's; rows are named as in a model built without a
//! `name` (keras-hub prefixes them with the model's name when it is given one).
use serde_json::{json, Map, Value};

use super::blocks::Conv;
use super::graph::{Graph, Tensor};
use super::Args;
use crate::error::Result;

const BN_EPSILON: f64 = 1e-5;
const BN_MOMENTUM: f64 = 0.9;

/// One stage of `stackwise_stage_filters`, with its `apply_downsample` and
/// `use_lightweight_conv_block` entries.
struct Stage {
    in_channels: u64,
    mid_channels: u64,
    out_channels: u64,
    blocks: u64,
    layers_per_block: u64,
    kernel: u64,
    downsample: bool,
    light: bool,
}

/// The arguments the backbone's layers are built from.
struct Hgnet<'a> {
    stem_channels: Vec<u64>,
    /// None: an identity (`hidden_act=None`); the stem's activation only.
    hidden_act: Option<&'a str>,
    affine: bool,
    stages: Vec<Stage>,
    channels_first: bool,
}

impl<'a> Hgnet<'a> {
    fn of(args: &Args<'a>) -> Result<Hgnet<'a>> {
        let stem_channels = args.ints("stem_channels")?;
        if stem_channels.len() < 3 {
            return Err(args.err(format!(
                "'stem_channels' must hold 3 channel counts (input, stem, output), got {stem_channels:?}"
            )));
        }
        let hidden_act = match args.get("hidden_act") {
            None => None,
            Some(Value::String(s)) if matches!(s.as_str(), "relu" | "gelu" | "tanh") => {
                Some(s.as_str())
            }
            Some(other) => {
                return Err(args.err(format!(
                    "'hidden_act' must be relu, gelu, tanh or null (HGNetV2ConvLayer's activations), got {other}"
                )))
            }
        };
        let filters = args.list("stackwise_stage_filters")?;
        let flags = |key: &str| -> Result<Vec<bool>> {
            let list = args.list(key)?;
            let bools: Option<Vec<bool>> = list
                .iter()
                .map(|v| v.as_bool().or_else(|| v.as_u64().map(|n| n != 0)))
                .collect();
            match bools {
                Some(b) if b.len() >= filters.len() => Ok(b),
                _ => Err(args.err(format!(
                    "'{key}' must hold a true or false for each of the {} stages",
                    filters.len()
                ))),
            }
        };
        let downsample = flags("apply_downsample")?;
        let light = flags("use_lightweight_conv_block")?;
        let stages = filters
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let v: Option<Vec<u64>> = f.as_array().filter(|a| a.len() == 6).and_then(|a| {
                    a.iter().map(|x| x.as_u64().filter(|&n| n > 0)).collect()
                });
                let v = v.ok_or_else(|| {
                    args.err(format!(
                        "'stackwise_stage_filters' must hold, per stage, 6 positive integers (in, mid and out channels, blocks, layers per block, kernel size), got {f}"
                    ))
                })?;
                Ok(Stage {
                    in_channels: v[0],
                    mid_channels: v[1],
                    out_channels: v[2],
                    blocks: v[3],
                    layers_per_block: v[4],
                    kernel: v[5],
                    downsample: downsample[i],
                    light: light[i],
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if stages.is_empty() {
            return Err(args.err("'stackwise_stage_filters' must hold at least one stage"));
        }
        Ok(Hgnet {
            stem_channels,
            hidden_act,
            affine: args.bool_or("use_learnable_affine_block", false)?,
            stages,
            channels_first: args.channels_first()?,
        })
    }
}

/// `HGNetV2ConvLayer`'s arguments.
struct ConvLayer<'a> {
    filters: u64,
    kernel: u64,
    stride: u64,
    groups: u64,
    activation: Option<&'a str>,
    affine: bool,
}

impl<'a> ConvLayer<'a> {
    fn new(filters: u64, kernel: u64, activation: Option<&'a str>, affine: bool) -> Self {
        ConvLayer {
            filters,
            kernel,
            stride: 1,
            groups: 1,
            activation,
            affine,
        }
    }

    /// Padding of `(kernel - 1) // 2` on each side, a valid convolution without bias,
    /// BatchNormalization, the activation, then the learnable affine block.
    fn apply(&self, g: &mut Graph, name: &str, x: Tensor) -> Tensor {
        let pad = (self.kernel - 1) / 2;
        let x = g.zero_padding(&format!("{name}_pad"), [[pad, pad], [pad, pad]], x);
        let conv = Conv::new(self.filters, self.kernel)
            .strides(self.stride)
            .groups(self.groups)
            .no_bias();
        let x = g.conv2d(&format!("{name}_conv"), conv, x);
        let mut x = g.batch_norm(&format!("{name}_bn"), BN_EPSILON, BN_MOMENTUM, x);
        x = match self.activation {
            Some("relu") => g.call("ReLU", json!({"name": format!("{name}_relu")}), &[x]),
            Some(act) => g.activation(&format!("{name}_{act}"), act, x),
            None => x,
        };
        if self.affine {
            let config =
                json!({"name": format!("{name}_lab"), "scale_value": 1.0, "bias_value": 0.0});
            x = g.call("HGNetV2LearnableAffineBlock", config, &[x]);
        }
        x
    }
}

/// A layer of the backbone, one row of its summary: the layers its `call` runs, as a
/// nested model of class `class` named `name` with the outputs `body` returns.
pub(super) fn layer_model(
    class: &str,
    name: &str,
    channels_first: bool,
    body: impl FnOnce(&mut Graph, Tensor) -> Vec<Tensor>,
) -> Value {
    let mut g = Graph::new(channels_first);
    let input = g.input(&[None, None, None]);
    let outputs = body(&mut g, input);
    match outputs.as_slice() {
        [one] => g.finish(class, name, input, *one, &Map::new()),
        many => g.finish_list(class, name, input, many, &Map::new()),
    }
}

/// Keras's names of the two classes built without a name (`to_snake_case`).
const BACKBONE_NAME: &str = "hg_net_v2_backbone";
const CLASSIFIER_NAME: &str = "hg_net_v2_image_classifier";

/// Whether `name` is the one Keras gives a model built without a name (`default`,
/// `{default}_1`, ...).
fn is_default_name(name: &str, default: &str) -> bool {
    name.strip_prefix(default).is_some_and(|rest| {
        rest.is_empty()
            || rest
                .strip_prefix('_')
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// keras-hub's name for a layer the backbone names after itself: `default` when the
/// backbone has Keras's default name, else `{backbone name}_{suffix}`.
fn named(args: &Args, default: &str, suffix: &str) -> String {
    if is_default_name(&args.name, BACKBONE_NAME) {
        default.to_string()
    } else {
        format!("{}_{suffix}", args.name)
    }
}

pub fn build(args: &Args) -> Result<Value> {
    let net = Hgnet::of(args)?;
    let stage_names: Vec<String> = std::iter::once("stem".to_string())
        .chain((1..=net.stages.len()).map(|i| format!("stage{i}")))
        .collect();
    let out_features: Vec<&str> = match args.get("out_features") {
        None => stage_names.iter().map(String::as_str).collect(),
        Some(_) => {
            let list = args.list("out_features")?;
            list.iter()
                .map(|v| {
                    v.as_str().ok_or_else(|| {
                        args.err(format!("'out_features' must hold stage names, got {v}"))
                    })
                })
                .collect::<Result<_>>()?
        }
    };
    let mut g = Graph::new(net.channels_first);
    let input = g.input_named("pixel_values_input", &args.image_shape()?);
    let embedder = embedder(&net, &named(args, "embedder", "embedder"));
    let x = g.nested(embedder, input);
    let encoder = encoder(&net, &named(args, "encoder", "encoder"));
    let states = g.nested(encoder, x);
    let mut outputs: Vec<(String, Tensor)> = stage_names
        .iter()
        .enumerate()
        .filter(|(_, s)| out_features.contains(&s.as_str()))
        .map(|(i, s)| (s.clone(), g.output(states, i)))
        .collect();
    if outputs.is_empty() {
        return Err(args.err(format!(
            "'out_features' names none of the stages {stage_names:?}"
        )));
    }
    outputs.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(g.finish_dict(args.class, &args.name, input, &outputs, &args.kept()))
}

/// `HGNetV2Embeddings`.
fn embedder(net: &Hgnet, name: &str) -> Value {
    let (act, affine) = (net.hidden_act, net.affine);
    let stem = net.stem_channels[1];
    let out = net.stem_channels[2];
    layer_model("HGNetV2Embeddings", name, net.channels_first, |g, input| {
        let stem1 = ConvLayer {
            stride: 2,
            ..ConvLayer::new(stem, 3, act, affine)
        };
        let x = stem1.apply(g, &format!("{name}_stem1"), input);
        let padded = g.zero_padding(&format!("{name}_padding1"), [[0, 1], [0, 1]], x);
        let a =
            ConvLayer::new(stem / 2, 2, act, affine).apply(g, &format!("{name}_stem2a"), padded);
        let a = g.zero_padding(&format!("{name}_padding2"), [[0, 1], [0, 1]], a);
        let b = ConvLayer::new(stem, 2, act, affine).apply(g, &format!("{name}_stem2b"), a);
        let pooled = g.pool(
            "MaxPooling2D",
            &format!("{name}_pool"),
            2,
            1,
            "valid",
            padded,
        );
        let x = g.concatenate(&format!("{name}_concat"), &[pooled, b]);
        let stem3 = ConvLayer {
            stride: 2,
            ..ConvLayer::new(stem, 3, act, affine)
        };
        let x = stem3.apply(g, &format!("{name}_stem3"), x);
        vec![ConvLayer::new(out, 1, act, affine).apply(g, &format!("{name}_stem4"), x)]
    })
}

/// `HGNetV2Encoder`: its input, then each stage's output.
fn encoder(net: &Hgnet, name: &str) -> Value {
    layer_model("HGNetV2Encoder", name, net.channels_first, |g, input| {
        let mut states = vec![input];
        let mut x = input;
        for (i, stage) in net.stages.iter().enumerate() {
            x = apply_stage(g, net.affine, stage, &format!("{name}_stage_{i}"), x);
            states.push(x);
        }
        states
    })
}

/// `HGNetV2Stage`: a depthwise strided convolution (`apply_downsample`), then the blocks.
fn apply_stage(g: &mut Graph, affine: bool, stage: &Stage, name: &str, mut x: Tensor) -> Tensor {
    if stage.downsample {
        let down = ConvLayer {
            stride: 2,
            groups: stage.in_channels,
            ..ConvLayer::new(stage.in_channels, 3, None, false)
        };
        x = down.apply(g, &format!("{name}_downsample"), x);
    }
    for b in 0..stage.blocks {
        x = basic_layer(g, affine, stage, b > 0, &format!("{name}_block_{b}"), x);
    }
    x
}

/// `HGNetV2BasicLayer`: `layers_per_block` convolutions (or light ones: a 1x1, then a
/// depthwise one), the input and each output concatenated, squeezed to half the output
/// channels and excited back, plus the input when `residual`.
fn basic_layer(
    g: &mut Graph,
    affine: bool,
    stage: &Stage,
    residual: bool,
    name: &str,
    input: Tensor,
) -> Tensor {
    let mid = stage.mid_channels;
    let mut features = vec![input];
    let mut x = input;
    for i in 0..stage.layers_per_block {
        x = if stage.light {
            let light = format!("{name}_light_block_{i}");
            let x = ConvLayer::new(mid, 1, None, false).apply(g, &format!("{light}_conv1"), x);
            let depthwise = ConvLayer {
                groups: mid,
                ..ConvLayer::new(mid, stage.kernel, Some("relu"), affine)
            };
            depthwise.apply(g, &format!("{light}_conv2"), x)
        } else {
            ConvLayer::new(mid, stage.kernel, Some("relu"), affine).apply(
                g,
                &format!("{name}_conv_block_{i}"),
                x,
            )
        };
        features.push(x);
    }
    let x = g.concatenate(&format!("{name}_concat"), &features);
    let x = ConvLayer::new(stage.out_channels / 2, 1, Some("relu"), affine).apply(
        g,
        &format!("{name}_agg_squeeze"),
        x,
    );
    let x = ConvLayer::new(stage.out_channels, 1, Some("relu"), affine).apply(
        g,
        &format!("{name}_agg_excite"),
        x,
    );
    if residual {
        g.add(&format!("{name}_add_residual"), &[x, input])
    } else {
        x
    }
}

/// `HGNetV2ImageClassifier`'s head on the backbone's outputs `features` (its last stage
/// read): a 1x1 `HGNetV2ConvLayer` (`head_last`), pooling, flatten, dropout and the
/// predictions (an Identity for `num_classes=0`).
pub fn classifier_head(
    task: &Args,
    backbone: &Args,
    g: &mut Graph,
    features: Tensor,
) -> Result<Tensor> {
    let net = Hgnet::of(backbone)?;
    let stages = net.stages.len();
    let last = format!("stage{stages}");
    let mut keys: Vec<String> = match backbone.get("out_features") {
        None => std::iter::once("stem".to_string())
            .chain((1..=stages).map(|i| format!("stage{i}")))
            .collect(),
        Some(_) => backbone
            .list("out_features")?
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
    };
    keys.sort();
    keys.dedup();
    let index = keys.iter().position(|k| *k == last).ok_or_else(|| {
        task.err(format!(
            "its backbone's 'out_features' leave out the last stage '{last}', which the classifier reads"
        ))
    })?;
    let last_width = net.stages[stages - 1].out_channels;
    let head_filters = task.int_or("head_filters", last_width)?;
    let affine = net.affine;
    let head = layer_model(
        "HGNetV2ConvLayer",
        "head_last",
        net.channels_first,
        |g, x| vec![ConvLayer::new(head_filters, 1, Some("relu"), affine).apply(g, "head_last", x)],
    );
    let last_state = g.output(features, index);
    let x = g.nested(head, last_state);
    // the classifier names its layers after `name`, "hgnetv2_image_classifier" when
    // built without one
    let prefix = if is_default_name(&task.name, CLASSIFIER_NAME) {
        "hgnetv2_image_classifier"
    } else {
        task.name.as_str()
    };
    let (pool_class, pool_name) = match task.str_or("pooling", "avg")? {
        "avg" => ("GlobalAveragePooling2D", "avg_pool"),
        "max" => ("GlobalMaxPooling2D", "max_pool"),
        other => return Err(task.err(format!("'pooling' must be avg or max, got '{other}'"))),
    };
    let x = g.global_pool(pool_class, &format!("{prefix}_{pool_name}"), false, x);
    let x = g.flatten(&format!("{prefix}_flatten"), x);
    let x = g.dropout(
        &format!("{prefix}_output_dropout"),
        task.float_or("dropout", 0.0)?,
        x,
    );
    let num_classes = match task.get("num_classes") {
        Some(v) => v.as_u64().ok_or_else(|| {
            task.err(format!(
                "'num_classes' must be a non-negative integer, got {v}"
            ))
        })?,
        None => {
            return Err(task.err(
                "'num_classes' is missing (a constructor argument of HGNetV2ImageClassifier)",
            ))
        }
    };
    if num_classes == 0 {
        return Ok(g.call("Identity", json!({"name": "predictions"}), &[x]));
    }
    let activation = match task.get("activation") {
        None => "linear",
        Some(Value::String(s)) => s.as_str(),
        Some(other) => {
            return Err(task.err(format!(
                "'activation' must be the name of an activation, got {other}"
            )))
        }
    };
    Ok(g.dense("predictions", num_classes, activation, x))
}
