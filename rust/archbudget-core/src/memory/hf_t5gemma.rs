//! t5gemma (`formats::hf::t5gemma`) lowered into the op graph, as `modeling_t5gemma.py`
//! of transformers 5.24 runs it, on the step of the other encoder-decoders
//! (`seq2seq.rs`): batch×seq `input_ids` into the encoder; with the LM head `labels` are
//! the same ids, which `_shift_right` turns into the decoder's ids (a new int64 tensor,
//! made before the encoder runs); the bare model reads the ids themselves as
//! `decoder_input_ids` and its loss is `last_hidden_state.float().pow(2).mean()`.
//!
//! Each stack: its own token lookup times `sqrt(hidden_size)` (a new tensor), dropout,
//! its rotary cos/sin (the stack's own `inv_freq`), then Gemma 2 blocks: RMSNorm →
//! sub-layer → RMSNorm → dropout → residual add, for self-attention (rotary q and k),
//! in the decoder cross-attention on the encoder's output (no rotary), and the gated
//! MLP (dropout before `down_proj`); a final RMSNorm and dropout. Attention is always
//! transformers' eager code (the model declares no SDPA support: softcapping): k and v
//! repeated to every head, scores in fp32 softmax. Its masks (`eager_mask`, the
//! embeddings' dtype): the decoder's causal one and, with sliding layers, its sliding
//! one, each batch×1×S×S; the encoder's are skipped (no padding) but for its sliding
//! layers when the sequence is longer than the window; cross-attention gets none (no
//! encoder mask is passed). The softcap's tanh on the scores is not charged, as for
//! gemma2 (the three score-sized temporaries it adds are the eager path's, not kept).
//! The decoder builds an `EncoderDecoderCache` only when not training (`use_cache`):
//! each layer copies its self-attention k, v (a sliding layer's up to its window) and
//! its cross-attention k, v. The LM head (`lm_head.out_proj`, tied to the decoder's
//! table unless `tie_word_embeddings` is false) is followed by the logits' softcap
//! (`/ cap`, `tanh`, `* cap`: three new logits-sized tensors, tanh's output saved) and
//! the `ForMaskedLM` loss (`logits.float()`, cross-entropy on batch·seq rows).
//! Gradient checkpointing: one region per layer of either stack.
use super::graph::{DType, Graph, InputKind, ValueId};
use super::hf::{Dropouts, Mlp};
use super::hf_decoder::{hold_kv_cache, norm_op};
use super::ops::*;
use super::{mul, Mode, Result, RunSettings};
use crate::arch::{AttentionSpan, HeadKind, NormKind, TransformerArch};
use crate::formats::hf::t5gemma::{GemmaStack, T5Gemma};

/// The graph of one step of a t5gemma model on batch×seq token ids.
pub fn graph(
    a: &TransformerArch,
    t: &T5Gemma,
    drop: &Dropouts,
    run: &RunSettings,
) -> Result<Graph> {
    if run.lora.is_some() || run.quantize.is_some() {
        return Err(crate::Error::invalid(
            "t5gemma",
            "LoRA and quantized weights are not lowered for encoder-decoder models (t5, bart, whisper, t5gemma) yet",
        ));
    }
    if run.mode == Mode::Generate {
        return Err(crate::Error::invalid(
            "t5gemma",
            "generation is not lowered for t5gemma yet; use --mode train or infer",
        ));
    }
    if t.merged_attention && t.encoder.hidden != t.decoder.hidden {
        return Err(crate::Error::invalid(
            "T5Gemma2",
            format!(
                "the decoder's merged attention projects the encoder's output with its own k_proj and v_proj, so encoder_hidden_dim ({}) must equal decoder_hidden_dim ({}); keras-hub builds such a model but cannot call it",
                t.encoder.hidden, t.decoder.hidden
            ),
        ));
    }
    let (b, s) = (run.batch, run.seq);
    if b == 0 || s == 0 {
        return Err(crate::Error::invalid(
            "run",
            "batch and seq must be positive",
        ));
    }
    let train = run.mode == Mode::Train;
    let lm = a.head == HeadKind::Seq2SeqLm;
    let rows = mul(b, s)?;
    let mut g = Graph::default();
    if t.unused_params > 0 {
        g.push(
            Op::UnusedParam(UnusedParam {
                numel: t.unused_params,
            }),
            &[],
        );
    }
    let ids = g.input(rows, InputKind::Index);
    // `_shift_right(labels)`: `new_zeros` filled by slice copies
    let dec_ids = match lm && train {
        true => g.push(Op::Copy(Copy { numel: Some(rows) }), &[ids]),
        false => ids,
    };
    let enc = Stack {
        s: &t.encoder,
        t,
        drop,
        run,
        b,
        seq: s,
        rows,
        decoder: false,
        use_cache: false,
    };
    let x = enc.embed(&mut g, ids)?;
    let enc_out = enc.layers(&mut g, x, None)?;
    let dec = Stack {
        s: &t.decoder,
        decoder: true,
        // `if not self.training and use_cache and cache is None`
        use_cache: !train,
        ..enc
    };
    let y = dec.embed(&mut g, dec_ids)?;
    let h = dec.layers(&mut g, y, Some((enc_out, t.encoder.hidden)))?;
    if lm {
        let mut logits = g.push(
            Op::Linear(Linear {
                rows,
                in_features: t.decoder.hidden,
                out_features: t.decoder.vocab,
                bias: false,
                tied_weight: a.tie_word_embeddings,
            }),
            &[h],
        );
        if t.decoder.final_softcap {
            logits = softcap(&mut g, logits);
        }
        let lf = g.push(Op::Cast(Cast { to: DType::F32 }), &[logits]);
        g.push(
            Op::CrossEntropy(CrossEntropy {
                rows,
                classes: t.decoder.vocab,
                label_copies: vec![],
            }),
            &[lf, ids],
        );
        g.train_only_tail = 2;
        g.infer_output = Some(logits);
    } else {
        let hf = g.push(Op::Cast(Cast { to: DType::F32 }), &[h]);
        g.push(Op::SquareMean(SquareMean), &[hf]);
        g.train_only_tail = 2;
        g.infer_output = Some(h);
    }
    Ok(g)
}

/// `x / cap`, `tanh`, `* cap`: three new tensors, tanh's output saved.
fn softcap(g: &mut Graph, x: ValueId) -> ValueId {
    let x = g.push(Op::Add(Add), &[x]);
    let x = g.push(
        Op::Act(Act {
            kind: ActKind::Tanh,
        }),
        &[x],
    );
    g.push(Op::Add(Add), &[x])
}

/// One stack's lowering.
#[derive(Clone, Copy)]
struct Stack<'a> {
    s: &'a GemmaStack,
    t: &'a T5Gemma,
    drop: &'a Dropouts,
    run: &'a RunSettings,
    b: u64,
    seq: u64,
    rows: u64,
    decoder: bool,
    use_cache: bool,
}

impl Stack<'_> {
    fn norm(&self, g: &mut Graph, x: ValueId) -> ValueId {
        g.push(norm_op(NormKind::RmsNorm, self.rows, self.s.hidden), &[x])
    }

    fn dropout(&self, g: &mut Graph, x: ValueId, p: f64) -> ValueId {
        g.push(Op::Dropout(Dropout { p }), &[x])
    }

    fn lin(&self, rows: u64, in_features: u64, out_features: u64, bias: bool) -> Op {
        Op::Linear(Linear {
            rows,
            in_features,
            out_features,
            bias,
            tied_weight: false,
        })
    }

    /// The lookup times the `normalizer` (a new tensor), then dropout.
    fn embed(&self, g: &mut Graph, ids: ValueId) -> Result<ValueId> {
        let e = g.push(
            Op::Embedding(Embedding {
                tokens: self.rows,
                vocab: self.s.vocab,
                dim: self.s.hidden,
                tied: false,
            }),
            &[ids],
        );
        let e = g.push(Op::Add(Add), &[e]);
        Ok(self.dropout(g, e, self.drop.embed))
    }

    /// The eager mask (`numel` elements) of `span`'s layers, if transformers makes one.
    fn mask(&self, g: &mut Graph, span: AttentionSpan, numel: u64) -> Option<ValueId> {
        let made = match span {
            // `create_causal_mask` / `create_sliding_window_causal_mask`
            _ if self.decoder => true,
            // bidirectional masks are skipped without padding, a sliding one unless the
            // sequence outruns its window
            AttentionSpan::Sliding(w) => self.seq > w,
            _ => false,
        };
        made.then(|| {
            g.push(
                Op::Fill(Fill {
                    numel,
                    dtype: None,
                    buffer: None,
                }),
                &[],
            )
        })
    }

    /// The embedded `x` through every layer, the final norm and dropout; `cross`: the
    /// encoder's output and width, which a decoder cross-attends.
    fn layers(&self, g: &mut Graph, x: ValueId, cross: Option<(ValueId, u64)>) -> Result<ValueId> {
        let st = self.s;
        let mask_numel = mul(self.b, mul(self.seq, self.seq)?)?;
        // `inv_freq` and `original_inv_freq`, then cos and sin of every position
        let table = |g: &mut Graph| -> Result<ValueId> {
            Ok(g.push(
                Op::Fill(Fill {
                    numel: mul(self.seq, st.head_dim)?,
                    dtype: None,
                    buffer: Some((st.head_dim / 2, DType::F32)),
                }),
                &[],
            ))
        };
        // one pair per layer type with T5Gemma 2 (`{layer_type}_inv_freq`), else one
        let mut spans: Vec<AttentionSpan> = Vec::new();
        for l in &st.layers {
            if !spans.contains(&l.span) && (self.t.merged_attention || spans.is_empty()) {
                spans.push(l.span);
            }
        }
        let mut rotary = Vec::new();
        for span in spans {
            rotary.push((span, (table(g)?, table(g)?)));
        }
        let cos_sin = |span: AttentionSpan| {
            rotary
                .iter()
                .find(|(s, _)| *s == span)
                .unwrap_or(&rotary[0])
                .1
        };
        let full = self.mask(g, AttentionSpan::Full, mask_numel);
        let window = st.layers.iter().find_map(|l| match l.span {
            AttentionSpan::Full => None,
            span => Some(span),
        });
        let sliding = window.and_then(|span| self.mask(g, span, mask_numel));
        // T5Gemma 2's merged masks: each self mask joined to the cross one (made, not
        // skipped: `allow_is_bidirectional_skip=False`), both kinds always
        let (full, sliding) = match (self.t.merged_attention, cross) {
            (true, Some(_)) => {
                let enc_seq = self.seq;
                let cross_numel = mul(self.b, mul(self.seq, enc_seq)?)?;
                let cross_mask = g.push(
                    Op::Fill(Fill {
                        numel: cross_numel,
                        dtype: None,
                        buffer: None,
                    }),
                    &[],
                );
                let self_sliding = match sliding {
                    Some(m) => m,
                    None => self
                        .mask(g, AttentionSpan::Sliding(0), mask_numel)
                        .expect("a decoder mask"),
                };
                let joined = mask_numel + cross_numel;
                let mut join = |m: Option<ValueId>| {
                    m.map(|m| {
                        g.push(
                            Op::Copy(Copy {
                                numel: Some(joined),
                            }),
                            &[m, cross_mask],
                        )
                    })
                };
                (join(full), join(Some(self_sliding)))
            }
            _ => (full, sliding),
        };
        let (q_out, kv_out) = (mul(st.heads, st.head_dim)?, mul(st.kv_heads, st.head_dim)?);
        let attn = Attention {
            batch: self.b,
            heads: st.heads,
            kv_heads: st.kv_heads,
            q_len: self.seq,
            kv_len: self.seq,
            head_dim: st.head_dim,
            v_head_dim: st.head_dim,
            causal: self.decoder,
            dropout: self.drop.attn,
            eager_mask: false,
            softmax_fp32: true,
            fused_qkv: false,
            score_bias: false,
            sinks: false,
            eager_only: true,
        };
        let mut h = x;
        for kind in &st.layers {
            let first = g.nodes.len();
            let mask = match kind.span {
                AttentionSpan::Full => full,
                _ => sliding,
            };
            let merged = cross.filter(|_| self.t.merged_attention);
            h = self.sublayer(g, h, |g, n| {
                let q = g.push(self.lin(self.rows, st.hidden, q_out, st.bias), &[n]);
                let k = g.push(self.lin(self.rows, st.hidden, kv_out, st.bias), &[n]);
                let v = g.push(self.lin(self.rows, st.hidden, kv_out, st.bias), &[n]);
                let (q, k) = match self.t.qk_norm {
                    true => (
                        self.head_norm(g, q, st.heads, false)?,
                        self.head_norm(g, k, st.kv_heads, false)?,
                    ),
                    false => (q, k),
                };
                let (cos, sin) = cos_sin(kind.span);
                let q = g.push(Op::Rotary(Rotary), &[q, cos, sin]);
                let k = g.push(Op::Rotary(Rotary), &[k, cos, sin]);
                if self.use_cache {
                    hold_kv_cache(g, *kind, [k, v]);
                }
                let (k, v, kv_len) = match merged {
                    Some((enc, enc_hidden)) => {
                        // the same k_proj, v_proj (and k_norm) on the encoder's output
                        let again = |op: Op| Op::Reused(Box::new(op));
                        let ck = g.push(
                            again(self.lin(self.rows, enc_hidden, kv_out, st.bias)),
                            &[enc],
                        );
                        let cv = g.push(
                            again(self.lin(self.rows, enc_hidden, kv_out, st.bias)),
                            &[enc],
                        );
                        let ck = match self.t.qk_norm {
                            true => self.head_norm(g, ck, st.kv_heads, true)?,
                            false => ck,
                        };
                        if self.use_cache {
                            let held = [ck, cv].map(|t| g.push(Op::Copy(Copy::default()), &[t]));
                            g.forward_held.extend(held);
                        }
                        // `torch.cat` of self and cross keys, and of the values
                        let both = Some(mul(2, mul(self.rows, kv_out)?)?);
                        let k = g.push(Op::Copy(Copy { numel: both }), &[k, ck]);
                        let v = g.push(Op::Copy(Copy { numel: both }), &[v, cv]);
                        (k, v, 2 * self.seq)
                    }
                    None => (k, v, self.seq),
                };
                let mut ins = vec![q, k, v];
                ins.extend(mask);
                let op = Attention {
                    eager_mask: mask.is_some(),
                    kv_len,
                    // the merged mask holds the causal part
                    causal: self.decoder && merged.is_none(),
                    ..attn.clone()
                };
                let att = g.push(Op::Attention(op), &ins);
                Ok(g.push(self.lin(self.rows, q_out, st.hidden, st.bias), &[att]))
            })?;
            if let Some((enc, enc_hidden)) = cross.filter(|_| merged.is_none()) {
                h = self.sublayer(g, h, |g, n| {
                    let q = g.push(self.lin(self.rows, st.hidden, q_out, st.bias), &[n]);
                    let k = g.push(self.lin(self.rows, enc_hidden, kv_out, st.bias), &[enc]);
                    let v = g.push(self.lin(self.rows, enc_hidden, kv_out, st.bias), &[enc]);
                    if self.use_cache {
                        let held = [k, v].map(|t| g.push(Op::Copy(Copy::default()), &[t]));
                        g.forward_held.extend(held);
                    }
                    let cross = Attention {
                        causal: false,
                        ..attn.clone()
                    };
                    let att = g.push(Op::Attention(cross), &[q, k, v]);
                    Ok(g.push(self.lin(self.rows, q_out, st.hidden, st.bias), &[att]))
                })?;
            }
            h = self.sublayer(g, h, |g, n| {
                let mlp = Mlp {
                    rows: self.rows,
                    hidden: st.hidden,
                    inter: st.inter,
                    gated: true,
                    bias: false,
                    act: activation(&st.activation),
                };
                let before_down = [Op::Dropout(Dropout {
                    p: self.drop.activation,
                })];
                Ok(mlp.push_with(g, n, &before_down))
            })?;
            if self.run.grad_ckpt {
                g.checkpoint_regions.push((first, g.nodes.len() - 1));
            }
        }
        let n = self.norm(g, h);
        Ok(self.dropout(g, n, self.drop.resid))
    }

    /// An RMSNorm over each of `heads` heads of a projection; `again`: the same module
    /// once more (T5Gemma 2's `k_norm` on the cross keys), its weight counted once.
    fn head_norm(&self, g: &mut Graph, x: ValueId, heads: u64, again: bool) -> Result<ValueId> {
        let op = norm_op(NormKind::RmsNorm, mul(self.rows, heads)?, self.s.head_dim);
        let op = if again { Op::Reused(Box::new(op)) } else { op };
        Ok(g.push(op, &[x]))
    }

    /// A Gemma 2 sandwich around `body`: norm, body, norm, dropout, residual add.
    fn sublayer(
        &self,
        g: &mut Graph,
        h: ValueId,
        body: impl FnOnce(&mut Graph, ValueId) -> Result<ValueId>,
    ) -> Result<ValueId> {
        let n = self.norm(g, h);
        let o = body(g, n)?;
        let o = self.norm(g, o);
        let o = self.dropout(g, o, self.drop.resid);
        Ok(g.push(Op::Add(Add), &[h, o]))
    }
}

/// The MLP activation as the decoder lowerings map transformers' names.
fn activation(name: &str) -> ActKind {
    match name {
        "silu" | "swish" => ActKind::Silu,
        "relu" => ActKind::Relu,
        "gelu_new" => ActKind::GeluPython,
        _ => ActKind::Gelu,
    }
}
