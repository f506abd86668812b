//! The encoders beyond bert (albert, electra, fnet, deberta-v2) lowered into the op
//! graph from their [`TransformerArch`] and [`EncoderFamily`]: bert's post-norm block
//! (q/k/v, attention, `dense`, dropout, residual LayerNorm; `dense → act → dense`,
//! dropout, residual LayerNorm) as `hf.rs` lowers it, with what each family changes:
//! - albert: embeddings `embedding_size` wide, LayerNorm, dropout, then the biased
//!   `embedding_hidden_mapping_in`; its layers applied again per group step as
//!   [`Op::Reused`] (weights once, activations per application); no dropout after the
//!   feed-forward;
//! - electra: the same embeddings, `embeddings_project` after their dropout;
//! - fnet: `embeddings += positions` in place, LayerNorm, `projection`, dropout; each
//!   layer's mixing is `torch.fft.fftn(x, dim=(1, 2)).real`: a complex64 tensor twice
//!   x's elements (no FLOPs: the counter counts no FFT), its real part added to x;
//! - deberta-v2: its own eager attention (no SDPA in transformers): q, k, v copied per
//!   head (`transpose_for_scores`), q·kᵀ, the c2p and p2c products with the relative
//!   embeddings' projections (repeated over the batch), gathered at each pair's distance,
//!   scaled and summed into the scores, a masked fill, softmax, dropout, probs·v; the
//!   float mask `torch.ones` (batch×seq) and its batch×1×seq×seq outer product, alive
//!   through the encoder, and the embeddings multiplied by the mask.
//!
//! What is not modelled: the index tensors of DeBERTa's gathers (seq×seq int64 per layer)
//! and the complex gradients of FNet's backward FFT (transients).
//! LoRA and quantized weights are not lowered for these types.
use super::graph::{DType, Graph, InputKind, ValueId};
use super::hf::{Dropouts, Mlp};
use super::hf_decoder::norm_op;
use super::ops::*;
use super::{add, mul, Result, RunSettings};
use crate::arch::{Disentangled, EncoderFamily, HeadKind, Position, TransformerArch};

/// The activation transformers' `ACT2FN` gives `name`.
pub(super) fn act_kind(name: &str) -> ActKind {
    match name {
        "silu" | "swish" => ActKind::Silu,
        "relu" => ActKind::Relu,
        "gelu_new" => ActKind::GeluPython,
        "tanh" => ActKind::Tanh,
        _ => ActKind::Gelu,
    }
}

struct Shapes {
    b: u64,
    s: u64,
    rows: u64,
    h: u64,
}

impl Shapes {
    fn lin(&self, rows: u64, inp: u64, out: u64, bias: bool) -> Op {
        Op::Linear(Linear::new(rows, inp, out, bias))
    }
}

pub(super) fn graph(
    a: &TransformerArch,
    fam: &EncoderFamily,
    drop: &Dropouts,
    run: &RunSettings,
) -> Result<Graph> {
    run.refuse_for_encoder(&a.model_type, "this encoder", "tokens")?;
    let (b, s) = (run.batch, run.seq);
    if b == 0 || s == 0 {
        return Err(crate::Error::invalid(
            "run",
            "batch and seq must be positive",
        ));
    }
    let rows = mul(b, s)?;
    let sh = Shapes {
        b,
        s,
        rows,
        h: a.hidden_size,
    };
    let (h, e) = (a.hidden_size, a.embed_dim);
    let ln = |rows: u64, width: u64| norm_op(a.norm, rows, width);
    let deberta = match fam {
        EncoderFamily::DebertaV2(d) => Some(d),
        _ => None,
    };
    let mut g = Graph::default();

    // ---- embeddings
    let ids = g.input(rows, InputKind::Index);
    let embedding = |vocab, tokens| {
        Op::Embedding(Embedding {
            tokens,
            vocab,
            dim: e,
            tied: false,
        })
    };
    let mut x = g.push(embedding(a.vocab_size, rows), &[ids]);
    // DeBERTa's model makes `attention_mask = torch.ones(...)` and zero token types
    let mask = deberta.map(|_| {
        let ones = g.push(
            Op::Fill(Fill {
                numel: rows,
                dtype: Some(DType::F32),
                buffer: None,
            }),
            &[],
        );
        let types = g.push(
            Op::Fill(Fill {
                numel: rows,
                dtype: Some(DType::I64),
                buffer: None,
            }),
            &[],
        );
        (ones, types)
    });
    // `position_ids` (and bert's `token_type_ids`) buffers, sliced: views
    let buffer = Some((a.max_positions, DType::I64));
    let index = |g: &mut Graph, numel, buffer| {
        g.push(
            Op::Fill(Fill {
                numel,
                dtype: Some(DType::I64),
                buffer,
            }),
            &[],
        )
    };
    let positions = |g: &mut Graph| -> Option<ValueId> {
        let Position::Learned { rows: table } = a.position else {
            return None;
        };
        let pid = index(g, s, buffer);
        Some(g.push(embedding(table, s), &[pid]))
    };
    match deberta {
        Some(_) => {
            // deberta registers `position_ids` even without position embeddings
            match positions(&mut g) {
                Some(p) => x = g.push(Op::Add(Add), &[x, p]),
                None => {
                    index(&mut g, 0, buffer);
                    // `torch.zeros_like(inputs_embeds)`, unused
                    g.push(Op::Copy(Copy::default()), &[x]);
                }
            }
            if a.type_vocab_size > 0 {
                let types = mask.expect("made above").1;
                let t = g.push(embedding(a.type_vocab_size, rows), &[types]);
                x = g.push(Op::Add(Add), &[x, t]);
            }
            if e != h {
                x = g.push(sh.lin(rows, e, h, false), &[x]);
            }
            x = g.push(ln(rows, h), &[x]);
            // `embeddings * mask` (the float mask, unsqueezed)
            x = g.push(Op::Mul(Mul), &[x, mask.expect("made above").0]);
            x = g.dropout(x, drop.embed);
        }
        None => {
            let types = index(&mut g, rows, buffer);
            let t = g.push(embedding(a.type_vocab_size, rows), &[types]);
            x = g.push(Op::Add(Add), &[x, t]);
            let p = positions(&mut g).expect("learned positions");
            x = match fam {
                // `embeddings += position_embeddings`: in place
                EncoderFamily::Fnet => g.push(Op::View(View), &[x, p]),
                _ => g.push(Op::Add(Add), &[x, p]),
            };
            x = g.push(ln(rows, e), &[x]);
            if *fam == EncoderFamily::Fnet {
                x = g.push(sh.lin(rows, h, h, true), &[x]);
                x = g.dropout(x, drop.embed);
            } else {
                x = g.dropout(x, drop.embed);
                if e != h || matches!(fam, EncoderFamily::Albert { .. }) {
                    x = g.push(sh.lin(rows, e, h, true), &[x]);
                }
            }
        }
    }

    // ---- encoder
    let enc = Encoder {
        a,
        sh: &sh,
        drop,
        act: act_kind(&a.activation),
    };
    match fam {
        EncoderFamily::Albert { groups, inner } => {
            let (groups, inner) = (*groups, *inner);
            let mut applied = vec![false; (groups * inner) as usize];
            for i in 0..a.num_layers {
                let group = i * groups / a.num_layers;
                for j in 0..inner {
                    let k = (group * inner + j) as usize;
                    x = enc.bert_layer(&mut g, x, applied[k], false)?;
                    applied[k] = true;
                }
            }
        }
        EncoderFamily::Electra => {
            for _ in 0..a.num_layers {
                x = enc.bert_layer(&mut g, x, false, true)?;
            }
        }
        EncoderFamily::Fnet => {
            for _ in 0..a.num_layers {
                x = enc.fnet_layer(&mut g, x)?;
            }
        }
        EncoderFamily::DebertaV2(d) => {
            let ones = mask.expect("made above").0;
            x = enc.deberta_encoder(&mut g, x, ones, d)?;
        }
    }

    // ---- pooler, head and loss
    if let Some(p) = a.pooler {
        // dense + tanh on the first token; not on the loss's path
        let first = g.push(
            Op::SelectLast(SelectLast {
                out_numel: mul(b, h)?,
            }),
            &[x],
        );
        let pd = g.push(sh.lin(b, h, p, true), &[first]);
        g.push(
            Op::Act(Act {
                kind: ActKind::Tanh,
            }),
            &[pd],
        );
    }
    if a.head == HeadKind::Base {
        let hf = g.push(Op::Cast(Cast { to: DType::F32 }), &[x]);
        g.push(Op::SquareMean(SquareMean), &[hf]);
        g.train_only_tail = 2;
        g.infer_output = Some(x);
        return Ok(g);
    }
    let legacy = deberta.is_none_or(|d| d.legacy_head);
    let width = if legacy { e } else { h };
    let head_act = match fam {
        EncoderFamily::Electra => ActKind::Gelu,
        _ => enc.act,
    };
    let t = g.push(sh.lin(rows, h, width, true), &[x]);
    let t = g.push(Op::Act(Act { kind: head_act }), &[t]);
    let t = g.push(ln(rows, width), &[t]);
    if a.mlm_head.is_some_and(|m| m.untied_bias) {
        g.push(
            Op::UnusedParam(UnusedParam {
                numel: a.vocab_size,
            }),
            &[],
        );
    }
    let decoder = Linear {
        rows,
        in_features: width,
        out_features: a.vocab_size,
        bias: true,
        tied_weight: a.tie_word_embeddings || !legacy,
    };
    let logits = g.push(Op::Linear(decoder), &[t]);
    let label_copies = match a.head {
        // `ForCausalLMLoss`: logits upcast, labels padded and shifted
        HeadKind::CausalLm => vec![mul(b, add(s, 1)?)?, rows],
        _ => Vec::new(),
    };
    let scores = match a.head {
        HeadKind::CausalLm => g.push(Op::Cast(Cast { to: DType::F32 }), &[logits]),
        _ => logits,
    };
    g.push(
        Op::CrossEntropy(CrossEntropy {
            rows,
            classes: a.vocab_size,
            label_copies,
        }),
        &[scores, ids],
    );
    g.train_only_tail = if scores == logits { 1 } else { 2 };
    g.infer_output = Some(logits);
    Ok(g)
}

struct Encoder<'a> {
    a: &'a TransformerArch,
    sh: &'a Shapes,
    drop: &'a Dropouts,
    act: ActKind,
}

impl Encoder<'_> {
    /// `op`, or the same op on weights declared before when `again`.
    fn push(&self, g: &mut Graph, op: Op, inputs: &[ValueId], again: bool) -> ValueId {
        let op = if again { Op::Reused(Box::new(op)) } else { op };
        g.push(op, inputs)
    }

    /// The feed-forward `dense → act → dense` (+ dropout) and the residual LayerNorm.
    fn feed_forward(
        &self,
        g: &mut Graph,
        x: ValueId,
        again: bool,
        dropout: bool,
    ) -> Result<ValueId> {
        let Shapes { rows, h, .. } = *self.sh;
        let mlp = Mlp {
            rows,
            hidden: h,
            inter: self.a.intermediate_size,
            gated: false,
            bias: true,
            act: self.act,
        };
        let mut d = if again {
            let f = self.push(g, Op::Linear(mlp_lin(&mlp, h, mlp.inter)), &[x], true);
            let f = g.push(Op::Act(Act { kind: self.act }), &[f]);
            self.push(g, Op::Linear(mlp_lin(&mlp, mlp.inter, h)), &[f], true)
        } else {
            mlp.push_with(g, x, &[])
        };
        if dropout {
            d = g.dropout(d, self.drop.resid);
        }
        let sum = g.push(Op::Add(Add), &[x, d]);
        Ok(self.push(g, norm_op(self.a.norm, rows, h), &[sum], again))
    }

    /// bert's layer (albert, electra): SDPA or eager attention as `hf.rs` lowers bert's.
    fn bert_layer(
        &self,
        g: &mut Graph,
        x: ValueId,
        again: bool,
        ffn_dropout: bool,
    ) -> Result<ValueId> {
        let Shapes { b, s, rows, h } = *self.sh;
        let a = self.a;
        let qd = mul(a.num_heads, a.head_dim)?;
        let q = self.push(g, self.sh.lin(rows, h, qd, true), &[x], again);
        let k = self.push(g, self.sh.lin(rows, h, qd, true), &[x], again);
        let v = self.push(g, self.sh.lin(rows, h, qd, true), &[x], again);
        let att = g.push(
            Op::Attention(Attention::plain(
                b,
                a.num_heads,
                s,
                s,
                a.head_dim,
                self.drop.attn,
            )),
            &[q, k, v],
        );
        let o = self.push(g, self.sh.lin(rows, qd, h, true), &[att], again);
        let o = g.dropout(o, self.drop.resid);
        let sum = g.push(Op::Add(Add), &[x, o]);
        let x = self.push(g, norm_op(a.norm, rows, h), &[sum], again);
        self.feed_forward(g, x, again, ffn_dropout)
    }

    /// FNet's layer: `LayerNorm(x + fftn(x, dim=(1, 2)).real)`, then bert's feed-forward.
    fn fnet_layer(&self, g: &mut Graph, x: ValueId) -> Result<ValueId> {
        let Shapes { rows, h, .. } = *self.sh;
        let numel = mul(rows, h)?;
        let fft = g.push(
            Op::Copy(Copy {
                numel: Some(mul(2, numel)?),
            }),
            &[x],
        );
        // `.real` is a view of the complex tensor, which lives until the add has read it
        let sum = g.push(Op::Add(Add), &[x]);
        g.push(Op::View(View), &[fft]);
        let x = g.push(norm_op(self.a.norm, rows, h), &[sum]);
        self.feed_forward(g, x, false, true)
    }

    fn deberta_encoder(
        &self,
        g: &mut Graph,
        embedded: ValueId,
        ones: ValueId,
        d: &Disentangled,
    ) -> Result<ValueId> {
        let Shapes { b, s, .. } = *self.sh;
        let a = self.a;
        let pairs = mul(s, s)?;
        // `get_attention_mask`: the outer product of the padding mask, batch×1×seq×seq
        let mask = g.push(
            Op::Fill(Fill {
                numel: mul(b, pairs)?,
                dtype: Some(DType::F32),
                buffer: None,
            }),
            &[],
        );
        // the relative positions (bucketed), seq×seq int64, and the relative embeddings
        let rel = match d.relative {
            true => {
                let positions = g.push(
                    Op::Fill(Fill {
                        numel: pairs,
                        dtype: Some(DType::I64),
                        buffer: None,
                    }),
                    &[],
                );
                // `rel_embeddings.weight`, read whole (as a lookup of every row)
                let span2 = mul(2, d.att_span)?;
                let table = g.push(
                    Op::Embedding(Embedding {
                        tokens: span2,
                        vocab: span2,
                        dim: a.hidden_size,
                        tied: false,
                    }),
                    &[positions],
                );
                Some(match d.rel_norm {
                    true => g.push(norm_op(a.norm, span2, a.hidden_size), &[table]),
                    false => table,
                })
            }
            false => None,
        };
        if d.rel_norm && !d.relative {
            // `encoder.LayerNorm` is built, but there are no relative embeddings to norm
            g.push(
                Op::UnusedParam(UnusedParam {
                    numel: mul(2, a.hidden_size)?,
                }),
                &[],
            );
        }
        let mut x = embedded;
        for i in 0..a.num_layers {
            let out = self.deberta_layer(g, x, mask, rel, d)?;
            x = match (&d.conv, i) {
                (Some((kernel, groups, act)), 0) => {
                    self.conv(g, embedded, out, ones, (*kernel, *groups, act))?
                }
                _ => out,
            };
        }
        Ok(x)
    }

    fn deberta_layer(
        &self,
        g: &mut Graph,
        x: ValueId,
        mask: ValueId,
        rel: Option<ValueId>,
        d: &Disentangled,
    ) -> Result<ValueId> {
        let Shapes { b, s, rows, h } = *self.sh;
        let a = self.a;
        let n = a.num_heads;
        let hd = a.head_dim;
        let qd = mul(n, hd)?;
        let bn = mul(b, n)?;
        let per_head = |g: &mut Graph, y: ValueId| g.push(Op::Copy(Copy::default()), &[y]);
        let lin = |rows: u64| self.sh.lin(rows, h, qd, true);
        let q = g.push(lin(rows), &[x]);
        let q = per_head(g, q);
        let k = g.push(lin(rows), &[x]);
        let k = per_head(g, k);
        let v = g.push(lin(rows), &[x]);
        let v = per_head(g, v);
        // `key_layer.transpose(-1, -2) / scale`
        let k_scaled = g.push(Op::Add(Add), &[k]);
        let matmul = |m, k, n| Op::Matmul(Matmul { batch: bn, m, k, n });
        let mut scores = g.push(matmul(s, hd, s), &[q, k_scaled]);
        if let Some(rel) = rel {
            let rel = g.dropout(rel, self.drop.resid);
            let span2 = mul(2, d.att_span)?;
            // the relative embeddings through a projection, per head, repeated per batch
            let project = |g: &mut Graph, own: bool| -> Result<ValueId> {
                let p = match own {
                    true => g.push(lin(span2), &[rel]),
                    false => g.push(Op::Reused(Box::new(lin(span2))), &[rel]),
                };
                let p = per_head(g, p);
                Ok(g.push(
                    Op::Copy(Copy {
                        numel: Some(prod(&[bn, span2, hd])?),
                    }),
                    &[p],
                ))
            };
            let mut bias: Option<ValueId> = None;
            let gathered = prod(&[bn, s, s])?;
            for (on, own, query_side) in
                [(d.c2p, !d.share_att_key, q), (d.p2c, !d.share_att_key, k)]
            {
                if !on {
                    continue;
                }
                let pos = project(g, own)?;
                let att = g.push(matmul(s, hd, span2), &[query_side, pos]);
                let att = g.push(
                    Op::Copy(Copy {
                        numel: Some(gathered),
                    }),
                    &[att],
                );
                let att = g.push(Op::Add(Add), &[att]);
                bias = Some(match bias {
                    // `score = 0; score += c2p_att / scale`: a new tensor
                    None => g.push(Op::Add(Add), &[att]),
                    // `score += p2c_att / scale`: in place
                    Some(prev) => g.push(Op::View(View), &[prev, att]),
                });
            }
            if let Some(bias) = bias {
                scores = g.push(Op::Add(Add), &[scores, bias]);
            }
        }
        // `attention_mask.bool()`, its negation, and the masked fill
        let keep = g.push(Op::Cast(Cast { to: DType::Bool }), &[mask]);
        let masked_out = g.push(Op::Copy(Copy::default()), &[keep]);
        let scores = g.push(Op::Add(Add), &[scores, masked_out]);
        let probs = g.push(
            Op::Act(Act {
                kind: ActKind::Softmax,
            }),
            &[scores],
        );
        let probs = g.dropout(probs, self.drop.attn);
        let ctx = g.push(matmul(s, s, hd), &[probs, v]);
        let ctx = per_head(g, ctx);
        let o = g.push(self.sh.lin(rows, h, h, true), &[ctx]);
        let o = g.dropout(o, self.drop.resid);
        let sum = g.push(Op::Add(Add), &[x, o]);
        let x = g.push(norm_op(a.norm, rows, h), &[sum]);
        self.feed_forward(g, x, false, true)
    }

    /// DeBERTa's `ConvLayer` after the first layer: a Conv1d over the embeddings,
    /// masked, dropout, activation, added to the layer's output, LayerNorm, masked.
    fn conv(
        &self,
        g: &mut Graph,
        embedded: ValueId,
        out: ValueId,
        ones: ValueId,
        (kernel, groups, act): (u64, u64, &String),
    ) -> Result<ValueId> {
        let Shapes { b, s, rows, h } = *self.sh;
        let t = g.push(Op::Copy(Copy::default()), &[embedded]);
        let c = g.push(
            Op::Conv(Conv {
                batch: b,
                in_channels: h,
                out_channels: h,
                dims: vec![ConvDim::new(s, kernel, 1, (kernel - 1) / 2)],
                groups,
                bias: true,
                transposed: false,
                shared_weights: false,
            }),
            &[t],
        );
        let c = g.push(Op::Copy(Copy::default()), &[c]);
        let c = g.dropout(c, self.drop.resid);
        let c = g.push(
            Op::Act(Act {
                kind: act_kind(act),
            }),
            &[c],
        );
        let sum = g.push(Op::Add(Add), &[out, c]);
        let y = g.push(norm_op(self.a.norm, rows, h), &[sum]);
        Ok(g.push(Op::Mul(Mul), &[y, ones]))
    }
}

fn mlp_lin(m: &Mlp, inp: u64, out: u64) -> Linear {
    Linear::new(m.rows, inp, out, m.bias)
}
