//! Dense, EinsumDense, convolutions and pooling: `nn.Linear`, `nn.ConvNd`,
//! `nn.ConvTransposeNd`, `nn.MaxPoolNd` / `nn.AvgPoolNd`, padded to Keras's sizes.
use serde_json::Value;

use super::super::graph::{Graph, ValueId};
use super::super::ops::*;
use super::super::{add, mul, Result};
use super::site::Site;
use crate::error::Error;
use crate::shape::Shape;

/// The zeros on each side that give Keras's output size `o` from `n` (symmetric:
/// 'same' is k // 2 at stride 1 for odd kernels).
pub(super) fn same_padding(n: u64, o: u64, kernel: u64, stride: u64, dilation: u64) -> Result<u64> {
    let span = add(mul(dilation, kernel - 1)?, 1)?;
    Ok(add(mul(o.saturating_sub(1), stride)?, span)?
        .saturating_sub(n)
        .div_ceil(2))
}

/// A transposed convolution's padding and output padding that give Keras's output size
/// `o` from `n`: (n−1)·s + dil·(k−1) + 1 − 2·pad + out_pad = o.
fn transposed_padding(
    n: u64,
    o: u64,
    kernel: u64,
    stride: u64,
    dilation: u64,
) -> Result<(u64, u64)> {
    let grown = add(
        mul(n.saturating_sub(1), stride)?,
        add(mul(dilation, kernel - 1)?, 1)?,
    )?;
    Ok(match grown.checked_sub(o) {
        // 2·⌈e/2⌉ − e
        Some(excess) => (excess.div_ceil(2), excess % 2),
        None => (0, o - grown),
    })
}

/// `(contracted, produced, bias)` axis counts when an EinsumDense equation is a plain
/// projection `…C,CO->…O` (the input's trailing axes C contracted with the kernel's
/// leading ones; a bias over all of O or none): an `nn.Linear` from ΠC to ΠO features.
fn einsum_projection(equation: &str, bias_axes: Option<&str>) -> Option<(usize, usize, bool)> {
    let (operands, out) = equation.split_once("->")?;
    let (lhs, rhs) = operands.split_once(',')?;
    let (lhs, out) = match (lhs.strip_prefix("..."), out.strip_prefix("...")) {
        (Some(l), Some(o)) => (l, o),
        _ => (lhs, out),
    };
    let lhs: Vec<char> = lhs.chars().collect();
    let rhs: Vec<char> = rhs.chars().collect();
    let contracted = rhs.iter().take_while(|c| lhs.contains(c)).count();
    let (c, o) = rhs.split_at(contracted);
    let prefix = lhs.strip_suffix(c)?;
    let expected: Vec<char> = prefix.iter().chain(o).copied().collect();
    let produced_elsewhere = o.iter().any(|x| lhs.contains(x));
    if c.is_empty() || o.is_empty() || produced_elsewhere || out.chars().ne(expected) {
        return None;
    }
    let bias = match bias_axes.unwrap_or("") {
        "" => false,
        b if b.len() == o.len() && b.chars().all(|x| o.contains(&x)) => true,
        _ => return None,
    };
    Some((c.len(), o.len(), bias))
}

/// Conv1D/2D/3D (and their Transpose, Depthwise and Separable forms) as `nn.ConvNd` /
/// `nn.ConvTransposeNd`, padded to give Keras's output size.
pub(super) fn conv(g: &mut Graph, s: &Site, inputs: &[ValueId]) -> Result<ValueId> {
    let transposed = s.class.ends_with("Transpose");
    let (size, c) = s.spatial(s.input(0)?)?;
    let (out_size, f) = s.spatial(s.out)?;
    let n = size.len();
    if out_size.len() != n {
        return Err(Error::shape(s.here, "input and output ranks differ"));
    }
    let kernel = s
        .ints("kernel_size", n)?
        .ok_or_else(|| Error::invalid(s.here, "missing 'kernel_size'"))?;
    let stride = s.ints("strides", n)?.unwrap_or(vec![1; n]);
    let dilation = s.ints("dilation_rate", n)?.unwrap_or(vec![1; n]);
    let mut dims = Vec::with_capacity(n);
    for i in 0..n {
        let (k, st, d) = (kernel[i], stride[i], dilation[i]);
        let mut dim = ConvDim::new(size[i], k, st, 0);
        dim.dilation = d;
        if transposed {
            (dim.padding, dim.output_padding) = transposed_padding(size[i], out_size[i], k, st, d)?;
        } else {
            dim.padding = same_padding(size[i], out_size[i], k, st, d)?;
        }
        dims.push(dim);
    }
    let bias = s.bool_of("use_bias", true);
    let conv = |in_channels, out_channels, dims, groups, bias| {
        Op::Conv(Conv {
            batch: s.batch,
            in_channels,
            out_channels,
            dims,
            groups,
            bias,
            transposed,
            shared_weights: false,
        })
    };
    let v = if s.class.starts_with("Depthwise") {
        // a grouped convolution with a group per input channel
        g.push(conv(c, f, dims, c, bias), inputs)
    } else if s.class.starts_with("Separable") {
        // depthwise (no bias), then a pointwise 1×… convolution
        let inner = mul(
            c,
            s.cfg
                .get("depth_multiplier")
                .and_then(Value::as_u64)
                .unwrap_or(1),
        )?;
        let d = g.push(conv(c, inner, dims, c, false), inputs);
        let pointwise = out_size.iter().map(|&o| ConvDim::new(o, 1, 1, 0)).collect();
        g.push(conv(inner, f, pointwise, 1, bias), &[d])
    } else {
        let groups = s.cfg.get("groups").and_then(Value::as_u64).unwrap_or(1);
        g.push(conv(c, f, dims, groups, bias), inputs)
    };
    s.activate(g, v)
}

/// MaxPooling / AveragePooling 1D–3D as `nn.MaxPoolNd` / `nn.AvgPoolNd`, padded to give
/// Keras's output size ('same').
pub(super) fn pool(g: &mut Graph, s: &Site, kind: PoolKind, inputs: &[ValueId]) -> Result<ValueId> {
    let (size, channels) = s.spatial(s.input(0)?)?;
    let (out_size, _) = s.spatial(s.out)?;
    let n = size.len();
    let kernel = s.ints("pool_size", n)?.unwrap_or(vec![2; n]);
    let stride = s.ints("strides", n)?.unwrap_or(kernel.clone());
    let dims = (0..n)
        .map(|i| {
            let o = out_size.get(i).copied().unwrap_or(1);
            let pad = same_padding(size[i], o, kernel[i], stride[i], 1)?;
            Ok(ConvDim::new(size[i], kernel[i], stride[i], pad))
        })
        .collect::<Result<_>>()?;
    let pool = Pool {
        kind,
        batch: s.batch,
        channels,
        dims,
    };
    Ok(g.push(Op::Pool(pool), inputs))
}
/// Dense and EinsumDense (a projection equation) as `nn.Linear`, then the activation.
pub(super) fn dense(g: &mut Graph, s: &Site, inputs: &[ValueId]) -> Result<ValueId> {
    let in_shape = s.input(0)?;
    Ok(match s.class {
        "Dense" => {
            let in_features = s.last(in_shape)?;
            let v = g.push(
                Op::Linear(Linear::new(
                    s.numel(in_shape)? / in_features.max(1),
                    in_features,
                    s.last(s.out)?,
                    s.bool_of("use_bias", true),
                )),
                inputs,
            );
            s.activate(g, v)?
        }
        "EinsumDense" => {
            let bias_axes = s.cfg.get("bias_axes").and_then(Value::as_str);
            let (c, o, bias) = einsum_projection(s.str_of("equation"), bias_axes)
                .ok_or_else(|| s.unsupported("whose equation is not a projection …C,CO->…O"))?;
            let tail = |shape: &Shape, k: usize| -> Result<u64> {
                let dims = shape
                    .get(shape.len().saturating_sub(k).max(1)..)
                    .unwrap_or(&[]);
                if dims.len() != k {
                    return Err(s.unsupported("whose equation does not match its shapes"));
                }
                dims.iter().try_fold(1, |acc, &d| mul(acc, s.dim(d)?))
            };
            let in_features = tail(in_shape, c)?;
            let v = g.push(
                Op::Linear(Linear::new(
                    s.numel(in_shape)? / in_features.max(1),
                    in_features,
                    tail(s.out, o)?,
                    bias,
                )),
                inputs,
            );
            s.activate(g, v)?
        }
        _ => return Err(s.unsupported("(not a dense layer)")),
    })
}
