//! `XceptionBackbone` (keras_hub/src/models/xception/xception_backbone.py): blocks of
//! bias-free 3x3 convolutions, each with BatchNorm and ReLU. The first block holds plain
//! convolutions (the first of stride 2, valid padding), the last same-padded separable
//! convolutions each followed by its norm and ReLU; the blocks between hold ReLU →
//! separable convolution → norm (no leading ReLU on the second block's first), and add a
//! residual: the block's input, through a strided 1x1 convolution and norm when its
//! channels differ from the block's output. A block may end in a 3x3 stride-2 max pool.
use serde_json::{json, Value};

use super::blocks::Conv;
use super::graph::{Graph, Tensor};
use super::Args;
use crate::error::Result;

/// Keras's BatchNormalization defaults, which XceptionBackbone keeps.
const EPSILON: f64 = 1e-3;
const MOMENTUM: f64 = 0.99;

pub fn build(args: &Args) -> Result<Value> {
    let filters = stack_filters(args)?;
    let pooling = args.list("stackwise_pooling")?;
    if pooling.len() != filters.len() {
        return Err(
            args.err("'stackwise_conv_filters' and 'stackwise_pooling' must have one length")
        );
    }
    let pooling = pooling
        .iter()
        .map(|v| {
            v.as_bool().ok_or_else(|| {
                args.err(format!("'stackwise_pooling' must hold true/false, got {v}"))
            })
        })
        .collect::<Result<Vec<bool>>>()?;
    let mut g = Graph::new(args.channels_first()?);
    let input = g.input(&args.image_shape()?);
    let mut x = input;
    let blocks = filters.len();
    let mut channels = None;
    for (b, block_filters) in filters.iter().enumerate() {
        let (first, last) = (b == 0, b + 1 == blocks);
        let residual = x;
        for (c, &f) in block_filters.iter().enumerate() {
            if first {
                let prefix = format!("block{}_conv{}", b + 1, c + 1);
                let stride = if c == 0 { 2 } else { 1 };
                x = g.conv2d(&prefix, Conv::new(f, 3).strides(stride).no_bias(), x);
                x = g.batch_norm(&format!("{prefix}_bn"), EPSILON, MOMENTUM, x);
                x = g.activation(&format!("{prefix}_act"), "relu", x);
                continue;
            }
            let prefix = format!("block{}_sepconv{}", b + 1, c + 1);
            if !last && (b != 1 || c != 0) {
                x = g.activation(&format!("{prefix}_act"), "relu", x);
            }
            x = separable(&mut g, &prefix, f, x);
            x = g.batch_norm(&format!("{prefix}_bn"), EPSILON, MOMENTUM, x);
            if last {
                x = g.activation(&format!("{prefix}_act"), "relu", x);
            }
        }
        if pooling[b] {
            x = g.pool(
                "MaxPooling2D",
                &format!("block{}_pool", b + 1),
                3,
                2,
                "same",
                x,
            );
        }
        let out = block_filters.last().copied().or(channels);
        if !first && !last {
            let prefix = format!("block{}_residual", b + 1);
            let mut r = residual;
            if out != channels {
                let conv = Conv::new(out.unwrap_or_default(), 1)
                    .strides(2)
                    .same()
                    .no_bias();
                r = g.conv2d(&format!("{prefix}_conv"), conv, r);
                r = g.batch_norm(&format!("{prefix}_bn"), EPSILON, MOMENTUM, r);
            }
            x = g.add(&format!("{prefix}_add"), &[x, r]);
        }
        channels = out;
    }
    Ok(g.finish(args.class, &args.name, input, x, &args.kept()))
}

/// `layers.SeparableConv2D(filters, 3, padding="same", use_bias=False)`.
fn separable(g: &mut Graph, name: &str, filters: u64, x: Tensor) -> Tensor {
    let config = json!({
        "name": name, "filters": filters, "kernel_size": [3, 3], "strides": [1, 1],
        "padding": "same", "data_format": g.data_format(), "dilation_rate": [1, 1],
        "depth_multiplier": 1, "activation": "linear", "use_bias": false,
    });
    g.call("SeparableConv2D", config, &[x])
}

/// `stackwise_conv_filters`: one list of filter counts per block.
fn stack_filters(args: &Args) -> Result<Vec<Vec<u64>>> {
    let key = "stackwise_conv_filters";
    args.list(key)?
        .iter()
        .map(|block| {
            block
                .as_array()
                .and_then(|fs| fs.iter().map(crate::layers::positive_int).collect())
                .ok_or_else(|| {
                    args.err(format!(
                        "'{key}' must be a list of lists of positive integers, got {block}"
                    ))
                })
        })
        .collect()
}
