//! `RetinaNetObjectDetector` (keras_hub/src/models/retinanet): the RetinaNetBackbone
//! (one row), then two `PredictionHead`s, `box_head` and `classification_head`, each one
//! layer called on every pyramid level (so one row each, built on the first call), whose
//! outputs are reshaped per level to (anchors, 4) and (anchors, classes) and concatenated
//! into the `bbox_regression` and `cls_logits` outputs. The anchor generator, label
//! encoder and prediction decoder hold no weights.
use serde_json::{json, Value};

use super::blocks::Conv;
use super::graph::{Graph, Tensor};
use super::hgnetv2::layer_model;
use super::{retinanet, Args};
use crate::error::Result;

/// The heads' width: the detector passes `num_filters=256`.
const HEAD_FILTERS: u64 = 256;
/// Keras's GroupNormalization epsilon; the heads pass `groups=32` only.
const GROUP_NORM_EPSILON: f64 = 1e-3;

pub fn translate(value: &Value, class: &str, location: &str) -> Result<Value> {
    let args = Args::of(value, class, location)?;
    let backbone = args
        .get("backbone")
        .ok_or_else(|| args.err("'backbone' is missing (the serialized backbone model)"))?;
    let backbone_class = backbone
        .get("registered_name")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("keras_hub>"));
    if backbone_class != Some("RetinaNetBackbone") {
        return Err(args.err(format!(
            "its backbone is {}, not the RetinaNetBackbone archbudget reads",
            backbone_class.unwrap_or("not a serialized KerasHub backbone")
        )));
    }
    let backbone_args = Args::of(backbone, "RetinaNetBackbone", location)?;
    if backbone_args.channels_first()? {
        // the heads take Keras's image_data_format(), and their outputs are reshaped as
        // channels_last maps
        return Err(args.err(
            "a channels_first backbone is not read: keras-hub 0.32's prediction heads and reshapes are channels_last",
        ));
    }
    let min_level = backbone_args.int("min_level")?;
    let max_level = backbone_args.int("max_level")?;
    let backbone_json = retinanet::build(&backbone_args)?;
    let num_classes = args.int("num_classes")?;
    let anchors = base_anchors(&args)?;
    let head = Head {
        convs: non_negative(&args, "pre_logits_num_conv_layers", 4)?,
        group_norm: args.bool_or("use_prediction_head_norm", false)?,
    };

    let mut g = Graph::new(false);
    let input = g.input_named("images", &backbone_args.image_shape()?);
    let features = g.nested(backbone_json, input);
    let box_head = head.model("box_head", anchors * 4);
    let class_head = head.model("classification_head", anchors * num_classes);
    let (mut boxes, mut classes) = (Vec::new(), Vec::new());
    let mut heads: Option<(Tensor, Tensor)> = None;
    // the backbone's dict of levels, in key order (P3, ..., P7)
    for (i, level) in (min_level..=max_level).enumerate() {
        let x = g.output(features, i);
        let (b, c) = match heads {
            None => {
                let b = g.nested(box_head.clone(), x);
                let c = g.nested(class_head.clone(), x);
                heads = Some((b, c));
                (b, c)
            }
            Some((b, c)) => (g.call_again(b, &[x]), g.call_again(c, &[x])),
        };
        boxes.push(reshape(&mut g, &format!("box_pred_P{level}"), 4, b));
        classes.push(reshape(
            &mut g,
            &format!("cls_pred_P{level}"),
            num_classes,
            c,
        ));
    }
    let concat = |g: &mut Graph, name: &str, parts: &[Tensor]| {
        g.merge("Concatenate", json!({"name": name, "axis": 1}), parts)
    };
    let classes = concat(&mut g, "cls_logits", &classes);
    let boxes = concat(&mut g, "bbox_regression", &boxes);
    let outputs = [
        ("bbox_regression".to_string(), boxes),
        ("cls_logits".to_string(), classes),
    ];
    Ok(g.finish_dict(class, &args.name, input, &outputs, &args.kept()))
}

/// `Reshape((-1, width))`: one row per anchor of the level.
fn reshape(g: &mut Graph, name: &str, width: u64, x: Tensor) -> Tensor {
    let config = json!({"name": name, "target_shape": [-1, width]});
    g.call("Reshape", config, &[x])
}

/// The anchors per position: `num_scales * len(aspect_ratios)` of the serialized
/// `anchor_generator` (keras-hub's default: 3 scales, 3 ratios).
fn base_anchors(args: &Args) -> Result<u64> {
    let Some(generator) = args.get("anchor_generator") else {
        return Ok(9);
    };
    let config = generator.get("config").unwrap_or(generator);
    let scales = config.get("num_scales").and_then(Value::as_u64);
    let ratios = config
        .get("aspect_ratios")
        .and_then(Value::as_array)
        .map(Vec::len);
    match (scales, ratios) {
        (Some(s), Some(r)) if s > 0 && r > 0 => Ok(s * r as u64),
        _ => Err(args.err(
            "'anchor_generator' must hold a positive 'num_scales' and a non-empty 'aspect_ratios'",
        )),
    }
}

/// An integer argument that may be 0.
fn non_negative(args: &Args, key: &str, default: u64) -> Result<u64> {
    args.get(key).map_or(Ok(default), |v| {
        v.as_u64()
            .ok_or_else(|| args.err(format!("'{key}' must be a non-negative integer, got {v}")))
    })
}

/// A `PredictionHead`'s options.
struct Head {
    convs: u64,
    group_norm: bool,
}

impl Head {
    /// The layer, as a nested model of what its `call` runs: `convs` 3x3 convolutions
    /// (without bias and each followed by a 32-group norm under `use_group_norm`), relu
    /// after each, then the `logits_layer` convolution to `filters`.
    fn model(&self, name: &str, filters: u64) -> Value {
        layer_model("PredictionHead", name, false, |g, input| {
            let mut x = input;
            for idx in 0..self.convs {
                let conv = Conv::new(HEAD_FILTERS, 3).same();
                let name = format!("conv2d_{idx}");
                x = if self.group_norm {
                    let x = g.conv2d(&name, conv.no_bias(), x);
                    let config = json!({"name": format!("group_norm_{idx}"), "groups": 32,
                                        "axis": -1, "epsilon": GROUP_NORM_EPSILON,
                                        "center": true, "scale": true});
                    let x = g.call("GroupNormalization", config, &[x]);
                    let name = g.auto_name("activation");
                    g.activation(&name, "relu", x)
                } else {
                    g.conv2d(&name, conv.activation("relu"), x)
                };
            }
            vec![g.conv2d("logits_layer", Conv::new(filters, 3).same(), x)]
        })
    }
}
