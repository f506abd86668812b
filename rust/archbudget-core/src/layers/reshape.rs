//! Reshaping layers: no weights, only shape rules.
use serde_json::Value;

use super::conv::{spatial_rank, Image};
use super::{Built, LayerCtx};
use crate::error::Result;
use crate::shape::Shape;

fn product(dims: &[Option<u64>]) -> Option<u64> {
    dims.iter().try_fold(1u64, |acc, d| acc.checked_mul((*d)?))
}

/// Flatten: (batch, product of the other dims); unknown if any of them is.
pub fn flatten(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let input = ctx.single(inputs)?;
    Ok(Built::stateless(vec![
        input.first().copied().flatten(),
        product(&input[1.min(input.len())..]),
    ]))
}

/// Reshape to `target_shape` (batch excluded); one `-1` takes what remains.
pub fn reshape(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let input = ctx.single(inputs)?;
    let target = match ctx.value("target_shape") {
        Some(Value::Array(items)) => items.clone(),
        _ => return Err(ctx.err("'target_shape' must be a list of integers")),
    };
    let mut out: Shape = vec![input.first().copied().flatten()];
    let mut free = None;
    for (i, v) in target.iter().enumerate() {
        match v.as_i64() {
            Some(-1) if free.is_none() => {
                free = Some(i + 1);
                out.push(None);
            }
            Some(d) if d > 0 => out.push(Some(d as u64)),
            _ => {
                return Err(ctx.err(format!(
                    "'target_shape' entries must be positive (one may be -1), got {v}"
                )))
            }
        }
    }
    let total = product(&input[1.min(input.len())..]);
    let known = product(&out[1..].iter().map(|d| d.or(Some(1))).collect::<Vec<_>>());
    match (free, total, known) {
        (Some(i), Some(t), Some(k)) => {
            if t % k != 0 {
                return Err(
                    ctx.shape_err(format!("cannot reshape {} elements into {:?}", t, target))
                );
            }
            out[i] = Some(t / k);
        }
        (None, Some(t), Some(k)) if t != k => {
            return Err(ctx.shape_err(format!(
                "cannot reshape {} ({t} elements) into target_shape {} ({k} elements)",
                crate::shape::format_shape(input),
                Value::Array(target)
            )))
        }
        _ => {}
    }
    Ok(Built::stateless(out))
}

/// Permute the non-batch axes by `dims` (1-based).
pub fn permute(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let input = ctx.single(inputs)?;
    let dims: Vec<u64> = match ctx.value("dims") {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_u64).collect(),
        _ => Vec::new(),
    };
    let mut sorted = dims.clone();
    sorted.sort_unstable();
    if sorted != (1..input.len() as u64).collect::<Vec<_>>() {
        return Err(ctx.shape_err(format!(
            "'dims' must permute 1..{} for an input of rank {}",
            input.len() - 1,
            input.len()
        )));
    }
    let mut out = vec![input[0]];
    out.extend(dims.iter().map(|&d| input[d as usize]));
    Ok(Built::stateless(out))
}

/// RepeatVector: (batch, features) → (batch, n, features).
pub fn repeat_vector(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let input = ctx.single(inputs)?;
    if input.len() != 2 {
        return Err(ctx.shape_err(format!(
            "RepeatVector expects (batch, features), got {}",
            crate::shape::format_shape(input)
        )));
    }
    Ok(Built::stateless(vec![
        input[0],
        Some(ctx.positive("n")?),
        input[1],
    ]))
}

/// Per-axis (before, after) amounts of `cropping` / `padding`: an int, a pair, or one
/// pair (or int) per spatial axis.
fn amounts(ctx: &LayerCtx, key: &str, rank: usize, default: u64) -> Result<Vec<(u64, u64)>> {
    let v = match ctx.value(key) {
        None => return Ok(vec![(default, default); rank]),
        Some(v) => v,
    };
    let pair = |x: &Value| -> Result<(u64, u64)> {
        match x {
            Value::Array(p) if p.len() == 2 => {
                Ok((ctx.non_negative(&p[0], key)?, ctx.non_negative(&p[1], key)?))
            }
            other => {
                let n = ctx.non_negative(other, key)?;
                Ok((n, n))
            }
        }
    };
    match v {
        Value::Array(items) if rank == 1 => Ok(vec![
            pair(v).or_else(|e| items.first().map_or(Err(e), pair))?
        ]),
        Value::Array(items) if items.len() == rank => items.iter().map(pair).collect(),
        Value::Array(_) => Err(ctx.err(format!("'{key}' must give {rank} axes, got {v}"))),
        other => Ok(vec![pair(other)?; rank]),
    }
}

/// Cropping1D/2D/3D: each spatial axis loses `before + after`.
pub fn cropping(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let rank = spatial_rank(ctx.class_name);
    let image = image_of(ctx, inputs, rank)?;
    let crop = amounts(ctx, "cropping", rank, if rank == 1 { 1 } else { 0 })?;
    let spatial = image
        .spatial
        .iter()
        .zip(&crop)
        .map(|(d, (a, b))| match d {
            None => Ok(None),
            Some(n) if a.checked_add(*b).is_some_and(|ab| *n > ab) => Ok(Some(n - a - b)),
            Some(n) => Err(ctx.shape_err(format!(
                "cropping {a}+{b} leaves nothing of an axis of size {n}"
            ))),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Built::stateless(image.shape(spatial, image.channels)))
}

/// ZeroPadding1D/2D/3D: each spatial axis gains `before + after`.
pub fn zero_padding(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let rank = spatial_rank(ctx.class_name);
    let image = image_of(ctx, inputs, rank)?;
    let pad = amounts(ctx, "padding", rank, 1)?;
    let spatial = image
        .spatial
        .iter()
        .zip(&pad)
        .map(|(d, (a, b))| {
            d.map(|n| ctx.dim_add(n, *a).and_then(|na| ctx.dim_add(na, *b)))
                .transpose()
        })
        .collect::<Result<_>>()?;
    Ok(Built::stateless(image.shape(spatial, image.channels)))
}

/// UpSampling1D/2D/3D: each spatial axis is multiplied by its `size`.
pub fn upsampling(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let rank = spatial_rank(ctx.class_name);
    let image = image_of(ctx, inputs, rank)?;
    let size = ctx.tuple_or("size", rank, 2)?;
    let spatial = image
        .spatial
        .iter()
        .zip(&size)
        .map(|(d, s)| d.map(|n| ctx.dim_mul(n, *s)).transpose())
        .collect::<Result<_>>()?;
    Ok(Built::stateless(image.shape(spatial, image.channels)))
}

/// 1D layers of this family have no `data_format` and are always channels-last.
fn image_of(ctx: &LayerCtx, inputs: &[Shape], rank: usize) -> Result<Image> {
    Image::of(ctx, ctx.single(inputs)?, rank)
}
