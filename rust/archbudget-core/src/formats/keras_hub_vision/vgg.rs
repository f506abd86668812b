//! `VGGBackbone` (keras_hub/src/models/vgg/vgg_backbone.py): stacks of same-padded 3x3
//! ReLU convolutions, each stack ending in a 2x2 max pool.
use serde_json::Value;

use super::blocks::Conv;
use super::graph::Graph;
use super::Args;
use crate::error::Result;

pub fn build(args: &Args) -> Result<Value> {
    let repeats = args.ints("stackwise_num_repeats")?;
    let filters = args.ints("stackwise_num_filters")?;
    if repeats.len() != filters.len() {
        return Err(
            args.err("'stackwise_num_repeats' and 'stackwise_num_filters' must have one length")
        );
    }
    // VGGBackbone takes no data_format: Keras's default, channels_last
    let mut g = Graph::new(false);
    let input = g.input(&args.image_shape()?);
    let mut x = input;
    for (stack, (&n, &f)) in repeats.iter().zip(&filters).enumerate() {
        let block = format!("block{}", stack + 1);
        for conv in 1..=n {
            x = g.conv2d(
                &format!("{block}_conv{conv}"),
                Conv::new(f, 3).same().activation("relu"),
                x,
            );
        }
        x = g.pool("MaxPooling2D", &format!("{block}_pool"), 2, 2, "valid", x);
    }
    Ok(g.finish(args.class, &args.name, input, x, &args.kept()))
}
