//! Recurrent layers and their wrappers: SimpleRNN, LSTM, GRU, RNN (over cells),
//! ConvLSTM1D/2D/3D, Bidirectional, TimeDistributed. A cell with `gates` gates builds kernel
//! (inputs × gates·units), recurrent_kernel (units × gates·units) and a bias.
use serde_json::Value;

use super::conv::{conv_length, Image};
use super::{Built, LayerCtx};
use crate::error::{mul, Result};
use crate::shape::{format_shape, Shape};
use crate::weight::{dim, Weight};

/// (batch, time, features) of the sequence input (the first; others are initial states).
fn sequence<'s>(ctx: &LayerCtx, inputs: &'s [Shape]) -> Result<&'s Shape> {
    let seq = inputs.first().ok_or_else(|| ctx.shape_err("no input"))?;
    if seq.len() != 3 {
        return Err(ctx.shape_err(format!(
            "{} expects (batch, timesteps, features), got {}",
            ctx.class_name,
            format_shape(seq)
        )));
    }
    Ok(seq)
}

/// Outputs of an RNN layer: the sequence or last step, then the states with `return_state`.
fn rnn_outputs(
    ctx: &LayerCtx,
    batch: Option<u64>,
    time: Option<u64>,
    units: Shape,
    states: usize,
) -> Result<Vec<Shape>> {
    let mut first = vec![batch];
    if ctx.bool_or("return_sequences", false)? {
        first.push(time);
    }
    first.extend(units.iter().copied());
    let mut outputs = vec![first];
    if ctx.bool_or("return_state", false)? {
        let mut state = vec![batch];
        state.extend(units);
        outputs.extend(std::iter::repeat_n(state, states));
    }
    Ok(outputs)
}

fn gated(
    ctx: &LayerCtx,
    inputs: &[Shape],
    gates: u64,
    states: usize,
    bias_rows: u64,
) -> Result<Built> {
    let seq = sequence(ctx, inputs)?;
    let features = ctx.known(seq[2], "the feature dimension")?;
    let (weights, units) = cell_weights(ctx, features, gates, bias_rows)?;
    Ok(Built {
        weights,
        outputs: rnn_outputs(ctx, seq[0], seq[1], vec![Some(units)], states)?,
    })
}

/// The weights of one cell of `units` (read from `ctx`) with `gates` gates over
/// `features` inputs: kernel, recurrent_kernel and, with `use_bias`, `bias_rows` biases.
fn cell_weights(
    ctx: &LayerCtx,
    features: u64,
    gates: u64,
    bias_rows: u64,
) -> Result<(Vec<Weight>, u64)> {
    let units = ctx.positive("units")?;
    let width = mul(gates, units, &ctx.location, "gate width")?;
    let gate_label = match gates {
        1 => "units",
        3 => "3·units (GRU gates)",
        _ => "4·units (LSTM gates)",
    };
    let mut weights = vec![
        Weight::new(
            "kernel",
            vec![dim(features, "inputs"), dim(width, gate_label)],
        ),
        Weight::new(
            "recurrent_kernel",
            vec![dim(units, "units"), dim(width, gate_label)],
        ),
    ];
    if ctx.bool_or("use_bias", true)? {
        let mut dims = vec![dim(width, "biases")];
        if bias_rows > 1 {
            dims.insert(0, dim(bias_rows, "bias sets"));
        }
        weights.push(Weight::new("bias", dims));
    }
    Ok((weights, units))
}

/// The generic RNN layer over a `cell`: SimpleRNNCell, LSTMCell, GRUCell, or
/// StackedRNNCells (each cell feeding the next).
/// Weights: those of each cell, as the matching layer (SimpleRNN, LSTM, GRU) builds them.
/// Output: the last cell's units per step (`return_sequences`) or for the last step, then
/// with `return_state` every cell's states (batch, units), in cell order.
pub fn rnn(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let seq = sequence(ctx, inputs)?;
    let cell = ctx.value("cell").ok_or_else(|| ctx.err("missing 'cell'"))?;
    let cells: Vec<&Value> = match cell.get("class_name").and_then(Value::as_str) {
        Some("StackedRNNCells") => cell
            .get("config")
            .and_then(|c| c.get("cells"))
            .and_then(Value::as_array)
            .ok_or_else(|| ctx.err("StackedRNNCells has no 'cells' list"))?
            .iter()
            .collect(),
        _ => vec![cell],
    };
    let mut features = ctx.known(seq[2], "the feature dimension")?;
    let (mut weights, mut states) = (Vec::new(), Vec::new());
    for cell in cells {
        let class_name = cell.get("class_name").and_then(Value::as_str).unwrap_or("");
        let config = cell
            .get("config")
            .and_then(Value::as_object)
            .ok_or_else(|| ctx.err("a cell has no 'config' object"))?;
        let cell_ctx = ctx.child(class_name, config, "cell");
        let (gates, n_states, bias_rows) = match class_name {
            "SimpleRNNCell" => (1, 1, 1),
            "LSTMCell" => (4, 2, 1),
            "GRUCell" => (3, 1, if cell_ctx.bool_or("reset_after", true)? { 2 } else { 1 }),
            other => {
                return Err(ctx.err(format!("RNN cell '{other}' is not supported (SimpleRNNCell, LSTMCell, GRUCell, StackedRNNCells)")))
            }
        };
        let (w, units) = cell_weights(&cell_ctx, features, gates, bias_rows)?;
        weights.extend(w);
        states.extend(std::iter::repeat_n(vec![seq[0], Some(units)], n_states));
        features = units;
    }
    let mut outputs = rnn_outputs(ctx, seq[0], seq[1], vec![Some(features)], 0)?;
    if ctx.bool_or("return_state", false)? {
        outputs.extend(states);
    }
    Ok(Built { weights, outputs })
}

pub fn simple_rnn(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    gated(ctx, inputs, 1, 1, 1)
}

pub fn lstm(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    gated(ctx, inputs, 4, 2, 1)
}

/// GRU with `reset_after` (the default) keeps separate input and recurrent biases: (2, 3·units).
pub fn gru(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let rows = if ctx.bool_or("reset_after", true)? {
        2
    } else {
        1
    };
    gated(ctx, inputs, 3, 1, rows)
}

/// ConvLSTM1D/2D/3D: input (batch, time, spatial…, channels). Weights: kernel
/// (k… × in_channels × 4·filters), recurrent_kernel (k… × filters × 4·filters), bias (4·filters).
pub fn conv_lstm(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let rank = super::conv::spatial_rank(ctx.class_name);
    let input = inputs.first().ok_or_else(|| ctx.shape_err("no input"))?;
    if input.len() != rank + 3 {
        return Err(ctx.shape_err(format!(
            "{} expects an input of rank {}, got {}",
            ctx.class_name,
            rank + 3,
            format_shape(input)
        )));
    }
    // Each step is an image: drop the time axis and reuse the convolution rules.
    let mut step = vec![input[0]];
    step.extend_from_slice(&input[2..]);
    let image = Image::of(ctx, &step, rank)?;
    let filters = ctx.positive("filters")?;
    let kernel = ctx.tuple("kernel_size", rank)?;
    let strides = ctx.tuple_or("strides", rank, 1)?;
    let dilation = ctx.tuple_or("dilation_rate", rank, 1)?;
    let padding = ctx.str_or("padding", "valid")?;
    let in_ch = ctx.known(image.channels, "the channel dimension")?;
    let width = mul(4, filters, &ctx.location, "gate width")?;
    let kdims = |d: &str, n: u64| {
        let mut v: Vec<_> = kernel.iter().map(|&k| dim(k, "k")).collect();
        v.push(dim(n, if d == "in" { "in_channels" } else { "filters" }));
        v.push(dim(width, "4·filters (LSTM gates)"));
        v
    };
    let mut weights = vec![
        Weight::new("kernel", kdims("in", in_ch)),
        Weight::new("recurrent_kernel", kdims("rec", filters)),
    ];
    if ctx.bool_or("use_bias", true)? {
        weights.push(Weight::new("bias", vec![dim(width, "biases")]));
    }
    let spatial = (0..rank)
        .map(|i| {
            conv_length(
                ctx,
                image.spatial[i],
                kernel[i],
                strides[i],
                dilation[i],
                padding,
            )
        })
        .collect::<Result<Vec<_>>>()?;
    let frame = image.shape(spatial, Some(filters));
    Ok(Built {
        weights,
        outputs: rnn_outputs(ctx, input[0], input[1], frame[1..].to_vec(), 2)?,
    })
}

/// Bidirectional: a forward and a backward copy of the wrapped layer (each with its own
/// weights); outputs merged by `merge_mode` (concat, sum, ave, mul, or None for both).
pub fn bidirectional(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let forward_cfg = ctx
        .value("layer")
        .ok_or_else(|| ctx.err("missing 'layer'"))?;
    let backward_cfg = ctx.value("backward_layer").unwrap_or(forward_cfg);
    let (_, forward) = super::apply_json(forward_cfg, &inputs[..1.min(inputs.len())], ctx)?;
    let (_, backward) = super::apply_json(backward_cfg, &inputs[..1.min(inputs.len())], ctx)?;
    let (f, b) = (&forward.outputs[0], &backward.outputs[0]);
    let mode = match ctx.value("merge_mode") {
        None => "none",
        Some(Value::String(s)) => s.as_str(),
        Some(v) => {
            return Err(ctx.err(format!(
                "'merge_mode' must be concat, sum, ave, mul or null, got {v}"
            )))
        }
    };
    let mut outputs = match mode {
        "concat" => {
            let mut out = f.clone();
            let n = out.len() - 1;
            out[n] = match (f[n], b[n]) {
                (Some(x), Some(y)) => Some(ctx.dim_add(x, y)?),
                _ => None,
            };
            vec![out]
        }
        "sum" | "ave" | "mul" => vec![f.clone()],
        "none" => vec![f.clone(), b.clone()],
        other => {
            return Err(ctx.err(format!(
                "'merge_mode' must be concat, sum, ave, mul or null, got '{other}'"
            )))
        }
    };
    outputs.extend(forward.outputs[1..].iter().cloned());
    outputs.extend(backward.outputs[1..].iter().cloned());
    let mut weights = forward.weights;
    weights.extend(backward.weights);
    Ok(Built { weights, outputs })
}

/// TimeDistributed: the wrapped layer applied to every step of axis 1.
pub fn time_distributed(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let input = ctx.single(inputs)?;
    if input.len() < 3 {
        return Err(ctx.shape_err(format!(
            "TimeDistributed expects an input of rank ≥ 3, got {}",
            format_shape(input)
        )));
    }
    let mut step = vec![input[0]];
    step.extend_from_slice(&input[2..]);
    let inner = ctx
        .value("layer")
        .ok_or_else(|| ctx.err("missing 'layer'"))?;
    let (_, built) = super::apply_json(inner, &[step], ctx)?;
    let outputs = built
        .outputs
        .iter()
        .map(|o| {
            let mut s = vec![input[0], input[1]];
            s.extend_from_slice(&o[1..]);
            s
        })
        .collect();
    Ok(Built {
        weights: built.weights,
        outputs,
    })
}
