//! Normalization layers. Keras builds their scale (gamma) and offset (beta) over the
//! normalized axis; BatchNormalization also keeps moving statistics, which are
//! non-trainable weights in Keras (buffers in PyTorch).
use super::{Built, LayerCtx};
use crate::error::Result;
use crate::shape::Shape;
use crate::weight::{dim, Dim, Weight};

fn channel_dims(ctx: &LayerCtx, input: &Shape, axes: &[usize]) -> Result<Vec<Dim>> {
    axes.iter()
        .map(|&a| {
            Ok(dim(
                ctx.known(input[a], &format!("input axis {a}"))?,
                "channels",
            ))
        })
        .collect()
}

fn scale_and_offset(dims: &[Dim], scale: bool, center: bool) -> Vec<Weight> {
    let mut weights = Vec::new();
    if scale {
        weights.push(Weight::new("gamma", dims.to_vec()));
    }
    if center {
        weights.push(Weight::new("beta", dims.to_vec()));
    }
    weights
}

/// BatchNormalization: gamma and beta (trainable, per `scale` / `center`) and
/// moving_mean and moving_variance (always non-trainable), each of the channel size.
pub fn batch_norm(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let input = ctx.single(inputs)?;
    let axis = ctx.axes("axis", -1, input.len())?;
    let dims = channel_dims(ctx, input, &axis)?;
    let mut weights = scale_and_offset(
        &dims,
        ctx.bool_or("scale", true)?,
        ctx.bool_or("center", true)?,
    );
    weights.push(Weight::new("moving_mean", dims.clone()).frozen());
    weights.push(Weight::new("moving_variance", dims).frozen());
    Ok(Built::new(weights, input.clone()))
}

/// LayerNormalization: gamma when `scale` or `rms_scaling`; beta when `center` and not
/// `rms_scaling` (Keras ignores `center` under RMS scaling). Shape: the normalized axes.
pub fn layer_norm(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let input = ctx.single(inputs)?;
    let mut axis = ctx.axes("axis", -1, input.len())?;
    axis.sort_unstable();
    let dims = channel_dims(ctx, input, &axis)?;
    let rms = ctx.bool_or("rms_scaling", false)?;
    let scale = ctx.bool_or("scale", true)? || rms;
    let center = ctx.bool_or("center", true)? && !rms;
    Ok(Built::new(
        scale_and_offset(&dims, scale, center),
        input.clone(),
    ))
}

/// RMSNormalization: one scale vector over the normalized axes.
pub fn rms_norm(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let input = ctx.single(inputs)?;
    let mut axis = ctx.axes("axis", -1, input.len())?;
    axis.sort_unstable();
    let dims = channel_dims(ctx, input, &axis)?;
    Ok(Built::new(vec![Weight::new("scale", dims)], input.clone()))
}

/// GroupNormalization: gamma and beta of the channel size; `groups` must divide it
/// (`groups: -1` is one group per channel, as Keras reads it).
pub fn group_norm(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let input = ctx.single(inputs)?;
    let axis = ctx.axes("axis", -1, input.len())?;
    let dims = channel_dims(ctx, input, &axis)?;
    let channels = dims
        .first()
        .ok_or_else(|| ctx.shape_err("GroupNormalization needs a channel axis"))?
        .size;
    let groups = match ctx.value("groups").and_then(serde_json::Value::as_i64) {
        Some(-1) => channels,
        _ => ctx.positive_or("groups", 32)?,
    };
    if groups > channels || channels % groups != 0 {
        return Err(ctx.shape_err(format!(
            "{channels} channels cannot be split into {groups} groups"
        )));
    }
    let weights = scale_and_offset(
        &dims,
        ctx.bool_or("scale", true)?,
        ctx.bool_or("center", true)?,
    );
    Ok(Built::new(weights, input.clone()))
}
