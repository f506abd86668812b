//! `CSPNetBackbone` (keras_hub/src/models/cspnet/cspnet_backbone.py): a stem of strided
//! convolutions (and a max pool), then stages of one kind — `csp` (cross stage: the
//! expansion split in two, blocks on one half, a transition on each), `cs3` (one
//! transition after the concatenation) or `dark` (a down convolution, then blocks) — of
//! bottleneck, dark or edge (fused-MBConv) residual blocks.
use serde_json::{json, Value};

use super::blocks::Conv;
use super::graph::{Graph, Tensor};
use super::Args;
use crate::error::Result;

/// Every BatchNormalization of the family: `epsilon=1e-05`, Keras's default momentum.
const BN_EPSILON: f64 = 1e-5;
const BN_MOMENTUM: f64 = 0.99;

#[derive(Clone, Copy, PartialEq)]
enum Stage {
    Csp,
    Cs3,
    Dark,
}

#[derive(Clone, Copy, PartialEq)]
enum Block {
    Bottleneck,
    Dark,
    Edge,
}

struct Cspnet<'a> {
    activation: &'a str,
    groups: u64,
    avg_down: bool,
    down_growth: bool,
    cross_linear: bool,
    block: Block,
}

/// One stage's arguments, the ratios already padded to every stage (`_pad_arg`).
struct StageArgs {
    filters: u64,
    depth: u64,
    strides: u64,
    bottle_ratio: f64,
    block_ratio: f64,
    expand_ratio: f64,
}

pub fn build(args: &Args) -> Result<Value> {
    let stem_filters = int_or_ints(args, "stem_filters")?;
    let stem_kernel = args.int("stem_kernel_size")?;
    let stem_strides = args.int("stem_strides")?;
    if ![1, 2, 4].contains(&stem_strides) {
        return Err(args.err(format!(
            "'stem_strides' must be 1, 2 or 4, got {stem_strides}"
        )));
    }
    // a stage may have no blocks (its down and transition convolutions alone)
    let depths: Vec<u64> = args
        .list("stackwise_depth")?
        .iter()
        .map(|d| {
            d.as_u64().ok_or_else(|| {
                args.err(format!(
                    "'stackwise_depth' must hold non-negative integers, got {d}"
                ))
            })
        })
        .collect::<Result<_>>()?;
    let filters = args.ints("stackwise_num_filters")?;
    if filters.len() < depths.len() {
        return Err(args
            .err("'stackwise_num_filters' must have a value for each stage of 'stackwise_depth'"));
    }
    let n = depths.len();
    let strides = padded(&int_or_ints(args, "stackwise_strides")?, n);
    let bottle = padded(&ratios(args, "bottle_ratio")?, n);
    let block_ratio = padded(&ratios(args, "block_ratio")?, n);
    let expand = padded(&ratios(args, "expand_ratio")?, n);
    let stage = match args.str_or("stage_type", "")? {
        "csp" => Stage::Csp,
        "cs3" => Stage::Cs3,
        "dark" => Stage::Dark,
        other => {
            return Err(args.err(format!(
                "'stage_type' must be csp, cs3 or dark, got '{other}'"
            )))
        }
    };
    let block = match args.str_or("block_type", "")? {
        "bottleneck_block" => Block::Bottleneck,
        "dark_block" => Block::Dark,
        "edge_block" => Block::Edge,
        other => {
            return Err(args.err(format!(
                "'block_type' must be bottleneck_block, dark_block or edge_block, got '{other}'"
            )))
        }
    };
    let net = Cspnet {
        activation: args.str_or("activation", "leaky_relu")?,
        groups: args.int_or("groups", 1)?,
        avg_down: args.bool_or("avg_down", false)?,
        down_growth: args.bool_or("down_growth", false)?,
        cross_linear: args.bool_or("cross_linear", false)?,
        block,
    };
    let stem_padding = match args.str_or("stem_padding", "valid")? {
        "valid" => "valid",
        "same" => "same",
        other => {
            return Err(args.err(format!(
                "'stem_padding' must be valid or same, got '{other}'"
            )))
        }
    };
    let stem_pooling = args.str_or("stem_pooling", "")?;
    let output_strides = args.int_or("output_strides", 32)?;

    let mut g = Graph::new(args.channels_first()?);
    let input = g.input(&args.image_shape()?);
    // create_csp_stem
    let mut x = input;
    let mut reduction = 1;
    let last = stem_filters.len() - 1;
    for (i, &chs) in stem_filters.iter().enumerate() {
        let stride = if (i == 0 && stem_strides > 1)
            || (i == last && stem_strides > 2 && stem_pooling.is_empty())
        {
            2
        } else {
            1
        };
        if stride > 1 {
            let pad = (stem_kernel - 1) / 2;
            x = g.zero_padding(&format!("csp_stem_pad_{i}"), [[pad, pad], [pad, pad]], x);
        }
        let padding = if i == 0 { stem_padding } else { "valid" };
        let conv = Conv::new(chs, stem_kernel)
            .strides(stride)
            .padding(padding)
            .no_bias();
        x = g.conv2d(&format!("csp_stem_conv_{i}"), conv, x);
        x = g.batch_norm(&format!("csp_stem_bn_{i}"), BN_EPSILON, BN_MOMENTUM, x);
        x = net.act(&mut g, &format!("csp_stem_activation_{i}"), x);
        reduction *= stride;
    }
    if stem_pooling == "max" {
        if stem_strides <= 2 {
            return Err(args.err("'stem_pooling' max needs 'stem_strides' 4"));
        }
        // `ops.pad(x, ..., constant_values=-inf)` before the max pool
        let pad_width = if g.channel_axis() == 1 {
            json!([[0, 0], [0, 0], [1, 1], [1, 1]])
        } else {
            json!([[0, 0], [1, 1], [1, 1], [0, 0]])
        };
        let name = g.auto_name("pad");
        x = g.op(
            "Pad",
            json!({"name": name, "pad_width": pad_width, "mode": "constant"}),
            x,
        );
        x = g.pool("MaxPooling2D", "csp_stem_pool", 3, 2, "valid", x);
        reduction *= 2;
    }
    // create_csp_stages
    let mut channels = *stem_filters.last().expect("stem filters are non-empty");
    for i in 0..n {
        if reduction >= output_strides && strides[i] > 1 {
            // KerasHub's dilation path sets `strides = 1` and then indexes it: no model
            // has these arguments.
            return Err(args.err(format!(
                "'output_strides' {output_strides} is reached before stage {i}, where KerasHub's CSPNetBackbone fails to build; use an output stride the stages do not reach (the default 32)"
            )));
        }
        reduction *= strides[i];
        let stage_args = StageArgs {
            filters: filters[i],
            depth: depths[i],
            strides: strides[i],
            bottle_ratio: bottle[i],
            block_ratio: block_ratio[i],
            expand_ratio: expand[i],
        };
        let name = format!("stage_{i}");
        (x, channels) = match stage {
            Stage::Csp | Stage::Cs3 => {
                net.cross_stage(&mut g, stage, &stage_args, channels, &name, x)
            }
            Stage::Dark => net.dark_stage(&mut g, &stage_args, &name, x),
        };
    }
    Ok(g.finish(args.class, &args.name, input, x, &args.kept()))
}

impl Cspnet<'_> {
    /// LeakyReLU(0.01) for the default activation, an Activation layer otherwise.
    fn act(&self, g: &mut Graph, name: &str, x: Tensor) -> Tensor {
        if self.activation == "leaky_relu" {
            g.call(
                "LeakyReLU",
                json!({"name": name, "negative_slope": 0.01}),
                &[x],
            )
        } else {
            g.activation(name, self.activation, x)
        }
    }

    fn conv_bn_act(
        &self,
        g: &mut Graph,
        conv: Conv,
        names: [&str; 3],
        act: bool,
        x: Tensor,
    ) -> Tensor {
        let x = g.conv2d(names[0], conv, x);
        let x = g.batch_norm(names[1], BN_EPSILON, BN_MOMENTUM, x);
        if act {
            self.act(g, names[2], x)
        } else {
            x
        }
    }

    /// The stage's first convolution: an average pool and a 1x1 convolution
    /// (`avg_down`), or a padded strided 3x3 one. `tag` is the stage kind in the names
    /// (`csp`, `cs3`, `dark`); cs3's leaky-ReLU activation has a double underscore.
    fn down(
        &self,
        g: &mut Graph,
        s: &StageArgs,
        down_chs: u64,
        name: &str,
        tag: &str,
        x: Tensor,
    ) -> Tensor {
        let conv_name = format!("{name}_{tag}_conv_down_1");
        let bn_name = format!("{name}_{tag}_bn_1");
        let mut act_name = format!("{name}_{tag}_activation_1");
        let (x, conv) = if self.avg_down {
            let x = if s.strides == 2 {
                // AveragePooling2D(2) without a data_format: Keras's default channels_last
                let pool_name = match tag {
                    "cs3" => format!("{name}_cross_stage3_avg_pool"),
                    _ => format!("{name}_{tag}_avg_pool"),
                };
                let config = json!({"name": pool_name, "pool_size": [2, 2], "strides": [2, 2],
                                    "padding": "valid", "data_format": "channels_last"});
                g.call("AveragePooling2D", config, &[x])
            } else {
                x
            };
            (x, Conv::new(s.filters, 1).no_bias().groups(self.groups))
        } else {
            let x = if s.strides > 1 {
                g.zero_padding(&format!("{name}_{tag}_conv_pad_1"), [[1, 1], [1, 1]], x)
            } else {
                x
            };
            if tag == "cs3" && self.activation == "leaky_relu" {
                act_name = format!("{name}_cs3__activation_1");
            }
            let conv = Conv::new(down_chs, 3)
                .strides(s.strides)
                .no_bias()
                .groups(self.groups);
            (x, conv)
        };
        self.conv_bn_act(g, conv, [&conv_name, &bn_name, &act_name], true, x)
    }

    /// `cross_stage` (csp) and `cross_stage3` (cs3); the output and its channels.
    fn cross_stage(
        &self,
        g: &mut Graph,
        stage: Stage,
        s: &StageArgs,
        in_chs: u64,
        name: &str,
        mut x: Tensor,
    ) -> (Tensor, u64) {
        let tag = if stage == Stage::Csp { "csp" } else { "cs3" };
        let down_chs = if self.down_growth { s.filters } else { in_chs };
        let expand_chs = scaled(s.filters, s.expand_ratio);
        let block_chs = scaled(s.filters, s.block_ratio);
        if s.strides != 1 {
            x = self.down(g, s, down_chs, name, tag, x);
        }
        let names = [
            format!("{name}_{tag}_conv_exp"),
            format!("{name}_{tag}_bn_2"),
            format!("{name}_{tag}_activation_2"),
        ];
        let conv = Conv::new(expand_chs, 1).no_bias();
        x = self.conv_bn_act(
            g,
            conv,
            names.each_ref().map(String::as_str),
            !self.cross_linear,
            x,
        );
        // `ops.split(x, expand_chs // (expand_chs // 2), axis)` into two halves
        let sections = expand_chs / (expand_chs / 2).max(1);
        let split_name = g.auto_name("split");
        let axis = g.channel_axis();
        let split = g.op(
            "Split",
            json!({"name": split_name, "indices_or_sections": sections, "axis": axis}),
            x,
        );
        let (first, second) = (g.output(split, 0), g.output(split, 1));
        let half = expand_chs / 2;
        let blocks_on = |g: &mut Graph, mut t| {
            for i in 0..s.depth {
                t = self.block(
                    g,
                    block_chs,
                    s.bottle_ratio,
                    &format!("{name}_block_{i}"),
                    t,
                );
            }
            t
        };
        if stage == Stage::Csp {
            let xb = blocks_on(g, second);
            let names = [
                format!("{name}_csp_conv_transition_b"),
                format!("{name}_csp_transition_b_bn"),
                format!("{name}_csp_transition_b_activation"),
            ];
            let xb = self.conv_bn_act(
                g,
                Conv::new(half, 1).no_bias(),
                names.each_ref().map(String::as_str),
                true,
                xb,
            );
            let out = g.concatenate(&format!("{name}_csp_conv_concat"), &[first, xb]);
            let names = [
                format!("{name}_csp_conv_transition"),
                format!("{name}_csp_transition_bn"),
                format!("{name}_csp_transition_activation"),
            ];
            let out = self.conv_bn_act(
                g,
                Conv::new(s.filters, 1).no_bias(),
                names.each_ref().map(String::as_str),
                true,
                out,
            );
            (out, s.filters)
        } else {
            let x1 = blocks_on(g, first);
            let out = g.concatenate(&format!("{name}_cs3_conv_transition_concat"), &[x1, second]);
            let names = [
                format!("{name}_cs3_conv_transition"),
                format!("{name}_cs3_transition_bn"),
                format!("{name}_cs3_activation_3"),
            ];
            let out = self.conv_bn_act(
                g,
                Conv::new(half, 1).no_bias(),
                names.each_ref().map(String::as_str),
                true,
                out,
            );
            (out, half)
        }
    }

    /// `dark_stage`: the down convolution (even at stride 1), then the blocks.
    fn dark_stage(&self, g: &mut Graph, s: &StageArgs, name: &str, x: Tensor) -> (Tensor, u64) {
        let mut x = self.down(g, s, s.filters, name, "dark", x);
        let block_chs = scaled(s.filters, s.block_ratio);
        for i in 0..s.depth {
            x = self.block(
                g,
                block_chs,
                s.bottle_ratio,
                &format!("{name}_block_{i}"),
                x,
            );
        }
        (x, if s.depth == 0 { s.filters } else { block_chs })
    }

    /// `bottleneck_block`, `dark_block` or `edge_block`: `filters` out, a residual add.
    fn block(
        &self,
        g: &mut Graph,
        filters: u64,
        bottle_ratio: f64,
        name: &str,
        shortcut: Tensor,
    ) -> Tensor {
        let hidden = scaled(filters, bottle_ratio);
        let tag = match self.block {
            Block::Bottleneck => "bottleneck_block",
            Block::Dark => "dark_block",
            Block::Edge => "edge_block",
        };
        let names = |k: u32| {
            [
                format!("{name}_{tag}_conv_{k}"),
                format!("{name}_{tag}_bn_{k}"),
                format!("{name}_{tag}_activation_{k}"),
            ]
        };
        let layer = |g: &mut Graph, conv: Conv, k: u32, act: bool, x| {
            let n = names(k);
            self.conv_bn_act(g, conv, n.each_ref().map(String::as_str), act, x)
        };
        let grouped3x3 = |f: u64| Conv::new(f, 3).same().no_bias().groups(self.groups);
        let pointwise = |f: u64| Conv::new(f, 1).no_bias();
        let x = match self.block {
            Block::Bottleneck => {
                let x = layer(g, pointwise(hidden), 1, true, shortcut);
                let x = layer(g, grouped3x3(hidden), 2, true, x);
                layer(g, pointwise(filters), 3, false, x)
            }
            Block::Dark => {
                let x = layer(g, pointwise(hidden), 1, true, shortcut);
                layer(g, grouped3x3(filters), 2, true, x)
            }
            Block::Edge => {
                let x = layer(g, grouped3x3(hidden), 1, true, shortcut);
                layer(g, pointwise(filters), 2, true, x)
            }
        };
        let sum = g.add(&format!("{name}_{tag}_add"), &[x, shortcut]);
        if self.block == Block::Bottleneck {
            self.act(g, &format!("{name}_{tag}_activation_4"), sum)
        } else {
            sum
        }
    }
}

/// `int(round(filters * ratio))`: Python rounds halves to even.
fn scaled(filters: u64, ratio: f64) -> u64 {
    (filters as f64 * ratio).round_ties_even() as u64
}

/// `_pad_arg`: the list cut or padded with its last value to `n` entries.
fn padded<T: Copy>(values: &[T], n: usize) -> Vec<T> {
    let last = *values.last().expect("lists are checked non-empty");
    (0..n)
        .map(|i| values.get(i).copied().unwrap_or(last))
        .collect()
}

/// An argument given as one positive integer or a non-empty list of them.
fn int_or_ints(args: &Args, key: &str) -> Result<Vec<u64>> {
    let values = match args.get(key) {
        Some(Value::Array(_)) => args.ints(key)?,
        _ => vec![args.int(key)?],
    };
    if values.is_empty() {
        return Err(args.err(format!("'{key}' must not be an empty list")));
    }
    Ok(values)
}

/// A ratio argument: one positive number or a non-empty list of them (default `[1.0]`).
fn ratios(args: &Args, key: &str) -> Result<Vec<f64>> {
    let bad = || {
        args.err(format!(
            "'{key}' must be a positive number or a list of them"
        ))
    };
    let values: Vec<f64> = match args.get(key) {
        None => vec![1.0],
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_f64().ok_or_else(bad))
            .collect::<Result<_>>()?,
        Some(v) => vec![v.as_f64().ok_or_else(bad)?],
    };
    if values.is_empty() || values.iter().any(|&r| r <= 0.0 || !r.is_finite()) {
        return Err(bad());
    }
    Ok(values)
}
