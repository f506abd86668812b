//! `RetinaNetBackbone` (keras_hub/src/models/retinanet): the image encoder's pyramid
//! levels `min_level`..its deepest (a functional named `backbone`), then a
//! `FeaturePyramid` (`fpn`, one row: here a nested model of the layers its `call`
//! runs): lateral 1x1 convolutions merged top-down, 3x3 output convolutions, and strided
//! convolutions for the levels past the encoder's up to `max_level`.
use serde_json::{json, Value};

use super::blocks::Conv;
use super::graph::{Graph, Tensor};
use super::pyramid;
use super::Args;
use crate::error::Result;

/// `FeaturePyramid`'s defaults, which RetinaNetBackbone does not change.
const FPN_FILTERS: u64 = 256;
const BN_EPSILON: f64 = 1e-3;

pub fn build(args: &Args) -> Result<Value> {
    let encoder = pyramid::encoder(args, "image_encoder", &args.here)?;
    let min_level = args.int("min_level")?;
    let max_level = args.int("max_level")?;
    if min_level > max_level {
        return Err(args.err(format!(
            "'min_level' {min_level} is above 'max_level' {max_level}"
        )));
    }
    let use_p5 = args.bool_or("use_p5", false)?;
    let batch_norm = args.bool_or("use_fpn_batch_norm", false)?;
    let deepest = max_level.min(u64::from(encoder.max_level()));
    if deepest < 5 && max_level >= 5 {
        return Err(args.err(format!(
            "its image encoder's deepest level P{deepest} is below P5, which 'max_level' {max_level} needs"
        )));
    }
    let wanted: Vec<String> = (min_level..=deepest).map(|l| format!("P{l}")).collect();
    if let Some(missing) = wanted.iter().find(|l| !encoder.has(l)) {
        return Err(args.err(format!(
            "'min_level' {min_level} asks for {missing}, which its image encoder does not give"
        )));
    }
    let wanted: Vec<&str> = wanted.iter().map(String::as_str).collect();
    let channels_first = args.channels_first()?;
    let mut g = Graph::new(channels_first);
    let input = g.input_named("inputs", &args.image_shape()?);
    let features = g.nested(encoder.feature_model(args, "backbone", &wanted)?, input);
    let levels: Vec<Tensor> = (0..wanted.len()).map(|i| g.output(features, i)).collect();
    let fpn = Fpn {
        min_level,
        deepest,
        max_level,
        use_p5,
        batch_norm,
        channels_first,
    };
    let fpn = g.nested_list(fpn.model(), &levels);
    let outputs: Vec<(String, Tensor)> = (min_level..=max_level)
        .enumerate()
        .map(|(i, level)| (format!("P{level}"), g.output(fpn, i)))
        .collect();
    Ok(g.finish_dict(args.class, &args.name, input, &outputs, &args.kept()))
}

struct Fpn {
    min_level: u64,
    /// The deepest level the encoder gives (`backbone_max_level`).
    deepest: u64,
    max_level: u64,
    use_p5: bool,
    batch_norm: bool,
    channels_first: bool,
}

impl Fpn {
    /// The `fpn` layer: its inputs are the encoder's levels `min_level..=deepest`.
    fn model(&self) -> Value {
        let mut g = Graph::new(self.channels_first);
        let inputs: Vec<Tensor> = (self.min_level..=self.deepest)
            .map(|level| g.input_named(&format!("P{level}"), &[None, None, None]))
            .collect();
        let input = |level: u64| inputs[(level - self.min_level) as usize];
        let conv = |filters, kernel| Conv::new(filters, kernel).same();
        // top-down: lateral convolutions, each merged with the upsampled level above
        let mut merged: Vec<(u64, Tensor)> = Vec::new();
        for level in (self.min_level..=self.deepest).rev() {
            let mut x = g.conv2d(
                &format!("lateral_conv_P{level}"),
                conv(FPN_FILTERS, 1),
                input(level),
            );
            if let Some(&(_, above)) = merged.last() {
                let name = g.auto_name("upsampling");
                let config = json!({"name": name, "size": [2, 2], "data_format": g.data_format(),
                                    "interpolation": "nearest"});
                let up = g.call("UpSampling2D", config, &[above]);
                let name = g.auto_name("merge_op");
                x = g.add(&name, &[x, up]);
            }
            if self.batch_norm {
                let name = format!("lateral_norm_P{level}");
                x = g.batch_norm(&name, BN_EPSILON, BN_EPSILON, x);
            }
            merged.push((level, x));
        }
        merged.reverse();
        let mut outputs: Vec<(String, Tensor)> = merged
            .iter()
            .map(|&(level, x)| {
                let name = format!("output_conv_P{level}");
                let y = g.conv2d(&name, conv(FPN_FILTERS, 3), x);
                (format!("P{level}"), y)
            })
            .collect();
        if self.batch_norm {
            // built for every level, called on the coarser ones only
            for (level, y) in outputs.clone() {
                let norm = g.batch_norm(&format!("output_norm_{level}"), BN_EPSILON, BN_EPSILON, y);
                g.keep(norm);
            }
        }
        for level in self.deepest + 1..=self.max_level {
            let previous = outputs
                .last()
                .map(|(_, t)| *t)
                .unwrap_or(input(self.deepest));
            let source = if level == self.deepest + 1 && self.use_p5 {
                input(self.deepest)
            } else if level > self.deepest + 1 {
                let name = g.auto_name("activation");
                g.activation(&name, "relu", previous)
            } else {
                previous
            };
            let name = format!("coarser_P{level}");
            let mut y = g.conv2d(&name, conv(FPN_FILTERS, 3).strides(2), source);
            if self.batch_norm {
                let name = format!("output_norm_P{level}");
                y = g.batch_norm(&name, BN_EPSILON, BN_EPSILON, y);
            }
            outputs.push((format!("P{level}"), y));
        }
        g.finish_dict_of_inputs("FeaturePyramid", "fpn", &inputs, &outputs)
    }
}
