//! `EfficientNetBackbone` (keras_hub/src/models/efficientnet/): v1 stacks of MBConv
//! blocks written as plain Keras layers (`stackwise_block_types` "v1"), and the v2 block
//! layers `MBConvBlock` ("unfused"), `FusedMBConvBlock` ("fused") and `CBABlock` ("cba"),
//! each one row of the summary: here a nested model of the layers its `call` runs.
use serde_json::Value;

use super::blocks::Conv;
use super::graph::{Graph, Tensor};
use super::Args;
use crate::error::Result;

/// The blocks' own BatchNormalization momentum where they leave Keras's default.
const KERAS_BN_MOMENTUM: f64 = 0.99;

/// The arguments shared by the whole network.
struct Net {
    activation: String,
    projection_activation: Option<String>,
    bn_momentum: f64,
    bn_epsilon: f64,
    depth_divisor: u64,
    min_depth: Option<u64>,
    divisor_as_min_depth: bool,
    cap_decrease: bool,
}

impl Net {
    /// `round_filters`: `filters * width` rounded to a multiple of `depth_divisor`.
    fn round_filters(&self, filters: u64, width: f64, args: &Args) -> Result<u64> {
        let scaled = filters as f64 * width;
        let divisor = self.depth_divisor;
        let min_depth = if self.divisor_as_min_depth {
            divisor
        } else {
            self.min_depth.ok_or_else(|| {
                args.err("'min_depth' is needed unless 'use_depth_divisor_as_min_depth' is true")
            })?
        };
        let mut rounded = min_depth.max((scaled + divisor as f64 / 2.0) as u64 / divisor * divisor);
        if self.cap_decrease && (rounded as f64) < 0.9 * scaled {
            rounded += divisor;
        }
        Ok(rounded)
    }
}

/// One block's arguments, as the constructor hands them to the block.
struct Block<'a> {
    name: &'a str,
    filters_in: u64,
    filters_out: u64,
    kernel: u64,
    strides: u64,
    expand_ratio: u64,
    se_ratio: f64,
    dropout: f64,
    nores: bool,
}

impl Block<'_> {
    fn residual(&self) -> bool {
        self.strides == 1 && self.filters_in == self.filters_out && !self.nores
    }

    fn has_se(&self) -> bool {
        0.0 < self.se_ratio && self.se_ratio <= 1.0
    }

    fn se_filters(&self) -> u64 {
        ((self.filters_in as f64 * self.se_ratio) as u64).max(1)
    }
}

fn floats(args: &Args, key: &str) -> Result<Vec<f64>> {
    args.list(key)?
        .iter()
        .map(|v| {
            v.as_f64()
                .ok_or_else(|| args.err(format!("'{key}' must hold numbers, got {v}")))
        })
        .collect()
}

/// `stackwise_width_coefficients`, or one `width_coefficient` for every stack.
fn coefficients(args: &Args, key: &str, single: &str, stacks: usize) -> Result<Vec<f64>> {
    match args.get(single) {
        Some(Value::Array(_)) => floats(args, single),
        Some(v) => {
            let c = v
                .as_f64()
                .ok_or_else(|| args.err(format!("'{single}' must be a number, got {v}")))?;
            Ok(vec![c; stacks])
        }
        None => floats(args, key),
    }
}

pub fn build(args: &Args) -> Result<Value> {
    let kernels = args.ints("stackwise_kernel_sizes")?;
    let stacks = kernels.len();
    let repeats = args.ints("stackwise_num_repeats")?;
    let filters_in = args.ints("stackwise_input_filters")?;
    let filters_out = args.ints("stackwise_output_filters")?;
    let expansions = args.ints("stackwise_expansion_ratios")?;
    let se_ratios = floats(args, "stackwise_squeeze_and_excite_ratios")?;
    let strides = args.ints("stackwise_strides")?;
    let widths = coefficients(
        args,
        "stackwise_width_coefficients",
        "width_coefficient",
        stacks,
    )?;
    let depths = coefficients(
        args,
        "stackwise_depth_coefficients",
        "depth_coefficient",
        stacks,
    )?;
    let types: Vec<&str> = args
        .list("stackwise_block_types")?
        .iter()
        .map(|v| {
            v.as_str().ok_or_else(|| {
                args.err(format!(
                    "'stackwise_block_types' must hold v1, unfused, fused or cba, got {v}"
                ))
            })
        })
        .collect::<Result<_>>()?;
    let force: Vec<u64> = match args.get("stackwise_force_input_filters") {
        None => vec![0; stacks],
        Some(Value::Array(items)) => items.iter().map(|v| v.as_u64().unwrap_or(0)).collect(),
        Some(v) => {
            return Err(args.err(format!(
                "'stackwise_force_input_filters' must be a list, got {v}"
            )))
        }
    };
    let nores: Vec<bool> = match args.get("stackwise_nores_option") {
        None => vec![false; stacks],
        Some(Value::Array(items)) => items.iter().map(|v| v.as_bool().unwrap_or(false)).collect(),
        Some(v) => {
            return Err(args.err(format!("'stackwise_nores_option' must be a list, got {v}")))
        }
    };
    let lengths = [
        repeats.len(),
        filters_in.len(),
        filters_out.len(),
        expansions.len(),
        se_ratios.len(),
        strides.len(),
        widths.len(),
        depths.len(),
        types.len(),
    ];
    if lengths.iter().any(|&n| n != stacks) || force.len() < stacks || nores.len() < stacks {
        return Err(args.err("the 'stackwise_*' lists must all have one entry per stack"));
    }
    if args.channels_first()? {
        return Err(args.err(
            "EfficientNetBackbone is built channels_last only (its top_conv and block batch norms are)",
        ));
    }
    let net = Net {
        activation: args.str_or("activation", "swish")?.to_string(),
        projection_activation: args
            .get("projection_activation")
            .and_then(Value::as_str)
            .map(str::to_string),
        bn_momentum: args.float_or("batch_norm_momentum", 0.9)?,
        bn_epsilon: args.float_or("batch_norm_epsilon", 1e-5)?,
        depth_divisor: args.int_or("depth_divisor", 8)?,
        min_depth: match args.get("min_depth") {
            None => None,
            Some(_) => Some(args.int("min_depth")?),
        },
        divisor_as_min_depth: args.bool_or("use_depth_divisor_as_min_depth", false)?,
        cap_decrease: args.bool_or("cap_round_filter_decrease", false)?,
    };
    let dropout = args.float_or("dropout", 0.2)?;

    let mut g = Graph::new(false);
    let input = g.input(&args.image_shape_at("input_shape")?);
    let mut x = input;
    if args.bool_or("include_stem_padding", true)? {
        x = g.zero_padding("stem_conv_pad", [[1, 1], [1, 1]], x);
    }
    let stem_filters = net.round_filters(filters_in[0], widths[0], args)?;
    let stem_padding = match args.str_or("stem_conv_padding", "valid")? {
        "valid" => "valid",
        "same" => "same",
        other => {
            return Err(args.err(format!(
                "'stem_conv_padding' must be valid or same, got '{other}'"
            )))
        }
    };
    x = g.conv2d(
        "stem_conv",
        Conv::new(stem_filters, 3)
            .strides(2)
            .padding(stem_padding)
            .no_bias(),
        x,
    );
    x = g.batch_norm("stem_bn", net.bn_epsilon, net.bn_momentum, x);
    x = g.activation("stem_activation", &net.activation, x);

    let total_blocks: u64 = repeats.iter().sum();
    let mut block_id = 0u64;
    for i in 0..stacks {
        let mut block_in = net.round_filters(filters_in[i], widths[i], args)?;
        let block_out = net.round_filters(filters_out[i], widths[i], args)?;
        let count = (depths[i] * repeats[i] as f64).ceil() as u64;
        for j in 0..count {
            if j > 0 {
                block_in = block_out;
            }
            if force[i] > 0 {
                block_in = net.round_filters(force[i], widths[i], args)?;
            }
            let letter = char::from(b'a' + (j % 26) as u8);
            let name = format!("block{}{letter}_", i + 1);
            let block = Block {
                name: &name,
                filters_in: block_in,
                filters_out: block_out,
                kernel: kernels[i],
                strides: if j > 0 { 1 } else { strides[i] },
                expand_ratio: expansions[i],
                se_ratio: se_ratios[i],
                dropout: dropout * block_id as f64 / total_blocks as f64,
                nores: nores[i],
            };
            x = match types[i] {
                "v1" => v1_block(&mut g, &net, &block, x),
                kind @ ("unfused" | "fused" | "cba") => {
                    let model = block_layer(kind, &net, &block);
                    g.nested(model, x)
                }
                other => {
                    return Err(args.err(format!(
                        "'stackwise_block_types' must hold v1, unfused, fused or cba, got '{other}'"
                    )))
                }
            };
            block_id += 1;
        }
    }
    let top_filters =
        net.round_filters(args.int_or("num_features", 1280)?, widths[stacks - 1], args)?;
    x = g.conv2d("top_conv", Conv::new(top_filters, 1).same().no_bias(), x);
    x = g.batch_norm("top_bn", net.bn_epsilon, net.bn_momentum, x);
    x = g.activation("top_activation", &net.activation, x);
    Ok(g.finish(args.class, &args.name, input, x, &args.kept()))
}

/// Squeeze and excite: pooled, reshaped to 1x1, reduced, expanded, multiplied in.
fn squeeze_excite(g: &mut Graph, net: &Net, b: &Block, filters: u64, x: Tensor) -> Tensor {
    let name = b.name;
    let se = g.global_pool(
        "GlobalAveragePooling2D",
        &format!("{name}se_squeeze"),
        false,
        x,
    );
    let se = g.reshape(&format!("{name}se_reshape"), &[1, 1, filters], se);
    let reduce = Conv::new(b.se_filters(), 1)
        .same()
        .activation(net.activation.as_str());
    let se = g.conv2d(&format!("{name}se_reduce"), reduce, se);
    let expand = Conv::new(filters, 1).same().activation("sigmoid");
    let se = g.conv2d(&format!("{name}se_expand"), expand, se);
    g.multiply(&format!("{name}se_excite"), &[x, se])
}

/// The residual connection, with its drop-path dropout.
fn residual(g: &mut Graph, b: &Block, x: Tensor, input: Tensor) -> Tensor {
    if !b.residual() {
        return x;
    }
    let x = if b.dropout > 0.0 {
        g.spatial_dropout(&format!("{}drop", b.name), b.dropout, x)
    } else {
        x
    };
    g.add(&format!("{}add", b.name), &[x, input])
}

/// `_apply_efficientnet_block`: the v1 block, its layers in the backbone's own graph.
fn v1_block(g: &mut Graph, net: &Net, b: &Block, input: Tensor) -> Tensor {
    let name = b.name;
    let filters = b.filters_in * b.expand_ratio;
    let bn = |g: &mut Graph, suffix: &str, x| {
        g.batch_norm(
            &format!("{name}{suffix}"),
            net.bn_epsilon,
            KERAS_BN_MOMENTUM,
            x,
        )
    };
    let mut x = input;
    if b.expand_ratio != 1 {
        x = g.conv2d(
            &format!("{name}expand_conv"),
            Conv::new(filters, 1).same().no_bias(),
            x,
        );
        x = bn(g, "expand_bn", x);
        x = g.activation(&format!("{name}expand_activation"), &net.activation, x);
    }
    let pad = b.kernel / 2;
    x = g.zero_padding(&format!("{name}dwconv_pad"), [[pad, pad], [pad, pad]], x);
    let dw = Conv::new(filters, b.kernel).strides(b.strides).no_bias();
    x = g.depthwise_conv2d(&format!("{name}dwconv"), dw, x);
    x = bn(g, "dwconv_bn", x);
    x = g.activation(&format!("{name}dwconv_activation"), &net.activation, x);
    if b.has_se() {
        x = squeeze_excite(g, net, b, filters, x);
    }
    x = g.conv2d(
        &format!("{name}project"),
        Conv::new(b.filters_out, 1).same().no_bias(),
        x,
    );
    x = bn(g, "project_bn", x);
    if let Some(act) = &net.projection_activation {
        x = g.activation(&format!("{name}projection_activation"), act, x);
    }
    residual(g, b, x, input)
}

/// `MBConvBlock`, `FusedMBConvBlock` or `CBABlock`: the layers its `call` runs, as a
/// model (one row of the backbone's summary, named and typed as the block layer).
fn block_layer(kind: &str, net: &Net, b: &Block) -> Value {
    let mut g = Graph::new(false);
    let input = g.input(&[None, None, None]);
    let name = b.name;
    let filters = b.filters_in * b.expand_ratio;
    let bn = |g: &mut Graph, suffix: &str, x| {
        g.batch_norm(
            &format!("{name}{suffix}"),
            net.bn_epsilon,
            net.bn_momentum,
            x,
        )
    };
    let padded_conv = |g: &mut Graph, suffix: &str, conv: Conv, x| {
        let pad = conv.kernel / 2;
        let x = g.zero_padding(&format!("{name}{suffix}_pad"), [[pad, pad], [pad, pad]], x);
        g.conv2d(&format!("{name}{suffix}"), conv.no_bias(), x)
    };
    let mut x = input;
    let class = match kind {
        "unfused" => {
            // one Activation layer, called after the expansion and the depthwise conv
            if b.expand_ratio != 1 {
                x = g.conv2d(
                    &format!("{name}expand_conv"),
                    Conv::new(filters, 1).same().no_bias(),
                    x,
                );
                x = bn(&mut g, "expand_bn", x);
                x = g.activation(&format!("{name}activation"), &net.activation, x);
            }
            let dw = Conv::new(filters, b.kernel)
                .strides(b.strides)
                .same()
                .no_bias();
            x = g.depthwise_conv2d(&format!("{name}dwconv2"), dw, x);
            x = bn(&mut g, "bn", x);
            x = g.activation(&format!("{name}activation_1"), &net.activation, x);
            if b.has_se() {
                x = squeeze_excite(&mut g, net, b, filters, x);
            }
            let projection_kernel = if b.expand_ratio != 1 { 1 } else { b.kernel };
            x = padded_conv(
                &mut g,
                "project_conv",
                Conv::new(b.filters_out, projection_kernel),
                x,
            );
            x = bn(&mut g, "project_bn", x);
            "MBConvBlock"
        }
        "fused" => {
            x = padded_conv(
                &mut g,
                "expand_conv",
                Conv::new(filters, b.kernel).strides(b.strides),
                x,
            );
            x = bn(&mut g, "expand_bn", x);
            x = g.activation(&format!("{name}expand_activation"), &net.activation, x);
            if b.has_se() {
                x = squeeze_excite(&mut g, net, b, filters, x);
            }
            x = padded_conv(&mut g, "project_conv", Conv::new(b.filters_out, 1), x);
            x = bn(&mut g, "project_bn", x);
            if let (1, Some(act)) = (b.expand_ratio, &net.projection_activation) {
                x = g.activation(&format!("{name}projection_act"), act, x);
            }
            "FusedMBConvBlock"
        }
        _ => {
            x = padded_conv(
                &mut g,
                "conv",
                Conv::new(b.filters_out, b.kernel).strides(b.strides),
                x,
            );
            x = bn(&mut g, "bn", x);
            x = g.activation(&format!("{name}activation"), &net.activation, x);
            "CBABlock"
        }
    };
    x = residual(&mut g, b, x, input);
    g.finish(class, name, input, x, &serde_json::Map::new())
}
