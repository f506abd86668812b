//! Merging layers: no weights. Shapes follow Keras's `Merge._compute_elemwise_op_output_shape`
//! (right-aligned broadcasting), Concatenate and Dot. Also the elementwise `keras.ops`
//! that functional graphs record as nodes (`x + 3.0` in MobileNetV3, `inputs + x` in
//! ConvNeXt).
use serde_json::Value;

use super::{Built, LayerCtx};
use crate::error::Result;
use crate::shape::{format_shape, Shape};

fn broadcast(ctx: &LayerCtx, a: &[Option<u64>], b: &[Option<u64>]) -> Result<Shape> {
    let (long, short) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    let mut out: Shape = long[..long.len() - short.len()].to_vec();
    for (i, j) in long[long.len() - short.len()..].iter().zip(short) {
        out.push(match (i, j) {
            (None, _) | (_, None) => None,
            (Some(1), x) | (x, Some(1)) => *x,
            (Some(x), Some(y)) if x == y => Some(*x),
            _ => {
                return Err(ctx.shape_err(format!(
                    "inputs of {} cannot be broadcast together: {} and {}",
                    ctx.class_name,
                    format_shape(a),
                    format_shape(b)
                )))
            }
        });
    }
    Ok(out)
}

/// Add, Subtract, Multiply, Average, Maximum, Minimum.
pub fn elementwise(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    if inputs.len() < 2 || (ctx.class_name == "Subtract" && inputs.len() != 2) {
        return Err(ctx.shape_err(format!(
            "{} needs at least 2 inputs, got {}",
            ctx.class_name,
            inputs.len()
        )));
    }
    let mut out: Shape = inputs[0][1.min(inputs[0].len())..].to_vec();
    for s in &inputs[1..] {
        out = broadcast(ctx, &out, &s[1.min(s.len())..])?;
    }
    let batches: Vec<u64> = inputs
        .iter()
        .filter_map(|s| s.first().copied().flatten())
        .collect();
    let batch = match batches.first() {
        Some(b) if batches.iter().all(|x| x == b) => Some(*b),
        _ => None,
    };
    out.insert(0, batch);
    Ok(Built::stateless(out))
}

/// Concatenate along `axis`: that axis sums, the others must agree.
pub fn concatenate(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    if inputs.len() < 2 {
        return Err(ctx.shape_err(format!(
            "Concatenate needs at least 2 inputs, got {}",
            inputs.len()
        )));
    }
    let rank = inputs[0].len();
    if inputs.iter().any(|s| s.len() != rank) {
        let shapes: Vec<String> = inputs.iter().map(|s| format_shape(s)).collect();
        return Err(ctx.shape_err(format!(
            "Concatenate needs inputs of one rank, got {}",
            shapes.join(", ")
        )));
    }
    let axis = ctx.axes("axis", -1, rank)?[0];
    let mut out = inputs[0].clone();
    for s in &inputs[1..] {
        for (i, (o, d)) in out.iter_mut().zip(s).enumerate() {
            if i == axis {
                *o = match (*o, *d) {
                    (Some(x), Some(y)) => Some(ctx.dim_add(x, y)?),
                    _ => None,
                };
            } else if i > 0 {
                match (*o, *d) {
                    (Some(x), Some(y)) if x != y => {
                        return Err(ctx.shape_err(format!(
                            "Concatenate on axis {axis} needs the other axes equal: {} vs {}",
                            format_shape(&inputs[0]),
                            format_shape(s)
                        )))
                    }
                    (None, y) => *o = y,
                    _ => {}
                }
            }
        }
    }
    Ok(Built::stateless(out))
}

/// Dot: contracts `axes` of two inputs; the rest of both shapes remain.
pub fn dot(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let [a, b] = inputs else {
        return Err(ctx.shape_err(format!("Dot needs 2 inputs, got {}", inputs.len())));
    };
    let axis_of = |v: &Value, rank: usize| -> Result<usize> {
        let i = v
            .as_i64()
            .ok_or_else(|| ctx.err(format!("'axes' must be integers, got {v}")))?;
        ctx.axis(i, rank)
    };
    let (x, y) = match ctx.value("axes") {
        Some(Value::Array(p)) if p.len() == 2 => {
            (axis_of(&p[0], a.len())?, axis_of(&p[1], b.len())?)
        }
        Some(v) => (axis_of(v, a.len())?, axis_of(v, b.len())?),
        None => return Err(ctx.err("missing 'axes'")),
    };
    if let (Some(p), Some(q)) = (a[x], b[y]) {
        if p != q {
            return Err(ctx.shape_err(format!("Dot axes have different sizes: {p} and {q}")));
        }
    }
    let mut out: Shape = a
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != x)
        .map(|(_, d)| *d)
        .collect();
    out.extend(
        b.iter()
            .enumerate()
            .filter(|(i, _)| *i != y && *i != 0)
            .map(|(_, d)| *d),
    );
    if out.len() == 1 {
        out.push(Some(1));
    }
    Ok(Built::stateless(out))
}

/// An elementwise `keras.ops.numpy` node (Add, Multiply, ...): no weights and no row of
/// the summary; its tensor arguments broadcast as `operation_utils.broadcast_shapes`
/// does (constants such as `3.0` are not tensors and leave the shape alone).
pub fn elementwise_op(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let (first, rest) = inputs
        .split_first()
        .ok_or_else(|| ctx.shape_err(format!("{} has no tensor argument", ctx.class_name)))?;
    let mut out = first.clone();
    for s in rest {
        out = broadcast_shapes(ctx, &out, s)?;
    }
    Ok(Built::stateless(out))
}

/// Keras's `broadcast_shapes`: unlike the Merge layers, an unknown size meeting a known
/// one other than 1 takes the known one.
fn broadcast_shapes(ctx: &LayerCtx, a: &[Option<u64>], b: &[Option<u64>]) -> Result<Shape> {
    let rank = a.len().max(b.len());
    let pad = |s: &[Option<u64>]| {
        let mut v = vec![Some(1); rank - s.len()];
        v.extend_from_slice(s);
        v
    };
    let (a2, b2) = (pad(a), pad(b));
    a2.iter()
        .zip(&b2)
        .map(|(x, y)| match (*x, *y) {
            (Some(1), y) => Ok(y),
            (None, Some(1)) => Ok(None),
            (None, y) => Ok(y),
            (Some(x), Some(y)) if y != 1 && y != x => Err(ctx.shape_err(format!(
                "{} cannot broadcast {} and {}",
                ctx.class_name,
                format_shape(a),
                format_shape(b)
            ))),
            (x, _) => Ok(x),
        })
        .collect()
}
