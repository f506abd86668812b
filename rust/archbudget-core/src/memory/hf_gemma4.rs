//! Gemma 4's text model (`gemma4_text`, and keras-hub's Gemma4Backbone as its twin)
//! lowered into the op graph, as `modeling_gemma4.py` of transformers 5.24 runs it:
//! - embeddings: the scaled token lookup (`embed_scale` buffer, a new tensor); with
//!   per-layer inputs, the scaled per-layer lookup, `per_layer_model_projection` of the
//!   embeddings times a Python float, its RMSNorm over each layer's slice, the sum and
//!   its scaling (no clamp of the ids, unlike gemma3n);
//! - each layer ([`layer`]): `input_layernorm`, attention with q/k norms and a
//!   scale-free v norm at the head dim of the layer's kind (k=v layers norm k's
//!   projection as v; KV-shared layers compute q alone and read the k and v their
//!   source made), the sandwich norms and residual sums, the dense gated MLP; with
//!   experts, the MLP's output normed, the router on the residual (scale-free norm,
//!   `scale`, the root-size factor, `proj`, softmax top-k renormalised, times the
//!   chosen `per_expert_scale`), the pre-norm, the experts, the post-norm and the sum;
//!   the per-layer input gate (as gemma3n's); the product with `layer_scalar` in place;
//! - the end: the final norm; the LM head, its soft cap (divide, tanh, multiply) and the
//!   causal-LM loss, or the base model's stand-in loss;
//! - the cache: only the layers that are not KV-shared store k and v.
//!
//! keras-hub's twin differs in two things here: its expert bank runs every expert on every
//! token (einsums over all experts, weighted by a dense dispatch), lowered as the experts
//! with top-k equal to the expert count (`Gemma4::dense_experts`); with
//! `attention_logit_soft_cap` its attention is unfused, lowered as the eager path with its
//! masks (the cap's divide, tanh and product on the scores are not charged, as for
//! t5gemma's).
//!
//! Not modelled: prefill in generate slices the KV-shared layers' inputs to the last
//! position (`_maybe_slice_kv_shared_inputs`; the full prompt is used), the gather of
//! `per_expert_scale` (lowered as a product with it). LoRA and quantized weights are not
//! lowered.
use super::graph::{DType, Graph, InputKind, ValueId};
use super::hf::Dropouts;
use super::hf_decoder::{layer_mask, norm_op, window_mask};
use super::hf_gemma_parts::{
    attention, causal_mask, elementwise, head, linear, per_layer_gate, rotary_tables,
    scalar_buffer, AttentionAt, KeyValue, ValueProjection,
};
use super::ops::*;
use super::{add, mul, Mode, Result, RunSettings};
use crate::arch::TransformerArch;
use crate::formats::hf::gemma4::Gemma4;

/// What every part of the step reads.
struct At<'a> {
    a: &'a TransformerArch,
    g: &'a Gemma4,
    run: &'a RunSettings,
    drop: &'a Dropouts,
    rows: u64,
    use_cache: bool,
    act: ActKind,
    /// Eager attention: asked for, or the only path (keras-hub's soft-capped scores).
    eager: bool,
}

impl At<'_> {
    fn lin(&self, in_features: u64, out_features: u64, bias: bool) -> Op {
        linear(self.rows, in_features, out_features, bias)
    }

    fn norm(&self, rows: u64, dim: u64) -> Op {
        norm_op(self.a.norm, rows, dim)
    }

    /// A scale-free RMSNorm (the router's).
    fn bare_norm(&self, rows: u64, dim: u64) -> Op {
        Op::FusedRmsNorm(FusedRmsNorm {
            rows,
            dim,
            weight: false,
        })
    }
}

pub(super) fn graph(
    a: &TransformerArch,
    g4: &Gemma4,
    drop: &Dropouts,
    run: &RunSettings,
) -> Result<Graph> {
    if run.lora.is_some() || run.quantize.is_some() {
        return Err(crate::Error::invalid(
            a.model_type.as_str(),
            "LoRA and quantized weights are not lowered for Gemma 4 yet",
        ));
    }
    if let Some(i) =
        (0..a.num_layers).find(|&i| g4.kv_shared[i as usize] && g4.kv_source(i).is_none())
    {
        return Err(crate::Error::invalid(
            a.model_type.as_str(),
            format!("layer {i} reuses k and v that no earlier layer of its kind makes: with num_kv_shared_layers equal to the layer count the model reads its target model's (an assistant model), which runs only beside that model; lower num_kv_shared_layers"),
        ));
    }
    if let Some(moe) = &g4.moe {
        if moe.top_k > moe.experts {
            return Err(crate::Error::invalid(
                a.model_type.as_str(),
                format!(
                    "top_k_experts ({}) exceeds num_experts ({})",
                    moe.top_k, moe.experts
                ),
            ));
        }
    }
    let train = run.mode == Mode::Train;
    let st = At {
        a,
        g: g4,
        run,
        drop,
        rows: mul(run.batch, run.seq)?,
        use_cache: !(run.grad_ckpt && train),
        act: match a.activation.as_str() {
            "silu" | "swish" => ActKind::Silu,
            "relu" => ActKind::Relu,
            _ => ActKind::Gelu,
        },
        eager: run.attn == AttnImpl::Eager || g4.attention_softcap,
    };
    let (h, rows) = (a.hidden_size, st.rows);
    mul(rows, add(h, mul(a.num_layers, g4.per_layer_width)?)?)?;
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
    let per_layer_inputs = match g4.per_layer_width {
        0 => None,
        width => {
            let all = mul(a.num_layers, width)?;
            let per_tok = g.push(
                Op::Embedding(Embedding {
                    tokens: rows,
                    vocab: g4.per_layer_vocab,
                    dim: all,
                    tied: false,
                }),
                &[ids],
            );
            scalar_buffer(&mut g);
            let per_tok = elementwise(&mut g, per_tok);
            let proj = g.push(st.lin(h, all, false), &[embeds]);
            let proj = elementwise(&mut g, proj);
            let proj = g.push(st.norm(mul(rows, a.num_layers)?, width), &[proj]);
            let summed = g.push(Op::Add(Add), &[proj, per_tok]);
            Some(elementwise(&mut g, summed))
        }
    };

    // ---- masks and rotary tables (one pair per kind of layer, at its head dim)
    let causal = causal_mask(&mut g, rows, run.seq, st.eager)?;
    let windowed = window_mask(&mut g, a, run.batch, run.seq, st.eager)?;
    let mut tables: Vec<(bool, (ValueId, ValueId))> = Vec::new();
    for i in 0..a.num_layers {
        let kind = g4.global[i as usize];
        if !tables.iter().any(|(k, _)| *k == kind) {
            tables.push((kind, rotary_tables(&mut g, run.seq, g4.head_dim(a, i))?));
        }
    }

    // ---- layers
    let mut x = embeds;
    let mut made: Vec<Option<KeyValue>> = Vec::new();
    for i in 0..a.num_layers {
        let first = g.nodes.len();
        let kind = a.layer_attention(i);
        let cos_sin = tables
            .iter()
            .find(|(k, _)| *k == g4.global[i as usize])
            .map(|&(_, p)| p)
            .expect("a table per kind of layer");
        let at = LayerAt {
            per_layer_input: per_layer_inputs.map(|p| g.push(Op::View(View), &[p])),
            cos_sin,
            mask: layer_mask(kind, causal, windowed),
            source: g4
                .kv_source(i)
                .and_then(|k| made[k as usize])
                .filter(|_| g4.kv_shared[i as usize]),
        };
        let (out, kv) = layer(&st, &mut g, i, x, &at)?;
        x = out;
        made.push(kv);
        if run.grad_ckpt && train {
            g.checkpoint_regions.push((first, g.nodes.len() - 1));
        }
    }
    let out = g.push(st.norm(rows, h), &[x]);
    match g4.embedding_head {
        Some(widths) => embedding_head(&st, &mut g, out, widths)?,
        None => head(&mut g, a, run, g4.logit_softcap, out, ids)?,
    }
    Ok(g)
}

/// What one layer reads besides the hidden states.
struct LayerAt {
    /// The layer's slice of the per-layer inputs.
    per_layer_input: Option<ValueId>,
    cos_sin: (ValueId, ValueId),
    mask: Option<ValueId>,
    /// The k and v a KV-shared layer reuses.
    source: Option<KeyValue>,
}

/// Decoder layer `i` on `x`: its output, and the k and v it made (none where it is
/// KV-shared).
fn layer(
    st: &At,
    g: &mut Graph,
    i: u64,
    x: ValueId,
    at: &LayerAt,
) -> Result<(ValueId, Option<KeyValue>)> {
    let (a, g4, rows) = (st.a, st.g, st.rows);
    let h = a.hidden_size;
    let normed = g.push(st.norm(rows, h), &[x]);
    let value = match g4.has_v_proj(i) {
        true => ValueProjection::BesideKey,
        false => ValueProjection::KeyProjection,
    };
    let attention_at = AttentionAt {
        layer: i,
        head_dim: g4.head_dim(a, i),
        kv_heads: g4.kv_heads(a, i),
        value,
        causal: !g4.bidirectional,
        eager: st.eager,
        eager_only: g4.attention_softcap,
        use_cache: st.use_cache,
        dropout: st.drop.attn,
        cos_sin: at.cos_sin,
        mask: at.mask,
        source: at.source,
    };
    let (att, made) = attention(g, a, st.run, normed, &attention_at, |_| Ok(()))?;
    let att = g.push(st.norm(rows, h), &[att]);
    let x = g.push(Op::Add(Add), &[x, att]);

    let pre = g.push(st.norm(rows, h), &[x]);
    let inter = g4.intermediate(a, i);
    let gate = g.push(st.lin(h, inter, false), &[pre]);
    let gate = g.push(Op::Act(Act { kind: st.act }), &[gate]);
    let up = g.push(st.lin(h, inter, false), &[pre]);
    let prod = g.push(Op::Mul(Mul), &[gate, up]);
    let mut ffw = g.push(st.lin(inter, h, false), &[prod]);
    if let Some(moe) = &g4.moe {
        let dense = g.push(st.norm(rows, h), &[ffw]);
        // the router reads the residual, not the MLP's input
        let routed = g.push(st.bare_norm(rows, h), &[x]);
        let routed = g.push(Op::Scale(Scale { numel: h }), &[routed]);
        let routed = elementwise(g, routed);
        let logits = g.push(st.lin(h, moe.experts, false), &[routed]);
        let weights = g.push(
            Op::Router(Router {
                rows,
                experts: moe.experts,
                top_k: moe.top_k,
                renormalize: true,
                cast_to_logits: false,
                scoring: crate::arch::RouterScoring::Softmax,
            }),
            &[logits],
        );
        let weights = g.push(Op::Scale(Scale { numel: moe.experts }), &[weights]);
        let experts_in = g.push(st.norm(rows, h), &[x]);
        let experts = g.push(
            Op::MoeExperts(MoeExperts {
                rows,
                hidden: h,
                inter: moe.inter,
                experts: moe.experts,
                top_k: match g4.dense_experts {
                    true => moe.experts,
                    false => moe.top_k,
                },
                lora: (false, false),
                bias: false,
                clamped_swiglu: false,
                mxfp4: false,
            }),
            &[experts_in, weights],
        );
        let experts = g.push(st.norm(rows, h), &[experts]);
        ffw = g.push(Op::Add(Add), &[dense, experts]);
    }
    let ffw = g.push(st.norm(rows, h), &[ffw]);
    let mut x = g.push(Op::Add(Add), &[x, ffw]);

    if let Some(per_layer_input) = at.per_layer_input {
        let projected = per_layer_gate(g, a, st.act, rows, g4.per_layer_width, x, per_layer_input);
        x = g.push(Op::Add(Add), &[x, projected]);
    }
    // `hidden_states *= self.layer_scalar`: in place
    scalar_buffer(g);
    Ok((g.push(Op::View(View), &[x]), made))
}

/// keras-hub's embedding head on the sequence output `x`: the padding-masked mean
/// (product, sum, division), the two Dense layers over the pooled rows and the unit norm;
/// the loss is one stand-in per output (pooled, sequence), summed.
fn embedding_head(st: &At, g: &mut Graph, x: ValueId, (inter, out): (u64, u64)) -> Result<()> {
    let (h, batch) = (st.a.hidden_size, st.run.batch);
    let masked = elementwise(g, x);
    let summed = g.push(
        Op::Copy(Copy {
            numel: Some(mul(batch, h)?),
        }),
        &[masked],
    );
    let pooled = elementwise(g, summed);
    let lin = |i, o| {
        Op::Linear(Linear {
            rows: batch,
            in_features: i,
            out_features: o,
            bias: false,
            tied_weight: false,
        })
    };
    let pooled = g.push(lin(h, inter), &[pooled]);
    let pooled = g.push(lin(inter, out), &[pooled]);
    let pooled = g.push(Op::Normalize(Normalize { rows: batch }), &[pooled]);
    let mut losses = Vec::new();
    for y in [pooled, x] {
        let f = g.push(Op::Cast(Cast { to: DType::F32 }), &[y]);
        losses.push(g.push(Op::SquareMean(SquareMean), &[f]));
    }
    g.push(Op::Add(Add), &losses);
    g.train_only_tail = 5;
    g.infer_output = Some(pooled);
    Ok(())
}
