//! Attention layers: MultiHeadAttention (Keras builds EinsumDense projections per
//! input), Attention (dot-product) and AdditiveAttention.
use serde_json::Value;

use super::{Built, LayerCtx};
use crate::error::Result;
use crate::shape::{format_shape, Shape};
use crate::weight::{dim, Dim, Weight};

/// MultiHeadAttention(query, value, key=value).
/// Weights: query and key kernels (features × heads × key_dim), value kernel (features ×
/// heads × value_dim), with `use_gate` a gate kernel (query features × heads × value_dim),
/// the output kernel (heads × value_dim × output features); biases of the same
/// head-shaped output when `use_bias`. Output: the query shape with its last axis the
/// `output_shape` (default: the query's last dimension).
pub fn multi_head_attention(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let (query, value) = match inputs {
        [q, v] | [q, v, _] => (q, v),
        _ => {
            return Err(ctx.shape_err(format!(
                "MultiHeadAttention takes query, value and an optional key, got {} inputs",
                inputs.len()
            )))
        }
    };
    let key = inputs.get(2).unwrap_or(value);
    if value.len() != key.len() || value[1..value.len() - 1] != key[1..key.len() - 1] {
        return Err(ctx.shape_err(format!(
            "value {} and key {} must agree on every axis but the last",
            format_shape(value),
            format_shape(key)
        )));
    }
    let heads = ctx.positive("num_heads")?;
    let key_dim = ctx.positive("key_dim")?;
    let value_dim = ctx.opt_positive("value_dim")?.unwrap_or(key_dim);
    let use_bias = ctx.bool_or("use_bias", true)?;
    let last = |s: &Shape, what: &str| ctx.known(s.last().copied().flatten(), what);
    let (q_in, k_in, v_in) = (
        last(query, "the query's last dimension")?,
        last(key, "the key's last dimension")?,
        last(value, "the value's last dimension")?,
    );
    let out_dims: Vec<u64> = match ctx.value("output_shape") {
        None => vec![q_in],
        Some(Value::Array(items)) => items
            .iter()
            .map(|x| {
                super::positive_int(x).ok_or_else(|| {
                    ctx.err(format!(
                        "'output_shape' must hold positive integers, got {x}"
                    ))
                })
            })
            .collect::<Result<_>>()?,
        Some(_) => vec![ctx.positive("output_shape")?],
    };
    let mut weights = Vec::new();
    let mut projection = |name: &str, features: u64, per_head: u64, label: &'static str| {
        weights.push(Weight::new(
            format!("{name}/kernel"),
            vec![
                dim(features, "features"),
                dim(heads, "heads"),
                dim(per_head, label),
            ],
        ));
        if use_bias {
            weights.push(Weight::new(
                format!("{name}/bias"),
                vec![dim(heads, "heads"), dim(per_head, label)],
            ));
        }
    };
    projection("query", q_in, key_dim, "key_dim");
    projection("key", k_in, key_dim, "key_dim");
    if ctx.bool_or("use_gate", false)? {
        projection("gate", q_in, value_dim, "value_dim");
    }
    projection("value", v_in, value_dim, "value_dim");
    let out: Vec<Dim> = out_dims.iter().map(|&d| dim(d, "outputs")).collect();
    let mut kernel = vec![dim(heads, "heads"), dim(value_dim, "value_dim")];
    kernel.extend(out.iter().cloned());
    weights.push(Weight::new("attention_output/kernel", kernel));
    if use_bias {
        weights.push(Weight::new("attention_output/bias", out));
    }
    let mut output: Shape = query[..query.len() - 1].to_vec();
    output.extend(out_dims.iter().map(|&d| Some(d)));
    let mut outputs = vec![output];
    if ctx.call_flag("return_attention_scores") {
        // Keras's `compute_output_spec` declares (batch, heads, query steps, query steps)
        // whatever the key's length or the attention axes.
        outputs.push(vec![query[0], Some(heads), query[1], query[1]]);
    }
    Ok(Built { weights, outputs })
}

/// Attention (Luong): a scalar `scale` with `use_scale`, a scalar concat weight with
/// `score_mode: concat`. Output: the query shape with the value's last dimension, and
/// with `return_attention_scores` the scores (batch…, query steps, key steps).
pub fn dot_attention(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let (query, value) = query_value(ctx, inputs)?;
    let mut weights = Vec::new();
    if ctx.bool_or("use_scale", false)? {
        weights.push(Weight::new("scale", vec![]));
    }
    if ctx.str_or("score_mode", "dot")? == "concat" {
        weights.push(Weight::new("concat_score_weight", vec![]));
    }
    Ok(Built {
        weights,
        outputs: attended(ctx, inputs, query, value),
    })
}

/// AdditiveAttention (Bahdanau): a `scale` vector of the feature size with `use_scale`.
/// Outputs as Attention's.
pub fn additive_attention(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let (query, value) = query_value(ctx, inputs)?;
    let mut weights = Vec::new();
    if ctx.bool_or("use_scale", true)? {
        let d = ctx.known(
            query.last().copied().flatten(),
            "the query's last dimension",
        )?;
        weights.push(Weight::new("scale", vec![dim(d, "features")]));
    }
    Ok(Built {
        weights,
        outputs: attended(ctx, inputs, query, value),
    })
}

fn query_value<'s>(ctx: &LayerCtx, inputs: &'s [Shape]) -> Result<(&'s Shape, &'s Shape)> {
    match inputs {
        [q, v] | [q, v, _] => Ok((q, v)),
        _ => Err(ctx.shape_err(format!(
            "{} takes [query, value] or [query, value, key], got {} inputs",
            ctx.class_name,
            inputs.len()
        ))),
    }
}

/// Keras's `compute_output_spec`: the query with the value's last dimension, then the
/// scores (query axes but the last, and the key's steps) when the call asks for them.
fn attended(ctx: &LayerCtx, inputs: &[Shape], query: &Shape, value: &Shape) -> Vec<Shape> {
    let mut out = query.clone();
    if let (Some(o), Some(v)) = (out.last_mut(), value.last()) {
        *o = *v;
    }
    let mut outputs = vec![out];
    if ctx.call_flag("return_attention_scores") {
        let key = inputs.get(2).unwrap_or(value);
        let mut scores = query[..query.len().saturating_sub(1)].to_vec();
        scores.push(key.len().checked_sub(2).and_then(|i| key[i]));
        outputs.push(scores);
    }
    outputs
}
