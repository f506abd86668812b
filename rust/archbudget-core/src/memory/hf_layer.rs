//! One layer of a transformers stack: its token mixer (softmax attention in every
//! variant the readers describe, MLA, gated delta-net linear attention, a state-space
//! mixer, or falcon_h1's attention beside a mixer), the MLP or sparse MoE, the norms,
//! dropouts and residuals, pre- or post-norm, sequential or parallel.
use super::graph::{Graph, ValueId};
use super::hf::Step;
use super::hf_decoder::{hold_kv_cache, layer_mask, position_qk, qk_norm};
use super::hf_embed::{Embedded, Masks};
use super::hf_linear::{gated_delta_net, LinearIn};
use super::hf_mla::{mla_attention, o_proj_width, MlaIn};
use super::hf_mlp::{sparse_moe, Mlp};
use super::hf_ssm::SsmIn;
use super::lora::{Linears, Module};
use super::ops::*;
use super::{add, mul, Result};
use crate::arch::{LayerAttention, LayerMixer, NormKind, Ssm};

/// Layer `i` on hidden state `x`; the hidden state it hands the next layer.
pub(super) fn layer(
    st: &Step,
    g: &mut Graph,
    lx: &mut Linears,
    i: u64,
    x: ValueId,
    emb: &Embedded,
    masks: Masks,
) -> Result<ValueId> {
    let (a, run, drop, rows) = (st.a, st.run, st.drop, st.rows);
    let first = g.nodes.len();
    // a state-space layer: the mixer alone (mamba), or in attention's place (jamba)
    let ssm = match (a.layer_mixer(i), a.details.ssm) {
        (LayerMixer::Ssm, Some(ssm)) => Some(ssm),
        _ => None,
    };
    let ssm_at = SsmIn {
        batch: st.batch,
        seq: st.seq,
        hidden: a.hidden_size,
        // mamba's models make no cache in training; jamba's as attention would
        use_cache: st.use_cache && !(st.train && ssm.is_some_and(|s| s.mixer_only)),
    };
    if let Some(ssm) = ssm.filter(|s| s.mixer_only) {
        let h = super::hf_ssm::block(g, lx, a, &ssm, &ssm_at, x, run)?;
        if run.grad_ckpt {
            g.checkpoint_regions.push((first, g.nodes.len() - 1));
        }
        return Ok(h);
    }
    // norms on each branch's output only (olmo2), none on its input
    let post_branch = a.details.post_branch_norms;
    let n1 = if a.pre_norm && !post_branch {
        g.push(st.ln(rows), &[x])
    } else {
        x
    };
    // falcon_h1: the mixer beside attention on the same input, its output times
    // `ssm_out_multiplier`; attention reads the input times `attention_in_multiplier`
    let beside = match (a.layer_mixer(i), a.details.ssm) {
        (LayerMixer::AttentionAndSsm, Some(ssm)) => {
            let m = super::hf_ssm::mixer(g, lx, &ssm, &ssm_at, n1, run)?;
            Some(g.push(Op::Add(Add), &[m]))
        }
        _ => None,
    };
    let n1 = match beside {
        Some(_) => g.push(Op::Add(Add), &[n1]),
        None => n1,
    };
    // falcon's new architecture normalises the MLP's input (`ln_mlp`) right after
    // the attention's (`ln_attn`)
    let n_mlp =
        (st.falcon && a.parallel_attn && a.norms_per_layer == 2).then(|| g.push(st.ln(rows), &[x]));
    let mixer = Mixer {
        layer: i,
        input: n1,
        ssm,
        ssm_at,
    };
    let mut o = token_mixer(st, g, lx, &mixer, emb, masks)?;
    if let Some(m) = beside {
        // `attention * attn_out_multiplier + mamba`
        let scaled = g.push(Op::Add(Add), &[o]);
        o = g.push(Op::Add(Add), &[m, scaled]);
    }
    if let Some(numel) = st.unused_cross {
        g.push(Op::UnusedParam(UnusedParam { numel }), &[]);
    }
    // Gemma 2's sandwich norms: four per layer, the extra two on each branch's output.
    let sandwich = a.pre_norm && a.norms_per_layer == 4;
    if sandwich || post_branch {
        o = g.push(st.ln(rows), &[o]);
    }
    if drop.resid > 0.0 {
        o = g.push(Op::Dropout(Dropout { p: drop.resid }), &[o]);
    }
    let h = if a.parallel_attn {
        // gpt_neox `mlp_output + attn_output + hidden_states`; falcon `mlp_output +=
        // attention_output` then the residual (charged here as a new tensor too)
        let n2 = match n_mlp {
            Some(n) => n,
            None if a.norms_per_layer == 2 => g.push(st.ln(rows), &[x]),
            None => n1,
        };
        let mut d = mlp(st, g, lx, i, n2)?;
        if drop.resid > 0.0 {
            d = g.push(Op::Dropout(Dropout { p: drop.resid }), &[d]);
        }
        let branches = g.push(Op::Add(Add), &[d, o]);
        g.push(Op::Add(Add), &[branches, x])
    } else {
        let mut h = g.push(Op::Add(Add), &[x, o]);
        let mid = h;
        let n2 = if post_branch {
            h
        } else if a.pre_norm {
            g.push(st.ln(rows), &[h])
        } else {
            h = g.push(st.ln(rows), &[h]);
            h
        };
        let mut d = mlp(st, g, lx, i, n2)?;
        if sandwich || post_branch {
            d = g.push(st.ln(rows), &[d]);
        }
        if drop.resid > 0.0 {
            d = g.push(Op::Dropout(Dropout { p: drop.resid }), &[d]);
        }
        let resid = if a.pre_norm { mid } else { h };
        h = g.push(Op::Add(Add), &[resid, d]);
        if !a.pre_norm {
            h = g.push(st.ln(rows), &[h]);
        }
        h
    };
    if run.grad_ckpt && st.decoder {
        g.checkpoint_regions.push((first, g.nodes.len() - 1));
    }
    Ok(h)
}

/// Where a layer's token mixer runs: its index, its normalised input, and the
/// state-space mixer in attention's place (jamba) if any.
struct Mixer {
    layer: u64,
    input: ValueId,
    ssm: Option<Ssm>,
    ssm_at: SsmIn,
}

/// The token mixer of a layer, through its output projection.
fn token_mixer(
    st: &Step,
    g: &mut Graph,
    lx: &mut Linears,
    m: &Mixer,
    emb: &Embedded,
    masks: Masks,
) -> Result<ValueId> {
    let (a, run, rows, n1) = (st.a, st.run, st.rows, m.input);
    let (hsz, nh, nkv, hd) = (a.hidden_size, a.num_heads, a.num_kv_heads, a.head_dim);
    let qd = mul(nh, hd)?;
    let kvd = mul(nkv, hd)?;
    let kind = a.layer_attention(m.layer);
    let mask = layer_mask(kind, masks.causal, masks.windowed);
    let attn = attention(st, mask.is_some() && !masks.alibi, masks.alibi);
    let linear = match (a.layer_mixer(m.layer), a.details.linear_attention) {
        (LayerMixer::LinearAttention, Some(la)) => {
            let p = LinearIn {
                x: n1,
                batch: st.batch,
                seq: st.seq,
                hidden: hsz,
                use_cache: st.use_cache,
                precision: run.precision,
            };
            Some(gated_delta_net(g, lx, la, &p)?)
        }
        _ => None,
    };
    let mut output_gate = None;
    // (a linear-attention layer's output has been through its `out_proj` already)
    let att = if let Some(out) = linear {
        out
    } else if let Some(ssm) = m.ssm {
        super::hf_ssm::mixer(g, lx, &ssm, &m.ssm_at, n1, run)?
    } else if let Some(mla) = a.details.mla {
        let p = MlaIn {
            x: n1,
            rows,
            cos_sin: emb.cos_sin,
            mask,
            use_cache: st.use_cache,
        };
        mla_attention(g, a, mla, &p, attn)?
    } else if a.fused_qkv && !st.falcon {
        let qkv_lin = st.lin(hsz, add(qd, mul(2, kvd)?)?, a.qkv_bias);
        let qkv = lx.push(g, Module::linear(st.names.qkv), qkv_lin, n1)?;
        if st.use_cache {
            let kv = g.push(
                Op::Copy(Copy {
                    numel: Some(mul(2, mul(rows, kvd)?)?),
                }),
                &[qkv],
            );
            g.forward_held.push(kv);
        }
        let mut ins = vec![qkv];
        ins.extend(mask);
        g.push(
            Op::Attention(Attention {
                fused_qkv: true,
                ..attn
            }),
            &ins,
        )
    } else {
        let (q, k, v, kv_heads) = if st.falcon {
            // FalconAttention: q, k and v are strided views of the fused projection,
            // each copied out by `transpose(1, 2).reshape(...)`
            let qkv_lin = st.lin(hsz, add(qd, mul(2, kvd)?)?, a.qkv_bias);
            let qkv = lx.push(g, Module::linear(st.names.qkv), qkv_lin, n1)?;
            let kvh = if a.kv_broadcast { nh } else { nkv };
            let mut part = |heads: u64| -> Result<ValueId> {
                let numel = Some(mul(rows, mul(heads, hd)?)?);
                Ok(g.push(Op::Copy(Copy { numel }), &[qkv]))
            };
            (part(nh)?, part(kvh)?, part(kvh)?, kvh)
        } else {
            // qwen3_next's q_proj also computes the output gate, copied out by reshape
            let q_out = if a.details.attn_output_gate {
                mul(2, qd)?
            } else {
                qd
            };
            let q = lx.push(
                g,
                Module::linear(st.names.q),
                st.lin(hsz, q_out, a.qkv_bias),
                n1,
            )?;
            if a.details.attn_output_gate {
                output_gate = Some(g.push(
                    Op::Copy(Copy {
                        numel: Some(mul(rows, qd)?),
                    }),
                    &[q],
                ));
            }
            let k = lx.push(
                g,
                Module::linear(st.names.k),
                st.lin(hsz, kvd, a.qkv_bias),
                n1,
            )?;
            let v = lx.push(
                g,
                Module::linear(st.names.v),
                st.lin(hsz, kvd, a.qkv_bias),
                n1,
            )?;
            let (q, k) = qk_norm(g, a, rows, q, k)?;
            (q, k, v, nkv)
        };
        let (q, k) = position_qk(g, a, kind, cos_sin_of(emb, kind), rows, st.seq, q, k)?;
        if st.use_cache {
            hold_kv_cache(g, kind, [k, v]);
        }
        let mut ins = vec![q, k, v];
        ins.extend(mask);
        g.push(Op::Attention(Attention { kv_heads, ..attn }), &ins)
    };
    let att = match output_gate {
        // `attn_output * torch.sigmoid(gate)`
        Some(gate) => {
            let gate = g.push(
                Op::Act(Act {
                    kind: ActKind::Sigmoid,
                }),
                &[gate],
            );
            g.push(Op::Mul(Mul), &[att, gate])
        }
        None => att,
    };
    // a linear-attention or SSM mixer's output is its `out_proj`'s already
    match linear.or(m.ssm.map(|_| att)) {
        Some(out) => Ok(out),
        None => {
            let o_lin = st.lin(o_proj_width(a)?, hsz, a.o_bias);
            lx.push(g, Module::linear(st.names.o), o_lin, att)
        }
    }
}

/// The softmax attention of the stack's layers.
fn attention(st: &Step, eager_mask: bool, score_bias: bool) -> Attention {
    let a = st.a;
    Attention {
        batch: st.batch,
        heads: a.num_heads,
        kv_heads: a.num_kv_heads,
        q_len: st.seq,
        kv_len: st.seq,
        head_dim: a.head_dim,
        v_head_dim: a.head_dim,
        causal: st.decoder,
        dropout: st.drop.attn,
        eager_mask: st.eager && eager_mask,
        // the declarative types' eager attention: `softmax(dtype=float32)`; with sinks
        // (gpt_oss) the softmax runs in the scores' dtype
        softmax_fp32: st.bloom
            || (!a.details.attn_sinks
                && (a.norm == NormKind::RmsNorm
                    || crate::formats::hf::type_spec(&a.model_type).is_some())),
        fused_qkv: a.fused_qkv,
        score_bias,
        sinks: a.details.attn_sinks,
        eager_only: st.bloom,
    }
}

/// The rotary tables layer `kind` reads: its own kind's where the type builds one per
/// kind, else the first.
fn cos_sin_of(emb: &Embedded, kind: LayerAttention) -> Option<super::hf_embed::CosSin> {
    emb.other_cos_sin
        .iter()
        .find(|(span, _)| *span == std::mem::discriminant(&kind.span))
        .map(|&(_, pair)| pair)
        .or(emb.cos_sin)
}

/// Layer `i`'s MLP, or its sparse mixture of experts.
fn mlp(st: &Step, g: &mut Graph, lx: &mut Linears, i: u64, n2: ValueId) -> Result<ValueId> {
    let a = st.a;
    let act = match a.activation.as_str() {
        "silu" | "swish" => ActKind::Silu,
        "relu" => ActKind::Relu,
        "gelu_new" => ActKind::GeluPython,
        _ => ActKind::Gelu,
    };
    match a.moe.as_ref().filter(|m| m.is_moe_layer(i)) {
        Some(moe) => sparse_moe(g, lx, &a.model_type, moe, n2, st.rows, a.hidden_size, act),
        None => Mlp {
            rows: st.rows,
            hidden: a.hidden_size,
            inter: a.intermediate_size,
            gated: a.gated_mlp,
            bias: a.mlp_bias,
            act,
        }
        .push_named(g, n2, lx, &st.names),
    }
}
