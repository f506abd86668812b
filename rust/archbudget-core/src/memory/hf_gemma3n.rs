//! Gemma 3n's text model (`gemma3n_text`, and keras-hub's Gemma3nBackbone as its twin)
//! lowered into the op graph, as `modeling_gemma3n.py` of transformers 5.24 runs it:
//! - embeddings: the scaled token lookup (`embed_scale` buffer, a new tensor); the
//!   per-layer inputs: the ids clamped to the per-layer table (a bool and an int64
//!   tensor), the scaled per-layer lookup, `per_layer_model_projection` of the
//!   embeddings (scaled in place), its RMSNorm over each layer's slice, the sum and its
//!   scaling;
//! - AltUp's streams: the embeddings' RMS, each of the `n - 1` projections rescaled to it
//!   (square, mean, clamp, sqrt, two products), `torch.stack` of the n streams;
//! - each layer ([`layer`]): `predict` (router norm × scale, `modality_router`, tanh in
//!   fp32, `prediction_coefs`, the batched n×n mix as a bmm on a contiguous copy of the
//!   permuted streams, `.contiguous()`), `input_layernorm`, Laurel (two linears, a norm,
//!   the sum), attention with q/k norms and a scale-free v norm (the KV-shared layers
//!   compute q alone and read the k and v their source layer made), the sandwich norms,
//!   the sums scaled by 1/√2, the MLP (the sparse layers cut the gate at its mean plus
//!   a multiple of its std, then ReLU), `correct` (the router again, the innovation
//!   repeated n times, the coefficients `+ 1`, their product), the active stream's clone
//!   (scaled by `correct_output_scale`), the per-layer input gate, activation, product
//!   with the layer's slice, projection and norm, added in place to the other streams;
//! - the end: the streams unembedded and rescaled as at the start, stacked, averaged,
//!   normed; the LM head, its soft cap (divide, tanh, multiply) and the causal-LM loss,
//!   or the base model's stand-in loss;
//! - the cache: only the layers that are not KV-shared store k and v.
//!
//! keras-hub's model (the twin's `keras_hub` flag) differs in weights only: its shared
//! layers keep k/v projections and a k norm they never run (parameters with no gradient
//! and no optimizer state), and `correct_output_scale` exists only where it is applied.
//!
//! Not modelled: the eager RMSNorm's weight multiply before (not after) the cast back
//! (the llama formula's bytes are used), the in-place adds (no allocation), and the
//! clamp of `prediction_coefs` in place. LoRA and quantized weights are not lowered.
use super::graph::{DType, Graph, InputKind, ValueId};
use super::hf::Dropouts;
use super::hf_decoder::{layer_mask, norm_op, window_mask};
use super::hf_gemma_parts::{
    attention, causal_mask, elementwise, head, linear, per_layer_gate, rotary_tables,
    scalar_buffer, AttentionAt, KeyValue, ValueProjection,
};
use super::ops::*;
use super::{add, mul, Mode, Precision, Result, RunSettings};
use crate::arch::{AttentionSpan, TransformerArch};
use crate::formats::hf::gemma3n::{orphan_shared_layer, Gemma3n};

/// What every part of the step reads.
struct At<'a> {
    a: &'a TransformerArch,
    g: &'a Gemma3n,
    run: &'a RunSettings,
    drop: &'a Dropouts,
    batch: u64,
    seq: u64,
    rows: u64,
    train: bool,
    use_cache: bool,
    act: ActKind,
}

impl At<'_> {
    fn lin(&self, rows: u64, in_features: u64, out_features: u64, bias: bool) -> Op {
        linear(rows, in_features, out_features, bias)
    }

    fn norm(&self, rows: u64, dim: u64) -> Op {
        norm_op(self.a.norm, rows, dim)
    }
}

pub(super) fn graph(a: &TransformerArch, drop: &Dropouts, run: &RunSettings) -> Result<Graph> {
    let g3n = a
        .details
        .gemma3n
        .as_deref()
        .ok_or_else(|| crate::Error::Internal("gemma3n lowering without its details".into()))?;
    if run.lora.is_some() || run.quantize.is_some() {
        return Err(crate::Error::invalid(
            a.model_type.as_str(),
            "LoRA and quantized weights are not lowered for Gemma 3n yet",
        ));
    }
    let spans: Vec<AttentionSpan> = (0..a.num_layers)
        .map(|i| a.layer_attention(i).span)
        .collect();
    if let Some(i) = orphan_shared_layer(&spans, g3n.kv_shared_layers) {
        let kind = match spans[i] {
            AttentionSpan::Full => "full_attention",
            _ => "sliding_attention",
        };
        return Err(crate::Error::invalid(
            a.model_type.as_str(),
            format!("layer {i} ({kind}) is one of the last {} KV-shared layers, but no earlier layer of its kind makes the k and v it would reuse (keras-hub's attention fails on it, transformers refuses it); lower num_kv_shared_layers or put a {kind} layer before them", g3n.kv_shared_layers),
        ));
    }
    let train = run.mode == Mode::Train;
    let st = At {
        a,
        g: g3n,
        run,
        drop,
        batch: run.batch,
        seq: run.seq,
        rows: mul(run.batch, run.seq)?,
        train,
        use_cache: !(run.grad_ckpt && train),
        act: match a.activation.as_str() {
            "silu" | "swish" => ActKind::Silu,
            "relu" => ActKind::Relu,
            _ => ActKind::Gelu,
        },
    };
    let n = g3n.altup_inputs;
    let (h, rows) = (a.hidden_size, st.rows);
    mul(
        mul(rows, n)?,
        add(h, mul(a.num_layers, g3n.per_layer_width)?)?,
    )?;
    let mut g = Graph::default();

    // ---- embeddings and per-layer inputs
    let ids = g.input(rows, InputKind::Index);
    let tok = g.push(
        Op::Embedding(Embedding {
            tokens: rows,
            vocab: a.vocab_size,
            dim: h,
            tied: false,
        }),
        &[ids],
    );
    scalar_buffer(&mut g);
    let embeds = elementwise(&mut g, tok);
    let per_layer_all = mul(a.num_layers, g3n.per_layer_width)?;
    // `torch.where(logical_and(ids >= 0, ids < vocab_per_layer), ids, 0)`
    let in_table = g.push(Op::Cast(Cast { to: DType::Bool }), &[ids]);
    let clamped = g.push(Op::Copy(Copy::default()), &[ids, in_table]);
    let per_tok = g.push(
        Op::Embedding(Embedding {
            tokens: rows,
            vocab: g3n.per_layer_vocab,
            dim: per_layer_all,
            tied: false,
        }),
        &[clamped],
    );
    scalar_buffer(&mut g);
    let per_tok = elementwise(&mut g, per_tok);
    let proj = g.push(st.lin(rows, h, per_layer_all, false), &[embeds]);
    scalar_buffer(&mut g);
    let proj = g.push(
        st.norm(mul(rows, a.num_layers)?, g3n.per_layer_width),
        &[proj],
    );
    let summed = g.push(Op::Add(Add), &[proj, per_tok]);
    scalar_buffer(&mut g);
    let per_layer_inputs = elementwise(&mut g, summed);

    // ---- masks, rotary tables (one pair per kind of layer), AltUp's streams
    let eager = run.attn == AttnImpl::Eager;
    let causal = causal_mask(&mut g, rows, st.seq, eager)?;
    let windowed = window_mask(&mut g, a, st.batch, st.seq, eager)?;
    let mut cos_sin: Vec<(std::mem::Discriminant<AttentionSpan>, (ValueId, ValueId))> = Vec::new();
    let streams = spread(&st, &mut g, embeds)?;
    for span in &spans {
        let kind = std::mem::discriminant(span);
        if !cos_sin.iter().any(|(k, _)| *k == kind) {
            cos_sin.push((kind, rotary_tables(&mut g, st.seq, a.head_dim)?));
        }
    }

    // ---- layers
    let mut x = streams;
    // the k and v the last unshared layer of each kind made, which shared layers reuse
    let mut kv_of: Vec<(std::mem::Discriminant<AttentionSpan>, KeyValue)> = Vec::new();
    for i in 0..a.num_layers {
        let first = g.nodes.len();
        let span = spans[i as usize];
        let kind = a.layer_attention(i);
        let (cos, sin) = cos_sin
            .iter()
            .find(|(k, _)| *k == std::mem::discriminant(&span))
            .map(|&(_, p)| p)
            .expect("a table per kind of layer");
        let mask = layer_mask(kind, causal, windowed);
        let slice = g.push(Op::View(View), &[per_layer_inputs]);
        let kind_of = std::mem::discriminant(&span);
        let source = kv_of.iter().find(|(k, _)| *k == kind_of).map(|&(_, kv)| kv);
        let at = LayerAt {
            per_layer_input: slice,
            cos_sin: (cos, sin),
            mask,
            source,
        };
        let (out, made) = layer(&st, &mut g, i, x, &at)?;
        x = out;
        if let Some(kv) = made {
            kv_of.retain(|(k, _)| *k != kind_of);
            kv_of.push((kind_of, kv));
        }
        if run.grad_ckpt && train {
            g.checkpoint_regions.push((first, g.nodes.len() - 1));
        }
    }

    // ---- the streams back to one, the head
    let out = gather(&st, &mut g, x)?;
    head(&mut g, a, run, g3n.logit_softcap, out, ids)?;
    Ok(g)
}

/// `x · target_rms / rms(x)` of one projected stream: the square, its mean, the clamp and
/// sqrt of that, the two products.
fn rescale(st: &At, g: &mut Graph, x: ValueId) -> ValueId {
    let sq = elementwise(g, x);
    let mean = g.push(
        Op::Copy(Copy {
            numel: Some(st.rows),
        }),
        &[sq],
    );
    let clamped = elementwise(g, mean);
    let rms = elementwise(g, clamped);
    let scaled = g.push(Op::Mul(Mul), &[x, rms]);
    g.push(Op::Mul(Mul), &[scaled, rms])
}

/// The target RMS of the first stream: square, mean, `** 0.5`.
fn target_rms(st: &At, g: &mut Graph, x: ValueId) -> ValueId {
    let sq = elementwise(g, x);
    let mean = g.push(
        Op::Copy(Copy {
            numel: Some(st.rows),
        }),
        &[sq],
    );
    elementwise(g, mean)
}

/// The n AltUp streams from the embeddings: `torch.stack` of them and `n - 1` rescaled
/// projections.
fn spread(st: &At, g: &mut Graph, embeds: ValueId) -> Result<ValueId> {
    let (h, rows) = (st.a.hidden_size, st.rows);
    target_rms(st, g, embeds);
    let mut parts = vec![embeds];
    for _ in 1..st.g.altup_inputs {
        let p = g.push(st.lin(rows, h, h, false), &[embeds]);
        parts.push(rescale(st, g, p));
    }
    Ok(g.push(
        Op::Copy(Copy {
            numel: Some(mul(rows, mul(h, st.g.altup_inputs)?)?),
        }),
        &parts,
    ))
}

/// The streams back to one: the others unembedded and rescaled, stacked, averaged and
/// normed.
fn gather(st: &At, g: &mut Graph, x: ValueId) -> Result<ValueId> {
    let (h, rows) = (st.a.hidden_size, st.rows);
    let first = g.push(Op::View(View), &[x]);
    target_rms(st, g, first);
    let mut parts = vec![first];
    for _ in 1..st.g.altup_inputs {
        let stream = g.push(Op::View(View), &[x]);
        let p = g.push(st.lin(rows, h, h, false), &[stream]);
        parts.push(rescale(st, g, p));
    }
    let stacked = g.push(
        Op::Copy(Copy {
            numel: Some(mul(rows, mul(h, st.g.altup_inputs)?)?),
        }),
        &parts,
    );
    let mean = g.push(
        Op::Copy(Copy {
            numel: Some(mul(rows, h)?),
        }),
        &[stacked],
    );
    Ok(g.push(st.norm(rows, h), &[mean]))
}

/// AltUp's router on the active stream: norm × `router_input_scale`, `modality_router`,
/// tanh in fp32, cast back. `again`: `correct`'s second run of the same modules.
fn router(st: &At, g: &mut Graph, x: ValueId, again: bool) -> ValueId {
    let (h, rows) = (st.a.hidden_size, st.rows);
    let reuse = |op: Op| match again {
        true => Op::Reused(Box::new(op)),
        false => op,
    };
    let normed = g.push(reuse(st.norm(rows, h)), &[x]);
    if !again {
        scalar_buffer(g);
    }
    let scaled = elementwise(g, normed);
    let routed = g.push(reuse(st.lin(rows, h, st.g.altup_inputs, false)), &[scaled]);
    let fp32 = g.push(Op::Cast(Cast { to: DType::F32 }), &[routed]);
    let t = g.push(
        Op::Act(Act {
            kind: ActKind::Tanh,
        }),
        &[fp32],
    );
    let back = match st.run.precision {
        Precision::Bf16 => DType::BF16,
        _ => DType::F32,
    };
    g.push(Op::Cast(Cast { to: back }), &[t])
}

/// What one layer reads besides the streams.
struct LayerAt {
    /// The layer's slice of the per-layer inputs.
    per_layer_input: ValueId,
    cos_sin: (ValueId, ValueId),
    mask: Option<ValueId>,
    /// The k and v a KV-shared layer reuses.
    source: Option<KeyValue>,
}

/// Decoder layer `i` on the stacked streams `x`: the corrected streams, and the k and v
/// it made (none where it is KV-shared).
fn layer(
    st: &At,
    g: &mut Graph,
    i: u64,
    x: ValueId,
    at: &LayerAt,
) -> Result<(ValueId, Option<KeyValue>)> {
    let (a, g3n, rows) = (st.a, st.g, st.rows);
    let (h, n) = (a.hidden_size, g3n.altup_inputs);
    let streams = mul(rows, mul(h, n)?)?;

    // ---- AltUp predict
    let active = g.push(Op::View(View), &[x]);
    let modalities = router(st, g, active, false);
    let coefs = g.push(st.lin(rows, n, mul(n, n)?, false), &[modalities]);
    let permuted = g.push(
        Op::Copy(Copy {
            numel: Some(streams),
        }),
        &[x],
    );
    let mixed = g.push(
        Op::Matmul(Matmul {
            batch: rows,
            m: h,
            k: n,
            n,
        }),
        &[permuted, coefs],
    );
    let predictions = g.push(
        Op::Copy(Copy {
            numel: Some(streams),
        }),
        &[mixed, x],
    );
    let active = g.push(Op::View(View), &[predictions]);

    // ---- attention beside Laurel
    let normed = g.push(st.norm(rows, h), &[active]);
    let left = g.push(st.lin(rows, h, g3n.laurel_rank, false), &[normed]);
    let right = g.push(st.lin(rows, g3n.laurel_rank, h, false), &[left]);
    let laurel = g.push(st.norm(rows, h), &[right]);
    let laurel = g.push(Op::Add(Add), &[normed, laurel]);
    let (att, made) = attention_of(st, g, i, normed, at)?;
    let att = g.push(st.norm(rows, h), &[att]);
    let gated = g.push(Op::Add(Add), &[active, att]);
    let summed = g.push(Op::Add(Add), &[gated, laurel]);
    let attn_laurel = elementwise(g, summed);

    // ---- MLP
    let pre = g.push(st.norm(rows, h), &[attn_laurel]);
    let ffw = mlp(st, g, i, pre)?;
    let ffw = g.push(st.norm(rows, h), &[ffw]);
    let activated = g.push(Op::Add(Add), &[attn_laurel, ffw]);

    // ---- AltUp correct
    let modalities = router(st, g, activated, true);
    let innovation = g.push(Op::Add(Add), &[activated, active]);
    let repeated = g.push(
        Op::Copy(Copy {
            numel: Some(streams),
        }),
        &[innovation],
    );
    if st.train && g3n.coef_clip {
        // `correction_coefs.weight.clamp(...)`: a copy of the n×n weight
        g.push(
            Op::Fill(Fill {
                numel: mul(n, n)?,
                dtype: None,
                buffer: None,
            }),
            &[],
        );
    }
    let coefs = g.push(st.lin(rows, n, n, false), &[modalities]);
    let coefs = elementwise(g, coefs);
    let corrected = g.push(Op::Mul(Mul), &[repeated, coefs]);

    // ---- the per-layer input into the other streams
    let first = g.push(
        Op::Copy(Copy {
            numel: Some(mul(rows, h)?),
        }),
        &[corrected],
    );
    let first = match (g3n.correct_scale, g3n.has_correct_scale_param()) {
        (true, _) => g.push(Op::Scale(Scale { numel: h }), &[first]),
        (false, true) => {
            g.push(Op::UnusedParam(UnusedParam { numel: h }), &[]);
            first
        }
        (false, false) => first,
    };
    let projected = per_layer_gate(
        g,
        a,
        st.act,
        rows,
        g3n.per_layer_width,
        first,
        at.per_layer_input,
    );
    // `corrected_predictions[1:] += first_prediction`: in place
    Ok((g.push(Op::View(View), &[corrected, projected]), made))
}

/// Layer `i`'s attention through `o_proj`, and the k and v it made (none where it is
/// KV-shared, which reads its source layer's `at.source`). keras-hub's shared layers keep
/// k/v projections and a k norm that never run.
fn attention_of(
    st: &At,
    g: &mut Graph,
    i: u64,
    x: ValueId,
    at: &LayerAt,
) -> Result<(ValueId, Option<KeyValue>)> {
    let (a, g3n) = (st.a, st.g);
    let source = at.source.filter(|_| g3n.shares_kv(a.num_layers, i));
    let unused_kv = source.is_some() && g3n.has_kv_weights(a.num_layers, i);
    let attention_at = AttentionAt {
        layer: i,
        head_dim: a.head_dim,
        kv_heads: a.num_kv_heads,
        value: ValueProjection::AfterKey,
        causal: true,
        eager: st.run.attn == AttnImpl::Eager,
        eager_only: false,
        use_cache: st.use_cache,
        dropout: st.drop.attn,
        cos_sin: at.cos_sin,
        mask: at.mask,
        source,
    };
    attention(g, a, st.run, x, &attention_at, |g| {
        if unused_kv {
            let kvd = mul(a.num_kv_heads, a.head_dim)?;
            let bias = if a.qkv_bias { kvd } else { 0 };
            let numel = add(mul(2, add(mul(a.hidden_size, kvd)?, bias)?)?, a.head_dim)?;
            g.push(Op::UnusedParam(UnusedParam { numel }), &[]);
        }
        Ok(())
    })
}

/// Layer `i`'s gated MLP; a sparse layer's gate is cut at `mean + std · z` and ReLU'd
/// (`_gaussian_topk`) before the activation.
fn mlp(st: &At, g: &mut Graph, i: u64, x: ValueId) -> Result<ValueId> {
    let (h, rows) = (st.a.hidden_size, st.rows);
    let inter = st.g.intermediate_sizes[i as usize];
    let mut gate = g.push(st.lin(rows, h, inter, false), &[x]);
    if st.g.sparse_layers[i as usize] {
        let stat = |g: &mut Graph, x: ValueId| g.push(Op::Copy(Copy { numel: Some(rows) }), &[x]);
        let mean = stat(g, gate);
        let std = stat(g, gate);
        let cutoff = g.push(Op::Mul(Mul), &[std, mean]);
        let shifted = g.push(Op::Add(Add), &[gate, cutoff]);
        gate = g.push(
            Op::Act(Act {
                kind: ActKind::Relu,
            }),
            &[shifted],
        );
    }
    let act = g.push(Op::Act(Act { kind: st.act }), &[gate]);
    let up = g.push(st.lin(rows, h, inter, false), &[x]);
    let prod = g.push(Op::Mul(Mul), &[act, up]);
    Ok(g.push(st.lin(rows, inter, h, false), &[prod]))
}
