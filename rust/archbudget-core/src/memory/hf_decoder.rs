//! What the declarative decoder types (`formats::hf::spec`) add to the transformers
//! lowering of `hf`: their dropouts, q/k norms, and the masks of sliding-window layers.
//!
//! Sliding layers (transformers 5 `masking_utils.create_sliding_window_causal_mask`):
//! with SDPA the mask is skipped while the sequence fits in the window (`is_causal`),
//! else one batch×1×S×S bool mask is built per forward and handed to every sliding
//! layer (SDPA then runs without FlashAttention); eager attention adds a float mask of
//! that shape, one for the full layers and one for the sliding ones.
use super::graph::{DType, Graph, ValueId};
use super::hf::Dropouts;
use super::ops::*;
use super::{mul, Result, RunSettings};
use crate::arch::{LayerAttention, NormKind, TransformerArch};
use crate::formats::hf::spec::TypeSpec;

/// The dropout probabilities a spec names, with its defaults.
pub(super) fn dropouts(spec: &TypeSpec, cfg: &serde_json::Value) -> Dropouts {
    let read = |key: Option<(&str, f64)>| {
        key.map_or(0.0, |(k, d)| {
            cfg.get(k).and_then(|v| v.as_f64()).unwrap_or(d)
        })
    };
    Dropouts {
        embed: read(spec.dropout.embed),
        attn: read(spec.dropout.attn),
        resid: read(spec.dropout.resid),
    }
}

/// A norm module of `kind` over `rows` × `dim` (its weight has `dim` elements).
pub(super) fn norm_op(kind: NormKind, rows: u64, dim: u64) -> Op {
    match kind {
        NormKind::RmsNorm => Op::RmsNorm(RmsNorm {
            rows,
            dim,
            keeps_input: false,
        }),
        NormKind::LayerNorm { bias } => Op::LayerNorm(LayerNorm {
            rows,
            dim,
            weight: true,
            bias,
        }),
        NormKind::LayerNormNoAffine => Op::LayerNorm(LayerNorm {
            rows,
            dim,
            weight: false,
            bias: false,
        }),
    }
}

/// The q/k norms on the projections `q` (`tokens` × heads × head_dim) and `k`; a norm
/// whose weight covers several heads (`q_width` > `dim`) is lowered as one norm of
/// that width, the same weights, bytes and outputs.
pub(super) fn qk_norm(
    g: &mut Graph,
    a: &TransformerArch,
    tokens: u64,
    q: ValueId,
    k: ValueId,
) -> Result<(ValueId, ValueId)> {
    let Some(n) = a.details.qk_norm else {
        return Ok((q, k));
    };
    let norm = |g: &mut Graph, x: ValueId, heads: u64, width: u64| -> Result<ValueId> {
        let numel = mul(mul(tokens, heads)?, a.head_dim)?;
        Ok(g.push(norm_op(n.kind, numel / width, width), &[x]))
    };
    Ok((
        norm(g, q, a.num_heads, n.q_width)?,
        norm(g, k, a.num_kv_heads, n.k_width)?,
    ))
}

/// The mask every sliding layer shares, when any layer's window is shorter than the
/// sequence: bool for SDPA, the model's dtype for eager attention.
pub(super) fn sliding_mask(
    g: &mut Graph,
    a: &TransformerArch,
    run: &RunSettings,
    batch: u64,
    seq: u64,
) -> Result<Option<ValueId>> {
    let masked = a
        .details
        .layers
        .iter()
        .any(|l| l.window.is_some_and(|w| seq > w));
    if !masked {
        return Ok(None);
    }
    let dtype = (run.attn == AttnImpl::Sdpa).then_some(DType::Bool);
    Ok(Some(g.push(
        Op::Fill(Fill {
            numel: mul(mul(batch, seq)?, seq)?,
            dtype,
            buffer: None,
        }),
        &[],
    )))
}

/// The mask layer `kind` attends with: the sliding one where its window is shorter
/// than the sequence, else the model's causal mask (if any).
pub(super) fn layer_mask(
    kind: LayerAttention,
    seq: u64,
    causal: Option<ValueId>,
    sliding: Option<ValueId>,
) -> Option<ValueId> {
    match kind.window {
        Some(w) if seq > w => sliding,
        _ => causal,
    }
}
