//! Custom layers that `keras.applications` (and KerasHub) models define and serialize.
use super::{Built, LayerCtx};
use crate::error::Result;
use crate::shape::Shape;
use crate::weight::{dim, Weight};

/// ConvNeXt's LayerScale: one learned scale per channel (`projection_dim`).
pub fn layer_scale(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let input = ctx.single(inputs)?;
    let channels = ctx.positive("projection_dim")?;
    Ok(Built::new(
        vec![Weight::new("gamma", vec![dim(channels, "channels")])],
        input.clone(),
    ))
}

/// KerasHub HGNetV2's HGNetV2LearnableAffineBlock: `scale * x + bias`, two learned
/// scalars.
pub fn learnable_affine(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let input = ctx.single(inputs)?;
    Ok(Built::new(
        vec![Weight::new("scale", vec![]), Weight::new("bias", vec![])],
        input.clone(),
    ))
}

/// InceptionResNetV2's CustomScaleLayer: `inputs[0] + inputs[1] * scale`, no weights.
pub fn custom_scale(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    match inputs {
        [a, _] => Ok(Built::stateless(a.clone())),
        _ => Err(ctx.shape_err(format!(
            "CustomScaleLayer takes 2 inputs, got {}",
            inputs.len()
        ))),
    }
}
