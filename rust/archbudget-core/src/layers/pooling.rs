//! Pooling: no weights; windows follow Keras's `compute_pooling_output_shape`.
use super::conv::{spatial_rank, Image};
use super::{Built, LayerCtx};
use crate::error::Result;
use crate::shape::Shape;

/// Max/AveragePooling1D/2D/3D. `strides` defaults to `pool_size`.
pub fn pool(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let rank = spatial_rank(ctx.class_name);
    let image = Image::of(ctx, ctx.single(inputs)?, rank)?;
    let size = ctx.tuple_or("pool_size", rank, 2)?;
    let strides = match ctx.value("strides") {
        None => size.clone(),
        Some(_) => ctx.tuple("strides", rank)?,
    };
    let padding = ctx.str_or("padding", "valid")?;
    let spatial = (0..rank)
        .map(|i| super::conv::conv_length(ctx, image.spatial[i], size[i], strides[i], 1, padding))
        .collect::<Result<Vec<_>>>()?;
    Ok(Built::stateless(image.shape(spatial, image.channels)))
}

/// GlobalMax/AveragePooling1D/2D/3D: the spatial axes vanish (or become 1 with `keepdims`).
pub fn global_pool(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let rank = spatial_rank(ctx.class_name);
    let image = Image::of(ctx, ctx.single(inputs)?, rank)?;
    let out = if ctx.bool_or("keepdims", false)? {
        image.shape(vec![Some(1); rank], image.channels)
    } else {
        vec![image.batch, image.channels]
    };
    Ok(Built::stateless(out))
}
