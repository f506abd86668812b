//! What the newer decoder types (`arch::BlockDetails`) add to the transformers lowering
//! of `hf`: the declarative types' dropouts, q/k norms, per-layer rotary and NoPE
//! layers, the masks of windowed layers and their generate-mode cache.
//!
//! Sliding and chunked layers (transformers 5 `masking_utils`): with SDPA the mask is
//! skipped while the sequence fits in the window (`is_causal`), else one batch×1×S×S
//! bool mask is built per forward and handed to every windowed layer (SDPA then runs
//! without FlashAttention); eager attention adds a float mask of that shape, one for the
//! full layers and one for the windowed ones.
use super::graph::{CacheGrowth, DType, Graph, ValueId};
use super::hf::Dropouts;
use super::ops::*;
use super::{mul, Result};
use crate::arch::{LayerAttention, NormKind, QkNorm, QkNormKind, TransformerArch};
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
        ..Dropouts::default()
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
    let Some(QkNorm {
        kind: QkNormKind::Learned(kind),
        q_width,
        k_width,
        ..
    }) = a.details.qk_norm
    else {
        return Ok((q, k));
    };
    let norm = |g: &mut Graph, x: ValueId, heads: u64, width: u64| -> Result<ValueId> {
        let numel = mul(mul(tokens, heads)?, a.head_dim)?;
        Ok(g.push(norm_op(kind, numel / width, width), &[x]))
    };
    Ok((
        norm(g, q, a.num_heads, q_width)?,
        norm(g, k, a.num_kv_heads, k_width)?,
    ))
}

/// The mask the windowed (sliding or chunked) layers share, made once per forward
/// (`create_sliding_window_causal_mask` / `create_chunked_causal_mask`): eager attention
/// always materialises it in the model's dtype (`eager_mask` never skips), SDPA builds a
/// bool one only when the sequence is longer than a window (else `is_causal` serves).
pub(super) fn window_mask(
    g: &mut Graph,
    a: &TransformerArch,
    batch: u64,
    seq: u64,
    eager: bool,
) -> Result<Option<ValueId>> {
    let mut windows = a.details.layers.iter().filter_map(|l| l.span.window());
    let needed = match eager {
        true => windows.next().is_some(),
        false => windows.any(|w| w < seq),
    };
    if !needed {
        return Ok(None);
    }
    let dtype = (!eager).then_some(DType::Bool);
    Ok(Some(g.push(
        Op::Fill(Fill {
            numel: mul(mul(batch, seq)?, seq)?,
            dtype,
            buffer: None,
        }),
        &[],
    )))
}

/// The mask layer `kind` attends with: the windowed layers' one where it was made,
/// else the model's causal mask (if any).
pub(super) fn layer_mask(
    kind: LayerAttention,
    causal: Option<ValueId>,
    windowed: Option<ValueId>,
) -> Option<ValueId> {
    match kind.span.window() {
        Some(_) if windowed.is_some() => windowed,
        _ => causal,
    }
}

/// Rotary embeddings on q and k where layer `kind` applies them, then llama4's L2
/// qk-norm; on its NoPE layers q times a per-position temperature (fp32, no grad).
#[allow(clippy::too_many_arguments)]
pub(super) fn position_qk(
    g: &mut Graph,
    a: &TransformerArch,
    kind: LayerAttention,
    cos_sin: Option<(ValueId, ValueId)>,
    tokens: u64,
    seq: u64,
    q: ValueId,
    k: ValueId,
) -> Result<(ValueId, ValueId)> {
    let l2 = a.details.qk_norm.is_some_and(|n| n.kind == QkNormKind::L2);
    match cos_sin {
        Some((cos, sin)) if kind.rotary => {
            let q = g.push(Op::Rotary(Rotary), &[q, cos, sin]);
            let k = g.push(Op::Rotary(Rotary), &[k, cos, sin]);
            if !l2 {
                return Ok((q, k));
            }
            let norm = |g: &mut Graph, x: ValueId, heads: u64| -> Result<ValueId> {
                let op = FusedRmsNorm {
                    rows: mul(tokens, heads)?,
                    dim: a.head_dim,
                    weight: false,
                };
                Ok(g.push(Op::FusedRmsNorm(op), &[x]))
            };
            Ok((norm(g, q, a.num_heads)?, norm(g, k, a.num_kv_heads)?))
        }
        _ if a.details.nope_temperature && !kind.rotary => {
            let scales = g.push(
                Op::Fill(Fill {
                    numel: seq,
                    dtype: Some(DType::F32),
                    buffer: None,
                }),
                &[],
            );
            Ok((g.push(Op::Mul(Mul), &[q, scales]), k))
        }
        _ => Ok((q, k)),
    }
}

/// Copies of a layer's cache tensors (`DynamicCache.update`), kept for the whole
/// forward; a sliding or chunked layer's stop growing at its window in generation.
pub(super) fn hold_kv_cache(g: &mut Graph, kind: LayerAttention, tensors: [ValueId; 2]) {
    let held = tensors.map(|t| g.push(Op::Copy(Copy::default()), &[t]));
    g.forward_held.extend(held);
    if let Some(w) = kind.span.window() {
        g.held_caches
            .extend(held.map(|h| (h, CacheGrowth::Window(w))));
    }
}
