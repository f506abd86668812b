//! MultiHeadAttention and dot-product Attention around
//! `scaled_dot_product_attention`.
use serde_json::Value;

use super::super::graph::{Graph, ValueId};
use super::super::ops::*;
use super::super::{mul, Result};
use super::site::Site;
use crate::shape::Shape;

/// MultiHeadAttention as a PyTorch user writes it: q, k, v projections (`nn.Linear`,
/// heads·key_dim features for q and k, heads·value_dim for v),
/// `scaled_dot_product_attention` over the heads (value heads of value_dim), and the
/// output projection from heads·value_dim; `use_gate` multiplies the attention by a
/// sigmoid gate, a fourth projection of the query. Inputs: query, value, and key
/// (default: value); self-attention passes one tensor as all three.
pub(super) fn multi_head_attention(g: &mut Graph, s: &Site, inputs: &[ValueId]) -> Result<ValueId> {
    let heads = s.u64_of("num_heads")?;
    let key_dim = s.u64_of("key_dim")?;
    let value_dim = s
        .cfg
        .get("value_dim")
        .and_then(Value::as_u64)
        .unwrap_or(key_dim);
    let q_shape = s.input(0)?;
    // Keras records the default axes once built: every axis between batch and features.
    let default_axes: Vec<Value> = (1..q_shape.len().saturating_sub(1))
        .map(Value::from)
        .collect();
    let axes = s.cfg.get("attention_axes");
    if axes.is_some_and(|a| !a.is_null() && a.as_array() != Some(&default_axes)) {
        return Err(s.unsupported("with attention_axes"));
    }
    if s.cfg.get("sliding_window").is_some_and(|w| !w.is_null()) {
        return Err(s.unsupported("with sliding_window"));
    }
    let b = s.batch;
    let bias = s.bool_of("use_bias", true);
    let v_shape = s.ins.get(1).unwrap_or(q_shape);
    let k_shape = s.ins.get(2).unwrap_or(v_shape);
    let (q_in, v_in) = (inputs[0], *inputs.get(1).unwrap_or(&inputs[0]));
    let k_in = *inputs.get(2).unwrap_or(&v_in);
    let (qk_proj, v_proj) = (mul(heads, key_dim)?, mul(heads, value_dim)?);
    let linear = |g: &mut Graph,
                  shape: &Shape,
                  x: ValueId,
                  in_features: u64,
                  out_features: u64|
     -> Result<(ValueId, u64)> {
        let rows = s.numel(shape)? / in_features.max(1);
        let op = Op::Linear(Linear::new(rows, in_features, out_features, bias));
        Ok((g.push(op, &[x]), rows / b.max(1)))
    };
    // use_gate: sigmoid(Linear(query)), heads·value_dim features, gates the attention
    let gate = if s.bool_of("use_gate", false) {
        let (gate, _) = linear(g, q_shape, q_in, s.last(q_shape)?, v_proj)?;
        Some(g.push(
            Op::Act(Act {
                kind: ActKind::Tanh,
            }),
            &[gate],
        ))
    } else {
        None
    };
    let (q, q_len) = linear(g, q_shape, q_in, s.last(q_shape)?, qk_proj)?;
    let (k, kv_len) = linear(g, k_shape, k_in, s.last(k_shape)?, qk_proj)?;
    let (v, _) = linear(g, v_shape, v_in, s.last(v_shape)?, v_proj)?;
    let att = g.push(
        Op::Attention(Attention {
            v_head_dim: value_dim,
            ..Attention::plain(b, heads, q_len, kv_len, key_dim, s.f64_of("dropout", 0.0))
        }),
        &[q, k, v],
    );
    let att = match gate {
        Some(gate) => g.push(Op::Mul(Mul), &[att, gate]),
        None => att,
    };
    Ok(g.push(
        Op::Linear(Linear::new(mul(b, q_len)?, v_proj, s.last(s.out)?, bias)),
        &[att],
    ))
}

/// Attention (Luong-style): softmax(q·kᵀ)·v as SDPA with one head and scale=1; use_scale's
/// learnt scalar multiplies q first (`q * scale`), the same scores.
pub(super) fn dot_attention(g: &mut Graph, s: &Site, inputs: &[ValueId]) -> Result<ValueId> {
    let b = s.batch;
    if !matches!(s.str_of("score_mode"), "dot" | "") {
        return Err(s.unsupported("with score_mode 'concat'"));
    }
    let (q, v) = (s.input(0)?, s.input(1)?);
    let d = s.last(q)?;
    let q_len = s.numel(q)? / mul(b, d)?.max(1);
    let kv_len = s.numel(v)? / mul(b, s.last(v)?)?.max(1);
    let key = *inputs.get(2).unwrap_or(&inputs[1]);
    let query = if s.bool_of("use_scale", false) {
        g.push(Op::Scale(Scale { numel: 1 }), &inputs[..1])
    } else {
        inputs[0]
    };
    Ok(g.push(
        Op::Attention(Attention {
            v_head_dim: s.last(v)?,
            ..Attention::plain(b, 1, q_len, kv_len, d, s.f64_of("dropout", 0.0))
        }),
        &[query, key, inputs[1]],
    ))
}
