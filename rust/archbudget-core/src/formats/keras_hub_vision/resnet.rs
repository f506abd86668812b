//! `ResNetBackbone` (keras_hub/src/models/resnet/resnet_backbone.py): ResNet v1
//! (post-activation) and v2 (`use_pre_activation`), basic or bottleneck blocks, and the
//! `_vd` variants (several stem convolutions; an average-pooled shortcut).
use serde_json::{json, Value};

use super::blocks::Conv;
use super::graph::{Graph, Tensor};
use super::Args;
use crate::error::Result;

const BN_EPSILON: f64 = 1e-5;
const BN_MOMENTUM: f64 = 0.9;

#[derive(Clone, Copy, PartialEq)]
enum Block {
    Basic,
    Bottleneck,
}

struct Resnet {
    block: Block,
    vd: bool,
    pre_activation: bool,
}

pub fn build(args: &Args) -> Result<Value> {
    let stem_filters = args.ints("input_conv_filters")?;
    let stem_kernels = args.ints("input_conv_kernel_sizes")?;
    let filters = args.ints("stackwise_num_filters")?;
    let blocks = args.ints("stackwise_num_blocks")?;
    let strides = args.ints("stackwise_num_strides")?;
    if stem_filters.len() != stem_kernels.len() || stem_filters.is_empty() {
        return Err(args.err(
            "'input_conv_filters' and 'input_conv_kernel_sizes' must be non-empty lists of one length",
        ));
    }
    if filters.len() != blocks.len() || filters.len() != strides.len() {
        return Err(args.err(
            "'stackwise_num_filters', 'stackwise_num_blocks' and 'stackwise_num_strides' must have one length",
        ));
    }
    let block_type = args.str_or("block_type", "")?;
    let (block, vd) = match block_type {
        "basic_block" => (Block::Basic, false),
        "bottleneck_block" => (Block::Bottleneck, false),
        "basic_block_vd" => (Block::Basic, true),
        "bottleneck_block_vd" => (Block::Bottleneck, true),
        other => {
            return Err(args.err(format!(
                "'block_type' must be basic_block, bottleneck_block, basic_block_vd or bottleneck_block_vd, got '{other}'"
            )))
        }
    };
    let net = Resnet {
        block,
        vd,
        pre_activation: args.bool_or("use_pre_activation", false)?,
    };
    let mut g = Graph::new(args.channels_first()?);
    let input = g.input(&args.image_shape()?);
    let pad = (stem_kernels[0] - 1) / 2;
    let mut x = g.zero_padding("conv1_pad", [[pad, pad], [pad, pad]], input);
    x = g.conv2d(
        "conv1_conv",
        Conv::new(stem_filters[0], stem_kernels[0])
            .strides(2)
            .no_bias(),
        x,
    );
    for (i, (&f, &k)) in stem_filters.iter().zip(&stem_kernels).enumerate().skip(1) {
        x = g.batch_norm(&format!("conv{i}_bn"), BN_EPSILON, BN_MOMENTUM, x);
        x = g.activation(&format!("conv{i}_relu"), "relu", x);
        x = g.conv2d(
            &format!("conv{}_conv", i + 1),
            Conv::new(f, k).same().no_bias(),
            x,
        );
    }
    let stem = stem_filters.len();
    if net.pre_activation {
        // `ops.pad(x, ..., constant_values=-inf)` before the max pool
        let spatial = [[1, 1], [1, 1]];
        let pad_width = if g.channel_axis() == 1 {
            json!([[0, 0], [0, 0], spatial[0], spatial[1]])
        } else {
            json!([[0, 0], spatial[0], spatial[1], [0, 0]])
        };
        let name = g.auto_name("pad");
        x = g.op(
            "Pad",
            json!({"name": name, "pad_width": pad_width, "mode": "constant"}),
            x,
        );
    } else {
        x = g.batch_norm(&format!("conv{stem}_bn"), BN_EPSILON, BN_MOMENTUM, x);
        x = g.activation(&format!("conv{stem}_relu"), "relu", x);
        x = g.zero_padding("pool1_pad", [[1, 1], [1, 1]], x);
    }
    x = g.pool("MaxPooling2D", "pool1_pool", 3, 2, "valid", x);
    for (stack, ((&f, &n), &s)) in filters.iter().zip(&blocks).zip(&strides).enumerate() {
        let first_shortcut = block != Block::Basic || vd || stack > 0;
        for b in 0..n {
            let (stride, conv_shortcut) = if b == 0 {
                (s, first_shortcut)
            } else {
                (1, false)
            };
            let name = format!("stack{stack}_block{b}");
            x = net.block(&mut g, x, f, stride, conv_shortcut, &name);
        }
    }
    if net.pre_activation {
        x = g.batch_norm("post_bn", BN_EPSILON, BN_MOMENTUM, x);
        x = g.activation("post_relu", "relu", x);
    }
    Ok(g.finish(args.class, &args.name, input, x, &args.kept()))
}

/// keras-hub's `apply_basic_block` of a v1 ResNet, stride 1 and no convolution shortcut
/// (BASNet's extra stages).
pub(super) fn basic_block(g: &mut Graph, x: Tensor, filters: u64, name: &str) -> Tensor {
    let net = Resnet {
        block: Block::Basic,
        vd: false,
        pre_activation: false,
    };
    net.block(g, x, filters, 1, false, name)
}

impl Resnet {
    /// One residual block (`apply_basic_block`, `apply_bottleneck_block` and their `_vd`
    /// forms, which differ in the shortcut only).
    fn block(
        &self,
        g: &mut Graph,
        input: Tensor,
        filters: u64,
        stride: u64,
        conv_shortcut: bool,
        name: &str,
    ) -> Tensor {
        let bn = |g: &mut Graph, suffix: &str, x| {
            g.batch_norm(&format!("{name}_{suffix}"), BN_EPSILON, BN_MOMENTUM, x)
        };
        let preact = self.pre_activation.then(|| {
            let x = bn(g, "pre_activation_bn", input);
            g.activation(&format!("{name}_pre_activation_relu"), "relu", x)
        });
        let out_filters = match self.block {
            Block::Basic => filters,
            Block::Bottleneck => 4 * filters,
        };
        let shortcut = if conv_shortcut {
            let source = match preact {
                Some(p) => p,
                None if self.vd && stride > 1 => {
                    let pool = g.auto_name("average_pooling2d");
                    g.pool("AveragePooling2D", &pool, 2, stride, "same", input)
                }
                None => input,
            };
            let conv_stride = if self.vd { 1 } else { stride };
            let s = g.conv2d(
                &format!("{name}_0_conv"),
                Conv::new(out_filters, 1).strides(conv_stride).no_bias(),
                source,
            );
            if self.pre_activation {
                s
            } else {
                bn(g, "0_bn", s)
            }
        } else {
            input
        };
        let mut x = preact.unwrap_or(input);
        // the strided 3x3 convolution: padded explicitly, then valid
        let strided_conv = |g: &mut Graph, x, index: u32| {
            let x = if stride > 1 {
                g.zero_padding(&format!("{name}_{index}_pad"), [[1, 1], [1, 1]], x)
            } else {
                x
            };
            let padding = if stride > 1 { "valid" } else { "same" };
            g.conv2d(
                &format!("{name}_{index}_conv"),
                Conv::new(filters, 3)
                    .strides(stride)
                    .padding(padding)
                    .no_bias(),
                x,
            )
        };
        let last = match self.block {
            Block::Basic => {
                x = strided_conv(g, x, 1);
                x = bn(g, "1_bn", x);
                x = g.activation(&format!("{name}_1_relu"), "relu", x);
                x = g.conv2d(
                    &format!("{name}_2_conv"),
                    Conv::new(filters, 3).same().no_bias(),
                    x,
                );
                "2_bn"
            }
            Block::Bottleneck => {
                x = g.conv2d(
                    &format!("{name}_1_conv"),
                    Conv::new(filters, 1).no_bias(),
                    x,
                );
                x = bn(g, "1_bn", x);
                x = g.activation(&format!("{name}_1_relu"), "relu", x);
                x = strided_conv(g, x, 2);
                x = bn(g, "2_bn", x);
                x = g.activation(&format!("{name}_2_relu"), "relu", x);
                x = g.conv2d(
                    &format!("{name}_3_conv"),
                    Conv::new(out_filters, 1).no_bias(),
                    x,
                );
                "3_bn"
            }
        };
        if self.pre_activation {
            g.add(&format!("{name}_out"), &[shortcut, x])
        } else {
            x = bn(g, last, x);
            let sum = g.add(&format!("{name}_add"), &[shortcut, x]);
            g.activation(&format!("{name}_out"), "relu", sum)
        }
    }
}
