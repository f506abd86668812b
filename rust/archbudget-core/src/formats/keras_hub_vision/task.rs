//! Image classifiers (keras_hub/src/models/image_classifier.py and the families' own
//! heads): the backbone as a nested model, then the head the task's constructor builds.
use serde_json::{json, Value};

use super::blocks::Conv;
use super::graph::{Graph, Tensor};
use super::{backbone, hgnetv2, Args};
use crate::error::Result;

/// The task classes read here, by the head their constructor builds.
pub enum Head {
    /// `ImageClassifier`: pooler, dropout, dense.
    Pooled,
    /// `VGGImageClassifier`: a Sequential `head` of two 4096-wide layers.
    Vgg,
    /// `MobileNetImageClassifier`: pooler, 1x1 hard-SiLU convolution, dense.
    MobileNet,
    /// `HGNetV2ImageClassifier`: a 1x1 convolution layer on the last stage, pooler,
    /// dense.
    HGNetV2,
    /// `DeepLabV3ImageSegmenter`: a 1x1 convolution to the classes.
    Segmenter,
    /// `BASNetImageSegmenter`: the backbone's `refine_out`, no layer of its own.
    Refined,
}

pub fn head(class: &str) -> Option<Head> {
    Some(match class {
        "ImageClassifier"
        | "ResNetImageClassifier"
        | "DenseNetImageClassifier"
        | "EfficientNetImageClassifier"
        | "XceptionImageClassifier"
        | "CSPNetImageClassifier" => Head::Pooled,
        "VGGImageClassifier" => Head::Vgg,
        "MobileNetImageClassifier" => Head::MobileNet,
        "HGNetV2ImageClassifier" => Head::HGNetV2,
        "DeepLabV3ImageSegmenter" => Head::Segmenter,
        "BASNetImageSegmenter" => Head::Refined,
        _ => return None,
    })
}

pub fn translate(value: &Value, class: &str, head: Head, location: &str) -> Result<Value> {
    let args = Args::of(value, class, location)?;
    let backbone_value = args
        .get("backbone")
        .ok_or_else(|| args.err("'backbone' is missing (the serialized backbone model)"))?;
    let backbone_class = backbone_value
        .get("registered_name")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("keras_hub>"))
        .ok_or_else(|| args.err("'backbone' is not a serialized KerasHub backbone"))?;
    let build = backbone(backbone_class).ok_or_else(|| {
        args.err(format!(
            "its backbone {backbone_class} is not a vision backbone archbudget reads (ResNet, VGG, DenseNet, EfficientNet, MobileNet, Xception, CSPNet, HGNetV2)"
        ))
    })?;
    let backbone_args = Args::of(backbone_value, backbone_class, location)?;
    let backbone_json = build(&backbone_args)?;
    // HGNetV2's head takes 0 (no dense layer): read per head
    let num_classes = || args.int("num_classes");
    let activation = match args.get("activation") {
        None => "linear",
        Some(Value::String(s)) => s.as_str(),
        Some(other) => {
            return Err(args.err(format!(
                "'activation' must be the name of an activation, got {other}"
            )))
        }
    };

    let mut g = Graph::new(backbone_args.channels_first()?);
    let (input_name, shape) = backbone_input(&backbone_json);
    let input = g.input_named(&input_name, &shape);
    let outputs = dict_len(&backbone_json);
    let features = g.nested(backbone_json, input);
    let output = match head {
        Head::Pooled => {
            let pooled = pooler(&args, &mut g, features)?;
            let dropped = g.dropout("output_dropout", args.float_or("dropout", 0.0)?, pooled);
            g.dense("predictions", num_classes()?, activation, dropped)
        }
        Head::MobileNet => {
            let pooled = g.global_pool("GlobalAveragePooling2D", "pooler", true, features);
            let conv = Conv::new(args.int_or("num_features", 1024)?, 1).activation("hard_silu");
            let x = g.conv2d("classifier_conv", conv, pooled);
            let flat = g.auto_name("flatten");
            let x = g.flatten(&flat, x);
            g.dense("predictions", num_classes()?, "linear", x)
        }
        Head::Vgg => {
            let sequential = vgg_head(&args, num_classes()?, activation)?;
            g.nested(sequential, features)
        }
        Head::HGNetV2 => hgnetv2::classifier_head(&args, &backbone_args, &mut g, features)?,
        Head::Segmenter => {
            let conv = Conv::new(num_classes()?, 1)
                .same()
                .no_bias()
                .activation(activation);
            g.conv2d("segmentation_output", conv, features)
        }
        // the backbone's outputs in key order: predict_out_1, ..., refine_out
        Head::Refined => g.output(features, outputs - 1),
    };
    Ok(g.finish(class, &args.name, input, output, &args.kept()))
}

/// The number of outputs of a translated backbone returning a dict.
fn dict_len(backbone: &Value) -> usize {
    backbone["config"]["output_layers"]
        .as_object()
        .map_or(1, serde_json::Map::len)
}

/// The name and image shape (batch axis left out) of a translated backbone's input: the
/// task model's input is the backbone's.
fn backbone_input(backbone: &Value) -> (String, Vec<Option<u64>>) {
    let layers = backbone["config"]["layers"]
        .as_array()
        .into_iter()
        .flatten();
    let input = layers.into_iter().find(|l| l["class_name"] == "InputLayer");
    let name = input
        .and_then(|l| l["config"]["name"].as_str())
        .unwrap_or("input_layer")
        .to_string();
    let shape = input
        .and_then(|l| l["config"]["batch_shape"].as_array())
        .map(|dims| dims.iter().skip(1).map(Value::as_u64).collect())
        .unwrap_or_default();
    (name, shape)
}

/// `pooling`: avg or max over the image.
fn pooler(args: &Args, g: &mut Graph, x: Tensor) -> Result<Tensor> {
    let class = match args.str_or("pooling", "avg")? {
        "avg" => "GlobalAveragePooling2D",
        "max" => "GlobalMaxPooling2D",
        other => return Err(args.err(format!("'pooling' must be avg or max, got '{other}'"))),
    };
    Ok(g.global_pool(class, "pooler", false, x))
}

/// VGGImageClassifier's `head`: a Sequential of fully connected layers written as 7x7
/// and 1x1 convolutions (`pooling` avg or max), or of dense layers (`flatten`).
fn vgg_head(args: &Args, num_classes: u64, activation: &str) -> Result<Value> {
    let hidden = args.int_or("pooling_hidden_dim", 4096)?;
    let dropout = args.float_or("dropout", 0.0)?;
    let layer = |class: &str, config: Value| json!({"module": "keras.layers", "class_name": class, "config": config});
    let conv = |name: &str, kernel: u64, padding: &str| {
        layer(
            "Conv2D",
            json!({"name": name, "filters": hidden, "kernel_size": [kernel, kernel],
                   "strides": [1, 1], "padding": padding, "data_format": "channels_last",
                   "dilation_rate": [1, 1], "groups": 1, "activation": "relu", "use_bias": true}),
        )
    };
    let dense = |name: &str, units: u64, activation: &str| {
        layer(
            "Dense",
            json!({"name": name, "units": units, "activation": activation, "use_bias": true}),
        )
    };
    let drop = layer(
        "Dropout",
        json!({"name": "output_dropout", "rate": dropout}),
    );
    let predictions = dense("predictions", num_classes, activation);
    let layers = match args.str_or("pooling", "avg")? {
        "flatten" => vec![
            layer(
                "Flatten",
                json!({"name": "flatten", "data_format": "channels_last"}),
            ),
            dense("fc1", hidden, "relu"),
            drop,
            dense("fc2", hidden, "relu"),
            predictions,
        ],
        pooling @ ("avg" | "max") => {
            let class = if pooling == "avg" {
                "GlobalAveragePooling2D"
            } else {
                "GlobalMaxPooling2D"
            };
            vec![
                conv("fc1", 7, "valid"),
                drop,
                conv("fc2", 1, "same"),
                layer(
                    class,
                    json!({"name": "pooler", "data_format": "channels_last", "keepdims": false}),
                ),
                predictions,
            ]
        }
        other => {
            return Err(args.err(format!(
                "'pooling' must be avg, max or flatten, got '{other}'"
            )))
        }
    };
    Ok(json!({"class_name": "Sequential", "config": {"name": "head", "layers": layers}}))
}
