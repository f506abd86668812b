//! `DenseNetBackbone` (keras_hub/src/models/densenet/densenet_backbone.py): dense blocks
//! of BN-ReLU-1x1-BN-ReLU-3x3 convolutions concatenated onto their input, joined by
//! transition blocks that compress the channels by `compression_ratio` and halve the
//! image.
use serde_json::Value;

use super::blocks::Conv;
use super::graph::{Graph, Tensor};
use super::Args;
use crate::error::Result;

const BN_EPSILON: f64 = 1.001e-5;
/// Keras's BatchNormalization default (the constructor leaves it).
const BN_MOMENTUM: f64 = 0.99;
/// The stem convolution's filters, fixed by the constructor.
const STEM_FILTERS: u64 = 64;

pub fn build(args: &Args) -> Result<Value> {
    let repeats = args.ints("stackwise_num_repeats")?;
    let compression = args.float_or("compression_ratio", 0.5)?;
    let growth = args.int_or("growth_rate", 32)?;
    if compression <= 0.0 {
        return Err(args.err(format!(
            "'compression_ratio' must be positive, got {compression}"
        )));
    }
    // The constructor takes Keras's image_data_format(), default channels_last.
    let mut g = Graph::new(false);
    let input = g.input(&args.image_shape()?);
    let mut x = g.conv2d(
        "conv1_conv",
        Conv::new(STEM_FILTERS, 7).strides(2).same().no_bias(),
        input,
    );
    x = g.batch_norm("conv1_bn", BN_EPSILON, BN_MOMENTUM, x);
    x = g.activation("conv1_relu", "relu", x);
    x = g.pool("MaxPooling2D", "pool1", 3, 2, "same", x);
    let mut channels = STEM_FILTERS;
    let last = repeats.len();
    for (stack, &n) in repeats.iter().enumerate() {
        let stack = stack + 1;
        for i in 1..=n {
            x = conv_block(&mut g, x, growth, &format!("stack{stack}_block{i}"));
            channels += growth;
        }
        if stack < last {
            let name = format!("transition{stack}");
            x = g.batch_norm(&format!("{name}_bn"), BN_EPSILON, BN_MOMENTUM, x);
            x = g.activation(&format!("{name}_relu"), "relu", x);
            // int(channels * compression_ratio), as Python truncates it
            channels = (channels as f64 * compression) as u64;
            if channels == 0 {
                return Err(args.err(format!(
                    "'compression_ratio' {compression} leaves transition{stack} no channels"
                )));
            }
            x = g.conv2d(&format!("{name}_conv"), Conv::new(channels, 1).no_bias(), x);
            x = g.pool(
                "AveragePooling2D",
                &format!("{name}_pool"),
                2,
                2,
                "valid",
                x,
            );
        }
    }
    x = g.batch_norm("bn", BN_EPSILON, BN_MOMENTUM, x);
    x = g.activation("relu", "relu", x);
    Ok(g.finish(args.class, &args.name, input, x, &args.kept()))
}

fn conv_block(g: &mut Graph, input: Tensor, growth: u64, name: &str) -> Tensor {
    let mut x = g.batch_norm(&format!("{name}_1_bn"), BN_EPSILON, BN_MOMENTUM, input);
    x = g.activation(&format!("{name}_1_relu"), "relu", x);
    x = g.conv2d(
        &format!("{name}_1_conv"),
        Conv::new(4 * growth, 1).no_bias(),
        x,
    );
    x = g.batch_norm(&format!("{name}_2_bn"), BN_EPSILON, BN_MOMENTUM, x);
    x = g.activation(&format!("{name}_2_relu"), "relu", x);
    x = g.conv2d(
        &format!("{name}_2_conv"),
        Conv::new(growth, 3).same().no_bias(),
        x,
    );
    g.concatenate(&format!("{name}_concat"), &[input, x])
}
