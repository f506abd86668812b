//! What Gemma 3n's and Gemma 4's text models run alike (transformers 5.24's
//! `modeling_gemma4.py` takes these parts from `modeling_gemma3n.py`): the scalar buffers
//! and elementwise products, the rotary tables, attention with q/k norms and a scale-free
//! v norm whose KV-shared layers reuse an earlier layer's k and v, the per-layer input
//! gate, and the soft-capped LM head with its loss.
use super::graph::{DType, Graph, ValueId};
use super::hf_decoder::{hold_kv_cache, norm_op};
use super::ops::*;
use super::{add, mul, Result, RunSettings};
use crate::arch::{HeadKind, TransformerArch};

/// A layer's k and v (after their norms and rotation).
pub(super) type KeyValue = (ValueId, ValueId);

/// A linear layer over `rows` rows.
pub(super) fn linear(rows: u64, in_features: u64, out_features: u64, bias: bool) -> Op {
    Op::Linear(Linear {
        rows,
        in_features,
        out_features,
        bias,
        tied_weight: false,
    })
}

/// A scalar buffer (`embed_scale`, `layer_scalar`, `router_input_scale`, ...) read by an op.
pub(super) fn scalar_buffer(g: &mut Graph) {
    g.push(
        Op::Fill(Fill {
            numel: 1,
            dtype: None,
            buffer: Some((1, DType::F32)),
        }),
        &[],
    );
}

/// `tensor * scalar` and such: a new tensor of the input's size, nothing saved.
pub(super) fn elementwise(g: &mut Graph, x: ValueId) -> ValueId {
    g.push(Op::Add(Add), &[x])
}

/// The causal mask eager attention reads (SDPA builds none).
pub(super) fn causal_mask(
    g: &mut Graph,
    rows: u64,
    seq: u64,
    eager: bool,
) -> Result<Option<ValueId>> {
    let numel = mul(rows, seq)?;
    Ok(eager.then(|| {
        g.push(
            Op::Fill(Fill {
                numel,
                dtype: None,
                buffer: None,
            }),
            &[],
        )
    }))
}

/// The cos and sin tables of one kind of layer, at its head dim (an `inv_freq` buffer each).
pub(super) fn rotary_tables(g: &mut Graph, seq: u64, head_dim: u64) -> Result<(ValueId, ValueId)> {
    let numel = mul(seq, head_dim)?;
    let mut table = || {
        g.push(
            Op::Fill(Fill {
                numel,
                dtype: None,
                buffer: Some((head_dim / 2, DType::F32)),
            }),
            &[],
        )
    };
    Ok((table(), table()))
}

/// What one layer's attention is, beside the model's `TransformerArch`.
pub(super) struct AttentionAt {
    pub layer: u64,
    pub head_dim: u64,
    pub kv_heads: u64,
    pub value: ValueProjection,
    pub causal: bool,
    pub eager: bool,
    /// Only the eager path computes it (keras-hub's soft-capped scores).
    pub eager_only: bool,
    pub use_cache: bool,
    pub dropout: f64,
    pub cos_sin: (ValueId, ValueId),
    pub mask: Option<ValueId>,
    /// The k and v a KV-shared layer reuses.
    pub source: Option<KeyValue>,
}

/// Where v comes from, in the order the model runs it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum ValueProjection {
    /// `v_proj` after k's projection, norm and rotation (gemma3n).
    AfterKey,
    /// `v_proj` right after `k_proj`, before their norms (gemma4).
    BesideKey,
    /// No `v_proj`: k's projection is normed as v (gemma4's k=v layers).
    KeyProjection,
}

/// A layer's attention through `o_proj` on `x`, and the k and v it made: q always; k and
/// v (with their norms and the cache copies) only where the layer reads no source's.
/// `before_attention` runs between the projections and the attention (gemma3n's
/// never-run k/v weights of keras-hub's shared layers).
pub(super) fn attention(
    g: &mut Graph,
    a: &TransformerArch,
    run: &RunSettings,
    x: ValueId,
    at: &AttentionAt,
    before_attention: impl FnOnce(&mut Graph) -> Result<()>,
) -> Result<(ValueId, Option<KeyValue>)> {
    let rows = mul(run.batch, run.seq)?;
    let (h, hd, kv_heads) = (a.hidden_size, at.head_dim, at.kv_heads);
    let qd = mul(a.num_heads, hd)?;
    let kvd = mul(kv_heads, hd)?;
    let (cos, sin) = at.cos_sin;
    let q = g.push(linear(rows, h, qd, a.qkv_bias), &[x]);
    let q = g.push(norm_op(a.norm, mul(rows, a.num_heads)?, hd), &[q]);
    let q = g.push(Op::Rotary(Rotary), &[q, cos, sin]);
    let (k, v, made) = match at.source {
        Some((k, v)) => (k, v, None),
        None => {
            let v_proj = |g: &mut Graph| g.push(linear(rows, h, kvd, a.qkv_bias), &[x]);
            let raw_k = g.push(linear(rows, h, kvd, a.qkv_bias), &[x]);
            let beside = match at.value {
                ValueProjection::BesideKey => Some(v_proj(g)),
                ValueProjection::KeyProjection => Some(raw_k),
                ValueProjection::AfterKey => None,
            };
            let k = g.push(norm_op(a.norm, mul(rows, kv_heads)?, hd), &[raw_k]);
            let k = g.push(Op::Rotary(Rotary), &[k, cos, sin]);
            let raw_v = match beside {
                Some(v) => v,
                None => v_proj(g),
            };
            let v = g.push(
                Op::FusedRmsNorm(FusedRmsNorm {
                    rows: mul(rows, kv_heads)?,
                    dim: hd,
                    weight: false,
                }),
                &[raw_v],
            );
            if at.use_cache {
                hold_kv_cache(g, a.layer_attention(at.layer), [k, v]);
            }
            (k, v, Some((k, v)))
        }
    };
    before_attention(g)?;
    let mut ins = vec![q, k, v];
    ins.extend(at.mask);
    let att = g.push(
        Op::Attention(Attention {
            batch: run.batch,
            heads: a.num_heads,
            kv_heads,
            q_len: run.seq,
            kv_len: run.seq,
            head_dim: hd,
            v_head_dim: hd,
            causal: at.causal,
            dropout: at.dropout,
            eager_mask: at.eager && at.mask.is_some(),
            softmax_fp32: true,
            fused_qkv: false,
            score_bias: false,
            sinks: false,
            eager_only: at.eager_only,
        }),
        &ins,
    );
    Ok((g.push(linear(rows, qd, h, a.o_bias), &[att]), made))
}

/// The per-layer input gate on `x`: `per_layer_input_gate`, the activation, the product
/// with the layer's slice of the per-layer inputs, `per_layer_projection` and its norm.
pub(super) fn per_layer_gate(
    g: &mut Graph,
    a: &TransformerArch,
    act: ActKind,
    rows: u64,
    width: u64,
    x: ValueId,
    per_layer_input: ValueId,
) -> ValueId {
    let h = a.hidden_size;
    let gate = g.push(linear(rows, h, width, false), &[x]);
    let gate = g.push(Op::Act(Act { kind: act }), &[gate]);
    let gate = g.push(Op::Mul(Mul), &[gate, per_layer_input]);
    let projected = g.push(linear(rows, width, h, false), &[gate]);
    g.push(norm_op(a.norm, rows, h), &[projected])
}

/// The LM head with its soft cap (divide, tanh, multiply) and the causal-LM loss, or the
/// base model's stand-in loss.
pub(super) fn head(
    g: &mut Graph,
    a: &TransformerArch,
    run: &RunSettings,
    logit_softcap: bool,
    h: ValueId,
    ids: ValueId,
) -> Result<()> {
    let rows = mul(run.batch, run.seq)?;
    match a.head {
        HeadKind::CausalLm => {
            let mut logits = g.push(
                Op::Linear(Linear {
                    rows,
                    in_features: a.hidden_size,
                    out_features: a.vocab_size,
                    bias: false,
                    tied_weight: a.tie_word_embeddings,
                }),
                &[h],
            );
            if logit_softcap {
                let divided = elementwise(g, logits);
                let t = g.push(
                    Op::Act(Act {
                        kind: ActKind::Tanh,
                    }),
                    &[divided],
                );
                logits = elementwise(g, t);
            }
            let lf = g.push(Op::Cast(Cast { to: DType::F32 }), &[logits]);
            g.push(
                Op::CrossEntropy(CrossEntropy {
                    rows,
                    classes: a.vocab_size,
                    label_copies: vec![mul(run.batch, add(run.seq, 1)?)?, rows],
                }),
                &[lf, ids],
            );
            g.train_only_tail = 2;
            g.infer_output = Some(logits);
        }
        _ => {
            let hf = g.push(Op::Cast(Cast { to: DType::F32 }), &[h]);
            g.push(Op::SquareMean(SquareMean), &[hf]);
            g.train_only_tail = 2;
            g.infer_output = Some(h);
        }
    }
    Ok(())
}
