//! `MobileNetBackbone` (keras_hub/src/models/mobilenet/mobilenet_backbone.py, MobileNet
//! v3): a stem, a `DepthwiseConvBlock`, stacks of `InvertedResidualBlock`s and a
//! `ConvBnActBlock`. Each block layer is one row of the summary: here a nested model of
//! the layers its `call` runs (its `SqueezeAndExcite2D` inlined, a weightless mean and
//! product around two 1x1 convolutions).
use serde_json::{Map, Value};

use super::blocks::Conv;
use super::graph::{Graph, Tensor};
use super::Args;
use crate::error::Result;

const BN_EPSILON: f64 = 1e-5;
const BN_MOMENTUM: f64 = 0.9;

/// `adjust_channels`: rounded to a multiple of 8, at least 8, never 10% below `x`.
fn adjust_channels(x: f64) -> u64 {
    const DIVISOR: u64 = 8;
    let mut rounded = DIVISOR.max((x + DIVISOR as f64 / 2.0) as u64 / DIVISOR * DIVISOR);
    if (rounded as f64) < 0.9 * x {
        rounded += DIVISOR;
    }
    rounded
}

/// A per-block argument: a list per stack of one value per block.
fn per_block<'v, T>(
    args: &Args<'v>,
    key: &str,
    blocks: &[u64],
    read: impl Fn(&'v Value) -> Option<T>,
) -> Result<Vec<Vec<T>>> {
    let stacks = args.list(key)?;
    let bad = || {
        args.err(format!(
            "'{key}' must hold one list per stack, one entry per block"
        ))
    };
    if stacks.len() != blocks.len() {
        return Err(bad());
    }
    stacks
        .iter()
        .zip(blocks)
        .map(|(stack, &n)| {
            let items = stack
                .as_array()
                .filter(|s| s.len() as u64 == n)
                .ok_or_else(bad)?;
            items.iter().map(|v| read(v).ok_or_else(bad)).collect()
        })
        .collect()
}

fn positive(v: &Value) -> Option<u64> {
    v.as_u64().filter(|&n| n > 0)
}

/// A block layer's graph: built by `body` on the block's input, closed as a model of
/// class `class` named `name`.
fn block_layer(class: &str, name: &str, body: impl FnOnce(&mut Graph, Tensor) -> Tensor) -> Value {
    let mut g = Graph::new(false);
    let input = g.input(&[None, None, None]);
    let output = body(&mut g, input);
    g.finish(class, name, input, output, &Map::new())
}

/// `SqueezeAndExcite2D`: mean over the image, 1x1 reduce, ReLU, 1x1 expand, hard sigmoid
/// gate, product with the input.
fn squeeze_excite(g: &mut Graph, name: &str, filters: u64, ratio: f64, x: Tensor) -> Tensor {
    let bottleneck = adjust_channels(filters as f64 * ratio);
    let se = g.global_pool("GlobalAveragePooling2D", &format!("{name}_mean"), true, x);
    let se = g.conv2d(&format!("{name}_conv_reduce"), Conv::new(bottleneck, 1), se);
    let se = g.activation(&format!("{name}squeeze_activation"), "relu", se);
    let se = g.conv2d(&format!("{name}_conv_expand"), Conv::new(filters, 1), se);
    let se = g.activation(&format!("{name}excite_activation"), "hard_sigmoid", se);
    g.multiply(&format!("{name}_gate"), &[x, se])
}

fn bn(g: &mut Graph, name: &str, x: Tensor) -> Tensor {
    g.batch_norm(name, BN_EPSILON, BN_MOMENTUM, x)
}

pub fn build(args: &Args) -> Result<Value> {
    let blocks = args.ints("stackwise_num_blocks")?;
    let expansion = per_block(args, "stackwise_expansion", &blocks, positive)?;
    let filters = per_block(args, "stackwise_num_filters", &blocks, positive)?;
    let kernels = per_block(args, "stackwise_kernel_size", &blocks, positive)?;
    let strides = per_block(args, "stackwise_num_strides", &blocks, positive)?;
    let paddings = per_block(args, "stackwise_padding", &blocks, Value::as_u64)?;
    let activations = per_block(args, "stackwise_activation", &blocks, Value::as_str)?;
    // None (no squeeze-and-excite) or a ratio
    let se_ratios = per_block(args, "stackwise_se_ratio", &blocks, |v| match v {
        Value::Null => Some(None),
        v => v.as_f64().map(Some),
    })?;
    let se_ratios: Vec<Vec<Option<f64>>> = se_ratios
        .into_iter()
        .map(|s| s.into_iter().map(|r| r.filter(|&r| r != 0.0)).collect())
        .collect();
    let depthwise_filters = args.int("depthwise_filters")?;
    let depthwise_stride = args.int("depthwise_stride")?;
    let depthwise_residual = args.bool_or("depthwise_residual", false)?;
    let last_filter = args.int("last_layer_filter")?;
    let stem_se = args.float_or("squeeze_and_excite", 0.0)?;

    // The constructor takes Keras's image_data_format(), default channels_last.
    let mut g = Graph::new(false);
    let input = g.input(&args.image_shape()?);
    let stem_filters = adjust_channels(args.int_or("input_num_filters", 16)? as f64);
    let mut x = g.zero_padding("input_pad", [[1, 1], [1, 1]], input);
    x = g.conv2d(
        "input_conv",
        Conv::new(stem_filters, 3).strides(2).no_bias(),
        x,
    );
    x = bn(&mut g, "input_batch_norm", x);
    let act = g.auto_name("activation");
    x = g.activation(&act, args.str_or("input_activation", "hard_swish")?, x);

    let name = "block_0_0";
    let model = block_layer("DepthwiseConvBlock", name, |b, input| {
        let x = b.zero_padding(&format!("{name}_pad"), [[1, 1], [1, 1]], input);
        let dw = Conv::new(stem_filters, 3)
            .strides(depthwise_stride)
            .groups(stem_filters)
            .no_bias();
        let x = b.conv2d(&format!("{name}_conv1"), dw, x);
        let x = bn(b, &format!("{name}_bn1"), x);
        let mut x = b.activation(&format!("{name}_relu"), "relu", x);
        if stem_se != 0.0 {
            x = squeeze_excite(
                b,
                &format!("{name}_squeeze_excite"),
                stem_filters,
                stem_se,
                x,
            );
        }
        let x = b.conv2d(
            &format!("{name}_conv2"),
            Conv::new(depthwise_filters, 1).no_bias(),
            x,
        );
        let x = bn(b, &format!("{name}_bn2"), x);
        if depthwise_residual {
            b.add(&format!("{name}_add"), &[x, input])
        } else {
            x
        }
    });
    x = g.nested(model, x);

    let mut channels = depthwise_filters;
    for stack in 0..blocks.len() {
        for i in 0..blocks[stack] as usize {
            let name = format!("block_{}_{i}", stack + 1);
            let expanded = adjust_channels(expansion[stack][i] as f64);
            let out = adjust_channels(filters[stack][i] as f64);
            let (kernel, stride, pad) = (kernels[stack][i], strides[stack][i], paddings[stack][i]);
            let activation = activations[stack][i];
            let se = se_ratios[stack][i];
            let infilters = channels;
            let model = block_layer("InvertedResidualBlock", &name, |b, input| {
                let x = b.conv2d(
                    &format!("{name}_conv1"),
                    Conv::new(expanded, 1).no_bias(),
                    input,
                );
                let x = bn(b, &format!("{name}_bn1"), x);
                let x = b.activation(&format!("{name}_act1"), activation, x);
                let x = b.zero_padding(&format!("{name}_pad"), [[pad, pad], [pad, pad]], x);
                let dw = Conv::new(expanded, kernel)
                    .strides(stride)
                    .groups(expanded)
                    .no_bias();
                let x = b.conv2d(&format!("{name}_conv2"), dw, x);
                let x = bn(b, &format!("{name}_bn2"), x);
                let mut x = b.activation(&format!("{name}_act2"), activation, x);
                if let Some(ratio) = se {
                    x = squeeze_excite(b, &format!("{name}_se"), expanded, ratio, x);
                }
                let x = b.conv2d(&format!("{name}_conv3"), Conv::new(out, 1).no_bias(), x);
                let x = bn(b, &format!("{name}_bn3"), x);
                if stride == 1 && infilters == out {
                    b.add(&format!("{name}_add"), &[input, x])
                } else {
                    x
                }
            });
            x = g.nested(model, x);
            channels = out;
        }
    }
    let name = format!("block_{}_0", blocks.len() + 1);
    let last = adjust_channels(last_filter as f64);
    let model = block_layer("ConvBnActBlock", &name, |b, input| {
        let x = b.conv2d(&format!("{name}_conv"), Conv::new(last, 1).no_bias(), input);
        let x = bn(b, &format!("{name}_bn"), x);
        b.activation(&format!("{name}_act"), "hard_swish", x)
    });
    x = g.nested(model, x);
    Ok(g.finish(args.class, &args.name, input, x, &args.kept()))
}
