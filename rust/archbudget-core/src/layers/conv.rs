//! Convolutions: Conv1D/2D/3D, their transposes, depthwise and separable variants.
//! Output sizes follow Keras's `compute_conv_output_shape` and `deconv_output_length`.
use serde_json::Value;

use super::{Built, LayerCtx};
use crate::error::{Error, Result};
use crate::shape::Shape;
use crate::weight::{dim, Dim, Weight};

/// Number of spatial dimensions from the class name (`Conv2D` → 2).
pub fn spatial_rank(class_name: &str) -> usize {
    if class_name.contains("1D") {
        1
    } else if class_name.contains("3D") {
        3
    } else {
        2
    }
}

/// An input split into batch, spatial dims and channels, per `data_format`.
pub struct Image {
    pub batch: Option<u64>,
    pub spatial: Vec<Option<u64>>,
    pub channels: Option<u64>,
    pub channels_first: bool,
}

impl Image {
    pub fn of(ctx: &LayerCtx, input: &Shape, rank: usize) -> Result<Image> {
        if input.len() != rank + 2 {
            return Err(ctx.shape_err(format!(
                "{} expects an input of rank {}, got {} ({})",
                ctx.class_name,
                rank + 2,
                input.len(),
                crate::shape::format_shape(input)
            )));
        }
        let channels_first = ctx.channels_first()?;
        let (spatial, channels) = if channels_first {
            (input[2..].to_vec(), input[1])
        } else {
            (input[1..=rank].to_vec(), input[rank + 1])
        };
        Ok(Image {
            batch: input[0],
            spatial,
            channels,
            channels_first,
        })
    }

    pub fn shape(&self, spatial: Vec<Option<u64>>, channels: Option<u64>) -> Shape {
        let mut out = vec![self.batch];
        if self.channels_first {
            out.push(channels);
            out.extend(spatial);
        } else {
            out.extend(spatial);
            out.push(channels);
        }
        out
    }
}

/// Keras `compute_conv_output_shape` for one spatial axis.
pub fn conv_length(
    ctx: &LayerCtx,
    n: Option<u64>,
    k: u64,
    stride: u64,
    dilation: u64,
    padding: &str,
) -> Result<Option<u64>> {
    let Some(n) = n else { return Ok(None) };
    let out = match padding {
        "valid" => {
            let span = dilation.saturating_mul(k - 1).saturating_add(1);
            if n < span {
                return Err(ctx.shape_err(format!(
                    "kernel {k} (dilation {dilation}) does not fit an input of size {n} with padding 'valid'"
                )));
            }
            (n - span) / stride + 1
        }
        "same" | "causal" => (n - 1) / stride + 1,
        other => {
            return Err(ctx.err(format!(
                "'padding' must be valid, same or causal, got '{other}'"
            )))
        }
    };
    Ok(Some(out))
}

struct Window {
    kernel: Vec<u64>,
    strides: Vec<u64>,
    dilation: Vec<u64>,
}

fn window(ctx: &LayerCtx, rank: usize) -> Result<Window> {
    Ok(Window {
        kernel: ctx.tuple("kernel_size", rank)?,
        strides: ctx.tuple_or("strides", rank, 1)?,
        dilation: ctx.tuple_or("dilation_rate", rank, 1)?,
    })
}

fn spatial_out(
    ctx: &LayerCtx,
    image: &Image,
    w: &Window,
    padding: &str,
) -> Result<Vec<Option<u64>>> {
    (0..w.kernel.len())
        .map(|i| {
            conv_length(
                ctx,
                image.spatial[i],
                w.kernel[i],
                w.strides[i],
                w.dilation[i],
                padding,
            )
        })
        .collect()
}

fn kernel_dims(kernel: &[u64]) -> Vec<Dim> {
    const LABELS: [&str; 3] = ["kh", "kw", "kd"];
    let labels: &[&str] = if kernel.len() == 1 { &["k"] } else { &LABELS };
    kernel
        .iter()
        .zip(labels)
        .map(|(&k, &l)| dim(k, l))
        .collect()
}

fn bias(ctx: &LayerCtx, size: u64) -> Result<Option<Weight>> {
    Ok(ctx
        .bool_or("use_bias", true)?
        .then(|| Weight::new("bias", vec![dim(size, "biases")])))
}

/// Conv1D/2D/3D. Weights: kernel (k… × in_channels/groups × filters), bias (filters).
pub fn conv(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let rank = spatial_rank(ctx.class_name);
    let image = Image::of(ctx, ctx.single(inputs)?, rank)?;
    let filters = ctx.positive("filters")?;
    let groups = ctx.positive_or("groups", 1)?;
    let w = window(ctx, rank)?;
    let padding = ctx.str_or("padding", "valid")?;
    let in_ch = ctx.known(image.channels, "the channel dimension")?;
    if in_ch % groups != 0 || filters % groups != 0 {
        return Err(ctx.shape_err(format!(
            "{in_ch} input channels and {filters} filters must both divide into {groups} groups"
        )));
    }
    let mut dims = kernel_dims(&w.kernel);
    dims.push(dim(in_ch / groups, "in_channels"));
    dims.push(dim(filters, "filters"));
    let mut weights = vec![Weight::new("kernel", dims)];
    weights.extend(bias(ctx, filters)?);
    let out = image.shape(spatial_out(ctx, &image, &w, padding)?, Some(filters));
    Ok(Built::new(weights, out))
}

/// Keras `deconv_output_length`; `None` when the result does not fit in 64 bits.
fn deconv_length(
    n: u64,
    k: u64,
    stride: u64,
    dilation: u64,
    padding: &str,
    output_padding: Option<u64>,
) -> Option<u64> {
    let k = (k - 1).checked_mul(dilation - 1)?.checked_add(k)?;
    Some(match output_padding {
        None if padding == "valid" => n
            .checked_mul(stride)?
            .checked_add(k.saturating_sub(stride))?,
        None => n.checked_mul(stride)?,
        Some(op) => {
            let pad = if padding == "same" { k / 2 } else { 0 };
            (n - 1)
                .checked_mul(stride)?
                .checked_add(k)?
                .checked_add(op)?
                .saturating_sub(2 * pad)
        }
    })
}

/// Conv1D/2D/3DTranspose. Weights: kernel (k… × filters × in_channels), bias (filters).
pub fn conv_transpose(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let rank = spatial_rank(ctx.class_name);
    let image = Image::of(ctx, ctx.single(inputs)?, rank)?;
    let filters = ctx.positive("filters")?;
    let w = window(ctx, rank)?;
    let padding = ctx.str_or("padding", "valid")?;
    if padding != "valid" && padding != "same" {
        return Err(ctx.err(format!("'padding' must be valid or same, got '{padding}'")));
    }
    let output_padding: Vec<Option<u64>> = match ctx.value("output_padding") {
        None => vec![None; rank],
        Some(Value::Array(items)) if items.len() == rank => {
            items.iter().map(Value::as_u64).collect()
        }
        Some(v) => vec![v.as_u64(); rank],
    };
    let in_ch = ctx.known(image.channels, "the channel dimension")?;
    let mut dims = kernel_dims(&w.kernel);
    dims.push(dim(filters, "filters"));
    dims.push(dim(in_ch, "in_channels"));
    let mut weights = vec![Weight::new("kernel", dims)];
    weights.extend(bias(ctx, filters)?);
    let spatial = (0..rank)
        .map(|i| match image.spatial[i] {
            None => Ok(None),
            Some(n) => deconv_length(
                n,
                w.kernel[i],
                w.strides[i],
                w.dilation[i],
                padding,
                output_padding[i],
            )
            .map(Some)
            .ok_or_else(|| Error::overflow(&ctx.location, "the output length")),
        })
        .collect::<Result<_>>()?;
    Ok(Built::new(weights, image.shape(spatial, Some(filters))))
}

/// DepthwiseConv1D/2D. Weights: depthwise_kernel (k… × in_channels × depth_multiplier),
/// bias (in_channels × depth_multiplier).
pub fn depthwise(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let rank = spatial_rank(ctx.class_name);
    let image = Image::of(ctx, ctx.single(inputs)?, rank)?;
    let multiplier = ctx.positive_or("depth_multiplier", 1)?;
    let w = window(ctx, rank)?;
    let padding = ctx.str_or("padding", "valid")?;
    let in_ch = ctx.known(image.channels, "the channel dimension")?;
    let out_ch = crate::error::mul(in_ch, multiplier, &ctx.location, "output channels")?;
    let mut dims = kernel_dims(&w.kernel);
    dims.push(dim(in_ch, "in_channels"));
    dims.push(dim(multiplier, "depth_multiplier"));
    let mut weights = vec![Weight::new("depthwise_kernel", dims)];
    weights.extend(bias(ctx, out_ch)?);
    Ok(Built::new(
        weights,
        image.shape(spatial_out(ctx, &image, &w, padding)?, Some(out_ch)),
    ))
}

/// SeparableConv1D/2D: a depthwise kernel (k… × in_channels × depth_multiplier), a
/// pointwise kernel (1… × in_channels·depth_multiplier × filters), bias (filters).
pub fn separable(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let rank = spatial_rank(ctx.class_name);
    let image = Image::of(ctx, ctx.single(inputs)?, rank)?;
    let multiplier = ctx.positive_or("depth_multiplier", 1)?;
    let filters = ctx.positive("filters")?;
    let w = window(ctx, rank)?;
    let padding = ctx.str_or("padding", "valid")?;
    let in_ch = ctx.known(image.channels, "the channel dimension")?;
    let mut depthwise = kernel_dims(&w.kernel);
    depthwise.push(dim(in_ch, "in_channels"));
    depthwise.push(dim(multiplier, "depth_multiplier"));
    let mut pointwise = kernel_dims(&vec![1; rank]);
    pointwise.push(dim(
        crate::error::mul(in_ch, multiplier, &ctx.location, "channels")?,
        "channels",
    ));
    pointwise.push(dim(filters, "filters"));
    let mut weights = vec![
        Weight::new("depthwise_kernel", depthwise),
        Weight::new("pointwise_kernel", pointwise),
    ];
    weights.extend(bias(ctx, filters)?);
    Ok(Built::new(
        weights,
        image.shape(spatial_out(ctx, &image, &w, padding)?, Some(filters)),
    ))
}
