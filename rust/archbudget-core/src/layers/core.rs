//! Core layers: Dense, EinsumDense, Embedding, PReLU, Normalization, Resizing, and the
//! weightless layers that return their input's shape (activations, dropout, noise).
use serde_json::Value;

use super::{Built, LayerCtx};
use crate::error::Result;
use crate::shape::Shape;
use crate::weight::{dim, Weight};

/// Activations, dropout, noise, masking, rescaling: no weights, output shape = input shape.
pub fn identity(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    Ok(Built::stateless(ctx.single(inputs)?.clone()))
}

/// Dense: `inputs @ kernel + bias` on the last axis.
/// Weights: kernel (last input dim × units), bias (units) when `use_bias`.
/// Output: the input shape with its last dimension replaced by `units`.
pub fn dense(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let input = ctx.single(inputs)?;
    let units = ctx.positive("units")?;
    let last = input
        .last()
        .copied()
        .ok_or_else(|| ctx.shape_err("Dense needs an input of rank ≥ 2"))?;
    let in_dim = ctx.known(last, "the last input dimension")?;
    let mut weights = vec![Weight::new(
        "kernel",
        vec![dim(in_dim, "inputs"), dim(units, "units")],
    )];
    if ctx.bool_or("use_bias", true)? {
        weights.push(Weight::new("bias", vec![dim(units, "biases")]));
    }
    let mut out = input.clone();
    *out.last_mut().expect("rank checked above") = Some(units);
    Ok(Built::new(weights, out))
}

/// EinsumDense: `einsum(equation, inputs, kernel) + bias`, Keras's
/// `_analyze_einsum_string`: the kernel takes each weight-spec letter's size from the
/// input or from `output_shape`; `...` elides leading or trailing axes.
pub fn einsum_dense(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let input = ctx.single(inputs)?;
    let equation = ctx.str_or("equation", "")?;
    let bad = || {
        ctx.err(format!(
            "'equation' must look like 'ab,bc->ac' (with optional ...), got '{equation}'"
        ))
    };
    let (lhs, output_spec) = equation.split_once("->").ok_or_else(bad)?;
    let (input_spec, weight_spec) = lhs.split_once(',').ok_or_else(bad)?;
    let left_elided = input_spec.starts_with("...");
    let right_elided = !left_elided && input_spec.ends_with("...");
    let strip = |s: &str| {
        s.trim_start_matches("...")
            .trim_end_matches("...")
            .to_string()
    };
    let (input_spec, weight_spec, output_spec) =
        (strip(input_spec), strip(weight_spec), strip(output_spec));
    let letters = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphabetic());
    if !(letters(&input_spec) && letters(&weight_spec) && letters(&output_spec)) {
        return Err(bad());
    }
    let configured: Vec<Option<u64>> = match ctx.value("output_shape") {
        Some(Value::Array(items)) => items.iter().map(super::positive_int).collect(),
        Some(v) => vec![super::positive_int(v)],
        None => Vec::new(),
    };
    let elided = input.len().checked_sub(input_spec.len()).ok_or_else(|| {
        ctx.shape_err(format!(
            "equation '{equation}' names more axes than the input's rank {}",
            input.len()
        ))
    })?;
    if elided > 0 && !(left_elided || right_elided) {
        return Err(ctx.shape_err(format!(
            "equation '{equation}' does not match an input of rank {}",
            input.len()
        )));
    }
    let mut output: Shape = vec![input[0]];
    output.extend(configured);
    if elided > 0 && left_elided {
        for &d in &input[1..elided] {
            output.insert(1, d);
        }
    } else if elided > 0 {
        output.extend_from_slice(&input[input.len() - elided..]);
    }
    // Keras indexes left-elided specs from the end, which lands on `i + elided` too.
    let offset = if left_elided { elided } else { 0 };
    let in_at = |c: char| input_spec.find(c).map(|i| i + offset);
    let out_at = |c: char| output_spec.find(c).map(|i| i + offset);
    let mut kernel = Vec::new();
    for c in weight_spec.chars() {
        let size = if let Some(i) = in_at(c) {
            input.get(i).copied().flatten()
        } else if let Some(i) = out_at(c) {
            output.get(i).copied().flatten()
        } else {
            return Err(ctx.shape_err(format!(
                "weight axis '{c}' of '{equation}' is in neither input nor output"
            )));
        };
        let size = ctx.known(size, &format!("kernel axis '{c}'"))?;
        kernel.push(dim(size, "axis"));
    }
    let mut weights = vec![Weight::new("kernel", kernel)];
    if let Some(bias_axes) = ctx.value("bias_axes").and_then(Value::as_str) {
        let mut bias = Vec::new();
        for c in bias_axes.chars() {
            let i = out_at(c)
                .ok_or_else(|| ctx.shape_err(format!("bias axis '{c}' is not an output axis")))?;
            bias.push(dim(
                ctx.known(
                    output.get(i).copied().flatten(),
                    &format!("bias axis '{c}'"),
                )?,
                "biases",
            ));
        }
        if !bias.is_empty() {
            weights.push(Weight::new("bias", bias));
        }
    }
    Ok(Built::new(weights, output))
}

/// Embedding: a lookup table. Weights: embeddings (input_dim × output_dim).
/// Output: the input shape followed by `output_dim`.
pub fn embedding(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let input = ctx.single(inputs)?;
    let vocab = ctx.positive("input_dim")?;
    let width = ctx.positive("output_dim")?;
    let mut out = input.clone();
    out.push(Some(width));
    Ok(Built::new(
        vec![Weight::new(
            "embeddings",
            vec![dim(vocab, "tokens"), dim(width, "dims")],
        )],
        out,
    ))
}

/// PReLU: one learned slope per input element, shared along `shared_axes`.
pub fn prelu(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let input = ctx.single(inputs)?;
    let shared: Vec<u64> = match ctx.value("shared_axes") {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_u64).collect(),
        Some(v) => v.as_u64().into_iter().collect(),
        None => Vec::new(),
    };
    let mut dims = Vec::new();
    for (i, d) in input.iter().enumerate().skip(1) {
        let size = if shared.contains(&(i as u64)) {
            1
        } else {
            ctx.known(*d, &format!("input axis {i}"))?
        };
        dims.push(dim(size, "slopes"));
    }
    Ok(Built::new(vec![Weight::new("alpha", dims)], input.clone()))
}

/// Normalization (preprocessing): when not given `mean`/`variance` it holds adapted
/// statistics as non-trainable weights: mean and variance over the kept axes, and a
/// scalar sample count.
pub fn normalization(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let input = ctx.single(inputs)?;
    if ctx.value("mean").is_some() && ctx.value("variance").is_some() {
        return Ok(Built::stateless(input.clone()));
    }
    let mut keep = ctx.axes("axis", -1, input.len())?;
    keep.sort_unstable();
    let stats = keep
        .iter()
        .map(|&a| {
            Ok(dim(
                ctx.known(input[a], &format!("input axis {a}"))?,
                "features",
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let weights = vec![
        Weight::new("mean", stats.clone()).frozen(),
        Weight::new("variance", stats).frozen(),
        Weight::new("count", vec![]).frozen(),
    ];
    Ok(Built::new(weights, input.clone()))
}

/// Resizing / CenterCrop / RandomCrop: the spatial size becomes `height × width`.
pub fn resizing(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let input = ctx.single(inputs)?;
    let (h, w) = (ctx.positive("height")?, ctx.positive("width")?);
    if input.len() < 3 {
        return Err(ctx.shape_err(format!(
            "{} needs an image input of rank ≥ 3",
            ctx.class_name
        )));
    }
    let mut out = input.clone();
    let n = out.len();
    let (hi, wi) = if ctx.channels_first()? {
        (n - 2, n - 1)
    } else {
        (n - 3, n - 2)
    };
    out[hi] = Some(h);
    out[wi] = Some(w);
    Ok(Built::stateless(out))
}
