//! `DeepLabV3Backbone` (keras_hub/src/models/deeplab_v3): the image encoder's pyramid
//! (one `functional` row), atrous spatial pyramid pooling over one level
//! (`SpatialPyramidPooling`, one row: here a nested model of the layers its `call`
//! runs), upsampled, optionally concatenated with a projected low-level level
//! (DeepLabV3+), then a 1x1 convolution head upsampled to the image.
use serde_json::{json, Value};

use super::graph::{Graph, Tensor};
use super::hgnetv2::layer_model;
use super::pyramid;
use super::Args;
use crate::error::Result;

/// Keras's BatchNormalization defaults, which every norm here keeps.
const BN_EPSILON: f64 = 1e-3;
const BN_MOMENTUM: f64 = 0.99;
/// The channels of the pooling branches and of the segmentation head.
const CHANNELS: u64 = 256;

pub fn build(args: &Args) -> Result<Value> {
    let encoder = pyramid::encoder(args, "image_encoder", &args.here)?;
    let spp_key = level_key(args, "spatial_pyramid_pooling_key")?;
    let low_key = match args.get("low_level_feature_key") {
        Some(_) => Some(level_key(args, "low_level_feature_key")?),
        None => None,
    };
    for key in std::iter::once(spp_key).chain(low_key) {
        if !encoder.has(key) {
            let levels: Vec<&str> = encoder.levels.iter().map(|(l, _)| l.as_str()).collect();
            return Err(args.err(format!(
                "'{key}' is not one of its image encoder's pyramid outputs {levels:?}"
            )));
        }
    }
    let dilation_rates = args.ints("dilation_rates")?;
    let (up_rows, up_cols) = upsampling_size(args)?;
    let level: u32 = spp_key[1..].parse().unwrap_or_default();
    // the head brings the image back from the level's scale, 2^level
    let scale = 1u64.checked_shl(level).unwrap_or(0);
    let head_upsampling = scale / up_rows;
    if head_upsampling == 0 {
        return Err(args.err(format!(
            "'upsampling_size' {up_rows} is larger than the {spp_key} level's scale {scale}"
        )));
    }
    // the constructor takes Keras's image_data_format(), default channels_last
    let channels_first = false;
    let mut g = Graph::new(channels_first);
    let input = g.input_named("inputs", &args.image_shape()?);
    let levels: Vec<&str> = encoder.levels.iter().map(|(l, _)| l.as_str()).collect();
    let name = g.auto_name("functional");
    let features = g.nested(encoder.feature_model(args, &name, &levels)?, input);
    let index_of = |key: &str| levels.iter().position(|l| *l == key).unwrap_or(0);
    let deep = g.output(features, index_of(spp_key));
    let spp_name = g.auto_name("spatial_pyramid_pooling");
    let spp = spatial_pyramid_pooling(&spp_name, channels_first, &dilation_rates);
    let spp = g.nested(spp, deep);
    let mut x = upsampling(&mut g, "encoder_output_upsampling", [up_rows, up_cols], spp);
    if let Some(low_key) = low_key {
        let low = g.output(features, index_of(low_key));
        let filters = args.int_or("projection_filters", 48)?;
        let low = conv_bn_relu(&mut g, "decoder", filters, low);
        let axis = g.channel_axis();
        x = g.merge(
            "Concatenate",
            json!({"name": "encoder_decoder_concat", "axis": axis}),
            &[x, low],
        );
    }
    let x = conv_bn_relu(&mut g, "segmentation_head", CHANNELS, x);
    let size = [head_upsampling, head_upsampling];
    let x = upsampling(&mut g, "backbone_output_upsampling", size, x);
    Ok(g.finish(args.class, &args.name, input, x, &args.kept()))
}

/// A pyramid level's key (`P5`) under `key`.
fn level_key<'v>(args: &Args<'v>, key: &str) -> Result<&'v str> {
    let v = args.required(key)?;
    v.as_str()
        .filter(|s| s.len() > 1 && s.starts_with('P') && s[1..].parse::<u32>().is_ok())
        .ok_or_else(|| {
            args.err(format!(
                "'{key}' must name a pyramid level such as \"P4\", got {v}"
            ))
        })
}

/// `upsampling_size`: one factor or (rows, columns).
fn upsampling_size(args: &Args) -> Result<(u64, u64)> {
    match args.get("upsampling_size") {
        Some(Value::Array(_)) => match args.ints("upsampling_size")?.as_slice() {
            &[rows, cols] => Ok((rows, cols)),
            _ => Err(args.err("'upsampling_size' must be one integer or two")),
        },
        _ => {
            let size = args.int("upsampling_size")?;
            Ok((size, size))
        }
    }
}

fn upsampling(g: &mut Graph, name: &str, size: [u64; 2], x: Tensor) -> Tensor {
    let config = json!({"name": name, "size": size, "data_format": g.data_format(),
                        "interpolation": "bilinear"});
    g.call("UpSampling2D", config, &[x])
}

/// A 1x1 convolution without bias, its norm and `ReLU`, named `{prefix}_conv` ...
fn conv_bn_relu(g: &mut Graph, prefix: &str, filters: u64, x: Tensor) -> Tensor {
    let x = conv(g, &format!("{prefix}_conv"), filters, 1, 1, "same", x);
    let x = g.batch_norm(&format!("{prefix}_norm"), BN_EPSILON, BN_MOMENTUM, x);
    g.call("ReLU", json!({"name": format!("{prefix}_relu")}), &[x])
}

fn conv(
    g: &mut Graph,
    name: &str,
    filters: u64,
    kernel: u64,
    dilation: u64,
    padding: &str,
    x: Tensor,
) -> Tensor {
    let config = json!({
        "name": name, "filters": filters, "kernel_size": [kernel, kernel], "strides": [1, 1],
        "padding": padding, "data_format": g.data_format(), "dilation_rate": [dilation, dilation],
        "groups": 1, "activation": "linear", "use_bias": false,
    });
    g.call("Conv2D", config, &[x])
}

/// `SpatialPyramidPooling` with its defaults (256 channels, relu, no dropout: DeepLabV3
/// passes only `dilation_rates`): a 1x1 branch, a dilated 3x3 branch per rate and an
/// image-pooling branch, concatenated and projected.
fn spatial_pyramid_pooling(name: &str, channels_first: bool, rates: &[u64]) -> Value {
    layer_model("SpatialPyramidPooling", name, channels_first, |g, input| {
        let norm_act = |g: &mut Graph, n: usize, x: Tensor| {
            let x = g.batch_norm(&format!("aspp_bn_{n}"), BN_EPSILON, BN_MOMENTUM, x);
            g.activation(&format!("aspp_activation_{n}"), "relu", x)
        };
        let x = conv(g, "aspp_conv_1", CHANNELS, 1, 1, "valid", input);
        let first = norm_act(g, 1, x);
        let mut branches = vec![first];
        for (i, &rate) in rates.iter().enumerate() {
            let x = conv(
                g,
                &format!("aspp_conv_{}", i + 2),
                CHANNELS,
                3,
                rate,
                "same",
                input,
            );
            branches.push(norm_act(g, i + 2, x));
        }
        let pooled = g.global_pool("GlobalAveragePooling2D", "average_pooling", true, input);
        let x = conv(g, "conv_pooling", CHANNELS, 1, 1, "valid", pooled);
        let x = g.batch_norm("bn_pooling", BN_EPSILON, BN_MOMENTUM, x);
        let x = g.activation("activation_pooling", "relu", x);
        // `Resizing` to the input's side, which is known only when the model runs:
        // written as the 1x1 map broadcast onto a branch of that side (the same bytes,
        // no weights, no FLOPs counted)
        let resized = g.add("resizing", &[x, first]);
        branches.push(resized);
        let x = g.concatenate("concatenate", &branches);
        let x = conv(g, "conv_projection", CHANNELS, 1, 1, "valid", x);
        let x = g.batch_norm("bn_projection", BN_EPSILON, BN_MOMENTUM, x);
        let x = g.activation("activation_projection", "relu", x);
        vec![g.dropout("dropout", 0.0, x)]
    })
}
