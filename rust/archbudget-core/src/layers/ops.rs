//! `keras.ops` Operations that a functional graph records as nodes (`x[:, 0]`,
//! `ops.expand_dims`, `ops.matmul`, ...), beyond the elementwise ones of `merge`.
//!
//! Weights: none. Output shape: as each Operation's `compute_output_spec` in
//! keras/src/ops/numpy.py and nn.py computes it. Configs hold the Operation's
//! constructor arguments (`axis`, `keepdims`, `axes`, `newshape`); a `GetItem`'s index
//! is the call's second positional argument.
use serde_json::Value;

use super::{Built, LayerCtx, Rule};
use crate::error::Result;
use crate::shape::Shape;

pub const RULES: &[(&str, Rule)] = &[
    ("GetItem", get_item),
    ("ExpandDims", expand_dims),
    ("Squeeze", squeeze),
    ("Reshape", reshape),
    ("Transpose", transpose),
    ("Concatenate", concatenate),
    ("Stack", stack),
    ("Matmul", matmul),
    ("Mean", reduce),
    ("Sum", reduce),
    ("Max", reduce),
    ("Min", reduce),
    ("Prod", reduce),
    ("Std", reduce),
    ("Var", reduce),
    ("Any", reduce),
    ("All", reduce),
    ("Logsumexp", reduce),
    ("Argmax", reduce),
    ("Argmin", reduce),
    ("Softmax", same_shape),
    ("LogSoftmax", same_shape),
    ("Cast", same_shape),
    ("Clip", same_shape),
    ("Pad", pad),
    ("Split", split),
];

/// `ops.split(x, indices_or_sections, axis)`: N equal pieces (the axis divisible by N),
/// or the pieces between sorted indices (`_compute_split_output_spec`).
fn split(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let input = ctx.single(inputs)?;
    let axis = ctx.axis(
        ctx.value("axis").and_then(Value::as_i64).unwrap_or(0),
        input.len(),
    )?;
    let size = input[axis];
    let piece = |d: Option<u64>| {
        let mut shape = input.clone();
        shape[axis] = d;
        shape
    };
    let bad = || ctx.err("'indices_or_sections' must be a positive integer or a list of indices");
    let outputs = match ctx.value("indices_or_sections") {
        Some(Value::Array(indices)) => {
            let mut bounds = vec![Some(0)];
            for i in indices {
                bounds.push(Some(i.as_u64().ok_or_else(bad)?));
            }
            bounds.push(size);
            bounds
                .windows(2)
                .map(|w| match (w[0], w[1]) {
                    (Some(start), Some(end)) => end
                        .checked_sub(start)
                        .map(|d| piece(Some(d)))
                        .ok_or_else(|| ctx.shape_err("split indices must be sorted")),
                    _ => Ok(piece(None)),
                })
                .collect::<Result<Vec<Shape>>>()?
        }
        Some(v) => {
            let n = v.as_u64().filter(|&n| n > 0).ok_or_else(bad)?;
            if size.is_some_and(|d| d % n != 0) {
                return Err(ctx.shape_err(format!(
                    "an axis of size {} does not split into {n} equal pieces",
                    size.unwrap_or_default()
                )));
            }
            vec![piece(size.map(|d| d / n)); n as usize]
        }
        None => return Err(bad()),
    };
    Ok(Built {
        weights: Vec::new(),
        outputs,
    })
}

/// `ops.pad(x, pad_width)`: each axis gains its `[before, after]` of `pad_width` (one
/// pair per axis, the batch axis included).
fn pad(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let input = ctx.single(inputs)?;
    let bad = || {
        ctx.err(format!(
            "'pad_width' must be one [before, after] pair of integers per axis ({} axes)",
            input.len()
        ))
    };
    let pairs = ctx
        .value("pad_width")
        .and_then(Value::as_array)
        .filter(|p| p.len() == input.len())
        .ok_or_else(bad)?;
    input
        .iter()
        .zip(pairs)
        .map(|(d, pair)| {
            let amounts: Vec<u64> = pair
                .as_array()
                .map(|p| p.iter().filter_map(Value::as_u64).collect())
                .filter(|p: &Vec<u64>| p.len() == 2)
                .ok_or_else(bad)?;
            d.map(|n| {
                ctx.dim_add(n, amounts[0])
                    .and_then(|m| ctx.dim_add(m, amounts[1]))
            })
            .transpose()
        })
        .collect::<Result<Shape>>()
        .map(Built::stateless)
}

fn same_shape(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    Ok(Built::stateless(ctx.single(inputs)?.clone()))
}

/// `axis` as a list of axes of a rank-`rank` tensor, None for all of them.
fn axis_list(ctx: &LayerCtx, rank: usize) -> Result<Option<Vec<usize>>> {
    let raw: Vec<i64> = match ctx.value("axis") {
        None => return Ok(None),
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_i64).collect(),
        Some(v) => vec![v
            .as_i64()
            .ok_or_else(|| ctx.err(format!("'axis' must be an integer or a list, got {v}")))?],
    };
    raw.into_iter()
        .map(|a| ctx.axis(a, rank))
        .collect::<Result<_>>()
        .map(Some)
}

fn reduce(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let input = ctx.single(inputs)?;
    let keepdims = ctx.bool_or("keepdims", false)?;
    let axes = axis_list(ctx, input.len())?.unwrap_or_else(|| (0..input.len()).collect());
    let out = input
        .iter()
        .enumerate()
        .filter_map(|(i, d)| match (axes.contains(&i), keepdims) {
            (false, _) => Some(*d),
            (true, true) => Some(Some(1)),
            (true, false) => None,
        })
        .collect();
    Ok(Built::stateless(out))
}

fn expand_dims(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let input = ctx.single(inputs)?;
    let count = match ctx.value("axis") {
        Some(Value::Array(items)) => items.len(),
        _ => 1,
    };
    let rank = input.len() + count;
    let mut axes = axis_list(ctx, rank)?.ok_or_else(|| ctx.err("missing 'axis'"))?;
    axes.sort_unstable();
    let mut rest = input.iter();
    let out = (0..rank)
        .map(|i| {
            if axes.contains(&i) {
                Some(1)
            } else {
                rest.next().copied().flatten()
            }
        })
        .collect();
    Ok(Built::stateless(out))
}

fn squeeze(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let input = ctx.single(inputs)?;
    let out = match axis_list(ctx, input.len())? {
        None => input.iter().filter(|d| **d != Some(1)).copied().collect(),
        Some(axes) => {
            if let Some(&a) = axes.iter().find(|&&a| input[a].is_some_and(|d| d != 1)) {
                return Err(
                    ctx.shape_err(format!("cannot squeeze axis {a} of size {:?}", input[a]))
                );
            }
            input
                .iter()
                .enumerate()
                .filter(|(i, _)| !axes.contains(i))
                .map(|(_, d)| *d)
                .collect()
        }
    };
    Ok(Built::stateless(out))
}

/// `ops.reshape(x, newshape)`: the batch axis is part of `newshape`; its one `-1`
/// takes the remaining size when every input size is known, else it is unknown.
fn reshape(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let input = ctx.single(inputs)?;
    let target = match ctx.value("newshape") {
        Some(Value::Array(items)) => items.clone(),
        _ => return Err(ctx.err("'newshape' must be a list of integers")),
    };
    let total: Option<u64> = input
        .iter()
        .try_fold(1u64, |acc, d| d.and_then(|d| acc.checked_mul(d)));
    let mut out: Shape = Vec::with_capacity(target.len());
    let mut known = 1u64;
    let mut free = None;
    for v in &target {
        match v.as_i64() {
            Some(-1) if free.is_none() => {
                free = Some(out.len());
                out.push(None);
            }
            Some(d) if d > 0 => {
                known = ctx.dim_mul(known, d as u64)?;
                out.push(Some(d as u64));
            }
            _ => {
                return Err(ctx.err(format!(
                    "'newshape' entries must be positive (one may be -1), got {v}"
                )))
            }
        }
    }
    if let (Some(i), Some(t)) = (free, total) {
        if t % known != 0 {
            return Err(ctx.shape_err(format!(
                "cannot reshape {t} elements into {}",
                Value::Array(target)
            )));
        }
        out[i] = Some(t / known);
    }
    Ok(Built::stateless(out))
}

fn transpose(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let input = ctx.single(inputs)?;
    let out = match ctx.value("axes") {
        None => input.iter().rev().copied().collect(),
        Some(_) => {
            let axes = ctx.axes("axes", 0, input.len())?;
            if axes.len() != input.len() {
                return Err(ctx.shape_err(format!(
                    "'axes' has {} entries for an input of rank {}",
                    axes.len(),
                    input.len()
                )));
            }
            axes.iter().map(|&a| input[a]).collect()
        }
    };
    Ok(Built::stateless(out))
}

fn concatenate(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let first = inputs
        .first()
        .ok_or_else(|| ctx.shape_err("Concatenate has no tensor argument"))?;
    let axis = ctx.axis(
        ctx.value("axis").and_then(Value::as_i64).unwrap_or(0),
        first.len(),
    )?;
    let mut out = first.clone();
    for s in &inputs[1..] {
        if s.len() != out.len() {
            return Err(ctx.shape_err("Concatenate needs inputs of one rank"));
        }
        out[axis] = match (out[axis], s[axis]) {
            (Some(a), Some(b)) => Some(ctx.dim_add(a, b)?),
            _ => None,
        };
    }
    Ok(Built::stateless(out))
}

fn stack(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let first = inputs
        .first()
        .ok_or_else(|| ctx.shape_err("Stack has no tensor argument"))?;
    let axis = ctx.axis(
        ctx.value("axis").and_then(Value::as_i64).unwrap_or(0),
        first.len() + 1,
    )?;
    let mut out = first.clone();
    out.insert(axis, Some(inputs.len() as u64));
    Ok(Built::stateless(out))
}

/// `ops.matmul`: batch axes broadcast, `(…, n, k) @ (…, k, m) -> (…, n, m)`; a rank-1
/// operand is a vector whose axis is dropped from the result.
fn matmul(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let [a, b] = inputs else {
        return Err(ctx.shape_err(format!("Matmul takes two tensors, got {}", inputs.len())));
    };
    if a.is_empty() || b.is_empty() {
        return Err(ctx.shape_err("Matmul needs tensors of rank ≥ 1"));
    }
    let a2: Shape = if a.len() == 1 {
        vec![Some(1), a[0]]
    } else {
        a.clone()
    };
    let b2: Shape = if b.len() == 1 {
        vec![b[0], Some(1)]
    } else {
        b.clone()
    };
    let (ka, kb) = (a2[a2.len() - 1], b2[b2.len() - 2]);
    if let (Some(x), Some(y)) = (ka, kb) {
        if x != y {
            return Err(ctx.shape_err(format!("Matmul inner sizes differ: {x} and {y}")));
        }
    }
    let batch_a = &a2[..a2.len() - 2];
    let batch_b = &b2[..b2.len() - 2];
    let rank = batch_a.len().max(batch_b.len());
    let mut out: Shape = (0..rank)
        .map(|i| {
            let pick = |s: &[Option<u64>]| {
                (i + s.len())
                    .checked_sub(rank)
                    .map(|j| s[j])
                    .unwrap_or(Some(1))
            };
            match (pick(batch_a), pick(batch_b)) {
                (Some(1), y) => y,
                (x, Some(1)) => x,
                (None, y) => y,
                (x, _) => x,
            }
        })
        .collect();
    if a.len() > 1 {
        out.push(a2[a2.len() - 2]);
    }
    if b.len() > 1 {
        out.push(b2[b2.len() - 1]);
    }
    Ok(Built::stateless(out))
}

/// `x[...]`: ints drop an axis, slices keep it (sized when known), `None` adds one,
/// `...` stands for the axes the rest of the index does not name.
fn get_item(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let input = ctx.single(inputs)?;
    let key = ctx
        .args
        .and_then(|a| a.get(1))
        .ok_or_else(|| ctx.err("GetItem has no index argument"))?;
    let items: Vec<&Value> = match key {
        Value::Array(items) => items.iter().collect(),
        one => vec![one],
    };
    let kind = |v: &Value| {
        v.get("class_name")
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let consumes = |v: &Value| !(v.is_null() || kind(v).as_deref() == Some("__ellipsis__"));
    let named = items.iter().filter(|v| consumes(v)).count();
    if named > input.len() {
        return Err(ctx.shape_err(format!(
            "index of {named} axes into an input of rank {}",
            input.len()
        )));
    }
    let mut out = Shape::new();
    let mut axis = 0;
    for item in &items {
        match kind(item).as_deref() {
            Some("__ellipsis__") => {
                let skipped = input.len() - named;
                out.extend_from_slice(&input[axis..axis + skipped]);
                axis += skipped;
            }
            Some("__slice__") => {
                let cfg = item.get("config").cloned().unwrap_or(Value::Null);
                let part = |k: &str| cfg.get(k).and_then(Value::as_i64);
                out.push(
                    input[axis].map(|d| slice_len(d, part("start"), part("stop"), part("step"))),
                );
                axis += 1;
            }
            None if item.is_null() => out.push(Some(1)),
            None if item.is_i64() => axis += 1,
            _ => {
                return Err(ctx.err(format!(
                    "GetItem index {item} is not read (ints, slices, None, ...)"
                )))
            }
        }
    }
    out.extend_from_slice(&input[axis..]);
    Ok(Built::stateless(out))
}

/// `len(range(*slice(start, stop, step).indices(size)))`.
fn slice_len(size: u64, start: Option<i64>, stop: Option<i64>, step: Option<i64>) -> u64 {
    let n = size as i64;
    let step = step.unwrap_or(1);
    let clamp = |v: i64, lo: i64, hi: i64| v.clamp(lo, hi);
    let resolve = |v: i64, lo: i64, hi: i64| clamp(if v < 0 { v + n } else { v }, lo, hi);
    let (start, stop) = if step > 0 {
        (
            start.map_or(0, |s| resolve(s, 0, n)),
            stop.map_or(n, |s| resolve(s, 0, n)),
        )
    } else {
        (
            start.map_or(n - 1, |s| resolve(s, -1, n - 1)),
            stop.map_or(-1, |s| resolve(s, -1, n - 1)),
        )
    };
    let span = if step > 0 { stop - start } else { start - stop };
    if span <= 0 || step == 0 {
        0
    } else {
        ((span + step.abs() - 1) / step.abs()) as u64
    }
}
