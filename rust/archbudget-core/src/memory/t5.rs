//! t5 (encoder-decoder) lowered into the op graph, following `modeling_t5.py` of
//! transformers 5.17.
//!
//! The step (gpu_memory.py has no encoder-decoder case; this is how its protocol reads
//! for t5): the batch is `input_ids` of batch×seq for the encoder, and
//! - head `causal_lm` (`T5ForConditionalGeneration`, the type's LM head): `labels` are
//!   the same ids (gpu_memory.py's `model(input_ids=x, labels=x)`); the model shifts
//!   them right into `decoder_input_ids` (`_shift_right`: a new int64 batch×seq tensor,
//!   made after the encoder ran, which the decoder's embedding keeps) and the loss is
//!   its `CrossEntropyLoss` on the logits as they are (no fp32 upcast, no label copies);
//! - head `base` (`T5Model`): `decoder_input_ids` are the input ids themselves (the
//!   decoder is as long as the encoder) and the loss is the oracle's
//!   `last_hidden_state.float().pow(2).mean()` on the decoder's output;
//! - inference passes `decoder_input_ids=input_ids` (no labels, no loss; the logits or
//!   the last hidden state are kept).
//!
//! Each stack: the shared embedding (one parameter: the decoder's lookup and the LM head
//! reuse it), dropout, blocks of pre-norm sub-layers (T5LayerNorm → sub-layer → dropout
//! → residual add), a final T5LayerNorm and dropout. Self-attention in both stacks,
//! cross-attention on the encoder's output in the decoder, then the feed-forward
//! (`wi` / `wi_0`·`wi_1`, dropout, `wo`; under autocast the inner activation is first
//! cast to `wo`'s fp32 dtype, a transient copy). Attention is unscaled and adds a score
//! bias ([`Attention::score_bias`]): the first self-attention of each stack computes
//! the relative position bias (bucket ids seq×seq, looked up in the `num_buckets`×heads
//! table, permuted: a view) and every later layer reuses it; the decoder's SDPA path
//! turns it into a causal float mask per layer (`torch.where`, a new heads×seq×seq
//! tensor SDPA keeps), its eager path adds the model's causal mask (batch×1×seq×seq)
//! after the bias. The first cross-attention makes a zero bias (heads×seq×seq, never
//! requiring grad) shared the same way. All dropouts use `dropout_rate` (default 0.1).
//! The decoder builds an `EncoderDecoderCache` (`use_cache`, off under gradient
//! checkpointing): each layer copies its self-attention k, v and its cross-attention k,
//! v, held until the output is dropped. `T5ForConditionalGeneration` multiplies the
//! decoder output by `d_model**-0.5` when the config does not set `tie_word_embeddings`
//! to false, then projects it on the tied embedding. Gradient checkpointing: one region
//! per block of either stack.
//!
//! Generation (`generate` on `T5ForConditionalGeneration`): the encoder runs once on
//! the prompt, the decoder's prefill on its start token (`decoder_input_ids` of one
//! token per sequence); its self-attention cache then grows by one position per new
//! token while the cross-attention cache keeps the encoder's k and v as computed
//! ([`CacheGrowth`]), and each new token reruns the decoder alone
//! ([`Graph::decode_from`]).
use super::graph::{CacheGrowth, DType, Graph, InputKind, ValueId};
use super::hf::{Dropouts, Mlp};
use super::ops::*;
use super::{mul, Mode, Precision, Result, RunSettings};
use crate::arch::{HeadKind, Position, TransformerArch};

/// The graph of one step of t5 (`a.kind == EncoderDecoder`) on batch×seq token ids.
pub fn graph(a: &TransformerArch, drop: &Dropouts, run: &RunSettings) -> Result<Graph> {
    let refuse = |what: &str| {
        Err(crate::Error::invalid(
            a.model_type.as_str(),
            format!("the memory model does not lower {what} yet"),
        ))
    };
    let Position::RelativeBuckets { num_buckets, .. } = a.position else {
        return refuse("this encoder-decoder's position encoding");
    };
    let (b, s) = (run.batch, run.seq);
    if b == 0 || s == 0 {
        return Err(crate::Error::invalid(
            "run",
            "batch and seq must be positive",
        ));
    }
    let train = run.mode == Mode::Train;
    // generation: the encoder runs once on the prompt, the decoder's prefill on its
    // start token, and each new token reruns the decoder alone
    let generate = run.mode == Mode::Generate;
    let enc_t = T5 {
        a,
        drop,
        run,
        b,
        s,
        rows: mul(b, s)?,
        enc_s: s,
        num_buckets,
    };
    let dec_s = if generate { 1 } else { s };
    let t = T5 {
        s: dec_s,
        rows: mul(b, dec_s)?,
        ..enc_t
    };
    let rows = t.rows;
    let mut g = Graph::default();
    let ids = g.input(enc_t.rows, InputKind::Index);
    let x = enc_t.embed(&mut g, ids, false);
    let enc = enc_t.stack(&mut g, x, a.num_layers, None, &[])?;
    // generation computes each decoder layer's cross-attention k and v once, in the
    // prefill; the decoded tokens reuse them from the cache
    let cross_kv = if generate {
        (0..a.num_decoder_layers)
            .map(|_| t.cross_kv(&mut g, enc))
            .collect::<Result<Vec<_>>>()?
    } else {
        Vec::new()
    };
    let lm = a.head == HeadKind::Seq2SeqLm;
    // `_shift_right(labels)`: `new_zeros` then slice copies into it (in place)
    let dec_ids = if generate {
        g.decode_from = Some(g.nodes.len());
        g.input(rows, InputKind::Index)
    } else if lm && train {
        g.push(Op::Copy(Copy { numel: Some(rows) }), &[ids])
    } else {
        ids
    };
    let y = t.embed(&mut g, dec_ids, true);
    let mut h = t.stack(&mut g, y, a.num_decoder_layers, Some(enc), &cross_kv)?;
    if lm {
        if a.scale_decoder_outputs {
            // `sequence_output * (model_dim**-0.5)`: a scalar multiply, nothing saved
            h = g.push(Op::Add(Add), &[h]);
        }
        let logits = g.push(
            Op::Linear(Linear {
                rows,
                in_features: a.hidden_size,
                out_features: a.vocab_size,
                bias: false,
                // keras-hub's untied t5 head (transformers' t5 always ties)
                tied_weight: a.tie_word_embeddings,
            }),
            &[h],
        );
        g.push(
            Op::CrossEntropy(CrossEntropy {
                rows,
                classes: a.vocab_size,
                label_copies: vec![],
            }),
            &[logits, ids],
        );
        g.train_only_tail = 1;
        g.infer_output = Some(logits);
    } else {
        let hf = g.push(Op::Cast(Cast { to: DType::F32 }), &[h]);
        g.push(Op::SquareMean(SquareMean), &[hf]);
        g.train_only_tail = 2;
        g.infer_output = Some(h);
    }
    Ok(g)
}

struct T5<'a> {
    a: &'a TransformerArch,
    drop: &'a Dropouts,
    run: &'a RunSettings,
    b: u64,
    /// Positions of this stack (the decoder's: one token in generation's prefill).
    s: u64,
    rows: u64,
    /// Positions of the encoder, which the decoder cross-attends.
    enc_s: u64,
    num_buckets: u64,
}

impl T5<'_> {
    fn embed(&self, g: &mut Graph, ids: ValueId, tied: bool) -> ValueId {
        let e = g.push(
            Op::Embedding(Embedding {
                tokens: self.rows,
                vocab: self.a.vocab_size,
                dim: self.a.hidden_size,
                tied,
            }),
            &[ids],
        );
        self.dropout(g, e)
    }

    fn dropout(&self, g: &mut Graph, x: ValueId) -> ValueId {
        g.push(Op::Dropout(Dropout { p: self.drop.resid }), &[x])
    }

    fn norm(&self, g: &mut Graph, x: ValueId) -> ValueId {
        g.push(
            Op::RmsNorm(RmsNorm {
                rows: self.rows,
                dim: self.a.hidden_size,
                keeps_input: true,
            }),
            &[x],
        )
    }

    /// A decoder layer's cross-attention k and v of the encoder output `enc`, copied
    /// into the cache (computed once, never grown).
    fn cross_kv(&self, g: &mut Graph, enc: ValueId) -> Result<(ValueId, ValueId)> {
        let (d, inner) = (self.a.hidden_size, mul(self.a.num_heads, self.a.head_dim)?);
        let enc_rows = mul(self.b, self.enc_s)?;
        let k = g.push(self.lin_rows(enc_rows, d, inner), &[enc]);
        let v = g.push(self.lin_rows(enc_rows, d, inner), &[enc]);
        let train = self.run.mode == Mode::Train;
        if !(self.run.grad_ckpt && train) {
            let kc = g.push(Op::Copy(Copy::default()), &[k]);
            let vc = g.push(Op::Copy(Copy::default()), &[v]);
            g.forward_held.extend([kc, vc]);
            g.held_caches
                .extend([(kc, CacheGrowth::Fixed), (vc, CacheGrowth::Fixed)]);
        }
        Ok((k, v))
    }

    fn lin(&self, inp: u64, out: u64) -> Op {
        self.lin_rows(self.rows, inp, out)
    }

    fn lin_rows(&self, rows: u64, inp: u64, out: u64) -> Op {
        Op::Linear(Linear {
            rows,
            in_features: inp,
            out_features: out,
            bias: false,
            tied_weight: false,
        })
    }

    /// One stack of `layers` blocks on the embedded `x`; `enc` (the encoder's output)
    /// makes it the decoder.
    fn stack(
        &self,
        g: &mut Graph,
        x: ValueId,
        layers: u64,
        enc: Option<ValueId>,
        cross_kv: &[(ValueId, ValueId)],
    ) -> Result<ValueId> {
        let (a, b, s) = (self.a, self.b, self.s);
        let decoder = enc.is_some();
        let train = self.run.mode == Mode::Train;
        let eager = self.run.attn == AttnImpl::Eager;
        let use_cache = decoder && !(self.run.grad_ckpt && train);
        let (d, heads) = (a.hidden_size, a.num_heads);
        let inner = mul(heads, a.head_dim)?;
        let cross_scores = mul(heads, mul(s, self.enc_s)?)?;
        let generate = self.run.mode == Mode::Generate;
        let mask_numel = mul(b, mul(s, s)?)?;
        // the eager decoder's causal mask (`create_causal_mask`); SDPA and the encoder
        // need none
        let mask = (decoder && eager).then(|| {
            g.push(
                Op::Fill(Fill {
                    numel: mask_numel,
                    dtype: None,
                    buffer: None,
                }),
                &[],
            )
        });
        let attn = Attention {
            batch: b,
            heads,
            kv_heads: heads,
            q_len: s,
            kv_len: s,
            head_dim: a.head_dim,
            v_head_dim: a.head_dim,
            causal: decoder,
            dropout: self.drop.attn,
            eager_mask: mask.is_some(),
            softmax_fp32: false,
            fused_qkv: false,
            score_bias: true,
            sinks: false,
        };
        let mut h = x;
        let mut self_bias = None;
        let mut cross_bias = None;
        for layer in 0..layers as usize {
            let first = g.nodes.len();
            // self-attention
            let n = self.norm(g, h);
            let q = g.push(self.lin(d, inner), &[n]);
            let k = g.push(self.lin(d, inner), &[n]);
            let v = g.push(self.lin(d, inner), &[n]);
            if use_cache {
                let kc = g.push(Op::Copy(Copy::default()), &[k]);
                let vc = g.push(Op::Copy(Copy::default()), &[v]);
                g.forward_held.extend([kc, vc]);
                if generate {
                    let growth = CacheGrowth::From(s);
                    g.held_caches.extend([(kc, growth), (vc, growth)]);
                }
            }
            let bias = match self_bias {
                Some(p) => p,
                None => {
                    // `compute_bias`: bucket ids, the table lookup, a permute
                    let buckets = g.push(
                        Op::Fill(Fill {
                            numel: mul(s, s)?,
                            dtype: Some(DType::I64),
                            buffer: None,
                        }),
                        &[],
                    );
                    let table = g.push(
                        Op::Embedding(Embedding {
                            tokens: mul(s, s)?,
                            vocab: self.num_buckets,
                            dim: heads,
                            tied: false,
                        }),
                        &[buckets],
                    );
                    let p = g.push(Op::View(View), &[table]);
                    self_bias = Some(p);
                    p
                }
            };
            // SDPA in the decoder: `torch.where(causal, position_bias, min)` per layer
            let bias = if decoder && !eager {
                g.push(Op::Copy(Copy::default()), &[bias])
            } else {
                bias
            };
            let mut ins = vec![q, k, v, bias];
            ins.extend(mask);
            let att = g.push(Op::Attention(attn.clone()), &ins);
            let o = g.push(self.lin(inner, d), &[att]);
            let o = self.dropout(g, o);
            h = g.push(Op::Add(Add), &[h, o]);
            // cross-attention on the encoder's output
            if let Some(enc) = enc {
                let n = self.norm(g, h);
                let q = g.push(self.lin(d, inner), &[n]);
                let (k, v) = match cross_kv.get(layer) {
                    Some(&kv) => kv,
                    None => self.cross_kv(g, enc)?,
                };
                // the first layer's `torch.zeros` bias, in the query's dtype
                let zeros = *cross_bias.get_or_insert_with(|| {
                    let dtype = (self.run.precision != Precision::Fp32).then_some(DType::BF16);
                    g.push(
                        Op::Fill(Fill {
                            numel: cross_scores,
                            dtype,
                            buffer: None,
                        }),
                        &[],
                    )
                });
                let cross = Attention {
                    kv_len: self.enc_s,
                    causal: false,
                    eager_mask: false,
                    ..attn.clone()
                };
                let att = g.push(Op::Attention(cross), &[q, k, v, zeros]);
                let o = g.push(self.lin(inner, d), &[att]);
                let o = self.dropout(g, o);
                h = g.push(Op::Add(Add), &[h, o]);
            }
            // feed-forward
            let n = self.norm(g, h);
            let act = match a.activation.as_str() {
                "relu" => ActKind::Relu,
                "silu" | "swish" => ActKind::Silu,
                "gelu_new" => ActKind::GeluPython,
                _ => ActKind::Gelu,
            };
            let mlp = Mlp {
                rows: self.rows,
                hidden: d,
                inter: a.intermediate_size,
                gated: a.gated_mlp,
                bias: false,
                act,
            };
            let mut before_down = vec![Op::Dropout(Dropout { p: self.drop.resid })];
            if self.run.precision == Precision::AmpBf16 {
                // `hidden_states.to(self.wo.weight.dtype)`: bf16 under autocast, fp32 weight
                before_down.push(Op::Cast(Cast { to: DType::F32 }));
            }
            let f = mlp.push_with(g, n, &before_down);
            let f = self.dropout(g, f);
            h = g.push(Op::Add(Add), &[h, f]);
            if self.run.grad_ckpt {
                g.checkpoint_regions.push((first, g.nodes.len() - 1));
            }
        }
        let n = self.norm(g, h);
        Ok(self.dropout(g, n))
    }
}
