//! The encoder-decoders (t5, bart, whisper) lowered into the op graph: one lowering, the
//! layout ([`Layout`]) naming what bart and whisper do differently from t5. t5 follows
//! `modeling_t5.py` of transformers 5.17, bart `modeling_bart.py` and whisper
//! `modeling_whisper.py` of 5.24.
//!
//! The step (gpu_memory.py has no encoder-decoder case; this is how its protocol reads
//! for t5, and for bart alike): the batch is `input_ids` of batch×seq for the encoder, and
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
//! bart, where it differs: the stacks' embeddings are the token lookup times
//! `embed_scale` (a new tensor even at 1.0), plus learned positions (ids `arange + 2`:
//! batch×seq in the encoder, one row of seq in the decoder, broadcast), then
//! `layernorm_embedding` and dropout; blocks are post-norm (sub-layer → dropout →
//! residual add → LayerNorm), biased, scaled attention with no score bias, the
//! feed-forward `fc1` → act → `activation_dropout` → `fc2` → dropout; no final norm.
//! With labels `BartForConditionalGeneration` sets `use_cache=False` (no cache) and
//! shifts them right (`shift_tokens_right`: a new int64 batch×seq tensor); its logits
//! add the `final_logits_bias` buffer (a new logits-sized tensor, fp32 under autocast).
//! Untied (`tie_word_embeddings` false) each stack has its own token table and the LM
//! head its own matrix, and `model.shared` is never read (weights, no gradient).
//!
//! whisper, where it differs: the encoder reads `input_features` (batch × mel bins × 2·
//! `max_source_positions` frames, float) through the audio front end (two Conv1d with
//! GELU, the second of stride 2, then the frozen sinusoid table added) and always runs
//! on `max_source_positions` positions; `seq` is the decoder's length, its token ids a
//! second input (the labels, shifted right by `shift_tokens_right` into a new int64
//! tensor, or `decoder_input_ids`), at most `max_target_positions`. The decoder adds its
//! learned positions (ids `arange(seq)` repeated to the batch: batch×seq int64) to the
//! token lookup, unscaled. Blocks are pre-norm LayerNorm ones, as t5's; attention is
//! handed copies (`q_proj(x) * scaling` and each of q, k, v made contiguous), `k_proj`
//! has no bias, SDPA runs with scale 1; the feed-forward is bart's; each stack ends in a
//! LayerNorm (no dropout after it). The LM head `proj_out` is tied to the decoder's
//! table; no logits bias. Labels leave the cache on (only gradient checkpointing turns
//! it off), and attention reads the cache's copies. In generation the decoder starts
//! from its start token alone, as bart's.
//!
//! Generation (`generate` on the LM class): the encoder runs once on the prompt, the
//! decoder's prefill on its start token (`decoder_input_ids` of one
//! token per sequence); its self-attention cache then grows by one position per new
//! token while the cross-attention cache keeps the encoder's k and v as computed
//! ([`CacheGrowth`]), and each new token reruns the decoder alone
//! ([`Graph::decode_from`]).
use super::graph::{CacheGrowth, DType, Graph, InputKind, ValueId};
use super::hf::{Dropouts, Mlp};
use super::hf_decoder::norm_op;
use super::ops::*;
use super::{mul, Mode, Precision, Result, RunSettings};
use crate::arch::{AudioFrontend, HeadKind, NormKind, Position, TransformerArch};

/// What differs between the encoder-decoders, read from the arch's position encoding.
#[derive(Clone, Copy, PartialEq)]
enum Layout {
    /// t5: relative position buckets, pre-norm RMS blocks, no biases, unscaled
    /// attention with the bias added to the scores, a final norm per stack.
    T5 { num_buckets: u64 },
    /// bart: learned positions (`rows`, the offset of 2 included) and an embedding
    /// LayerNorm, post-norm biased blocks, scaled attention, no final norm.
    Bart { position_rows: u64 },
    /// whisper: log-mel features through the audio front end into the encoder, learned
    /// decoder positions (the arch's `max_positions` rows), pre-norm LayerNorm blocks,
    /// copies of q (scaled), k and v heads for attention, a final norm per stack.
    Whisper { audio: AudioFrontend },
}

/// The graph of one step of an encoder-decoder (`a.kind == EncoderDecoder`) on
/// batch×seq token ids.
pub fn graph(a: &TransformerArch, drop: &Dropouts, run: &RunSettings) -> Result<Graph> {
    let layout = match (a.details.audio, a.position) {
        (Some(audio), _) => Layout::Whisper { audio },
        (None, Position::RelativeBuckets { num_buckets, .. }) => Layout::T5 { num_buckets },
        (None, Position::Learned { rows }) => Layout::Bart {
            position_rows: rows,
        },
        _ => {
            return Err(crate::Error::invalid(
                a.model_type.as_str(),
                "the memory model does not lower this encoder-decoder's position encoding yet",
            ))
        }
    };
    let bart = matches!(layout, Layout::Bart { .. });
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
    let lm = a.head == HeadKind::Seq2SeqLm;
    // whisper's encoder runs on its fixed number of positions; `seq` is the decoder's
    let enc_s = match layout {
        Layout::Whisper { audio } => {
            check_decoder_positions(a, run)?;
            audio.positions
        }
        _ => s,
    };
    let enc_t = Stack {
        a,
        drop,
        run,
        layout,
        b,
        s: enc_s,
        rows: mul(b, enc_s)?,
        enc_s,
        // bart's LM class turns the cache off when it is given labels
        use_cache: !(train && (run.grad_ckpt || bart && lm)),
        image_features: None,
    };
    let dec_s = if generate { 1 } else { s };
    let t = Stack {
        s: dec_s,
        rows: mul(b, dec_s)?,
        ..enc_t
    };
    let whisper = matches!(layout, Layout::Whisper { .. });
    let rows = t.rows;
    let mut g = Graph::default();
    if bart && !a.tie_word_embeddings {
        // `model.shared`, untied from both stacks' tables, which the forward reads
        g.push(
            Op::UnusedParam(UnusedParam {
                numel: mul(a.vocab_size, a.hidden_size)?,
            }),
            &[],
        );
    }
    let encoder_input = match layout {
        // whisper's `input_features`: batch × mel bins × frames, as long in generation
        Layout::Whisper { audio } => {
            let features = g.input(
                prod(&[b, audio.mel_bins, mul(2, audio.positions)?])?,
                InputKind::Float,
            );
            g.fixed_inputs.push(features);
            features
        }
        _ => g.input(enc_t.rows, InputKind::Index),
    };
    // whisper's decoder ids (or labels) are its own input beside the features
    let decoder_given = (whisper && !generate).then(|| g.input(rows, InputKind::Index));
    // generation's decoder ids are an input too, declared before any node: a value id
    // counts the inputs, so one added later would shift every id pushed before it
    let generated_ids = generate.then(|| g.input(rows, InputKind::Index));
    // the ids the decoder reads and the loss compares with
    let ids = match (decoder_given, generated_ids) {
        (Some(given), _) => given,
        (None, Some(generated)) if whisper => generated,
        _ => encoder_input,
    };
    // blip-2 computes its image features before embedding the prompt
    let enc_t = match &a.details.blip2 {
        Some(b2) => Stack {
            image_features: Some(super::hf_blip2::image_features(a, b2, run, &mut g)?),
            ..enc_t
        },
        None => enc_t,
    };
    let x = enc_t.embed(&mut g, encoder_input, false)?;
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
    // `_shift_right(labels)` / `shift_tokens_right`: `new_zeros` then slice copies into
    // it (in place)
    let dec_ids = if let Some(generated) = generated_ids {
        g.decode_from = Some(g.nodes.len());
        generated
    } else if lm && train {
        g.push(Op::Copy(Copy { numel: Some(rows) }), &[ids])
    } else {
        ids
    };
    let y = t.embed(&mut g, dec_ids, true)?;
    let mut h = t.stack(&mut g, y, a.num_decoder_layers, Some(enc), &cross_kv)?;
    if lm {
        if a.scale_decoder_outputs {
            // `sequence_output * (model_dim**-0.5)`: a scalar multiply, nothing saved
            h = g.push(Op::Add(Add), &[h]);
        }
        let mut logits = g.push(
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
        if bart {
            // `lm_logits + self.final_logits_bias`: a held buffer, a new logits tensor
            let dtype = if run.precision == Precision::Bf16 {
                DType::BF16
            } else {
                DType::F32
            };
            let bias = g.push(
                Op::Fill(Fill {
                    numel: 0,
                    dtype: Some(dtype),
                    buffer: Some((a.vocab_size, dtype)),
                }),
                &[],
            );
            logits = g.push(Op::Add(Add), &[logits, bias]);
        }
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

/// whisper's decoder positions are a table of `max_target_positions` rows:
/// transformers refuses longer labels, and `generate` (`_set_max_new_tokens_and_length`)
/// more new tokens than the table holds beside the start token.
fn check_decoder_positions(a: &TransformerArch, run: &RunSettings) -> Result<()> {
    let limit = a.max_positions;
    let holds = format!(
        "whisper's decoder holds {limit} positions (max_target_positions, KerasHub's max_decoder_sequence_length)"
    );
    let message = match run.mode {
        Mode::Generate if run.new_tokens >= limit => format!(
            "--new-tokens {}: with the start token that is more than {holds}; use at most {}",
            run.new_tokens,
            limit.saturating_sub(1)
        ),
        Mode::Train | Mode::Infer if run.seq > limit => {
            format!("--seq {}: more than {holds}; use at most {limit}", run.seq)
        }
        _ => return Ok(()),
    };
    Err(crate::Error::invalid("run", message))
}

/// One stack's lowering.
struct Stack<'a> {
    a: &'a TransformerArch,
    drop: &'a Dropouts,
    run: &'a RunSettings,
    layout: Layout,
    b: u64,
    /// Positions of this stack (the decoder's: one token in generation's prefill).
    s: u64,
    rows: u64,
    /// Positions of the encoder, which the decoder cross-attends.
    enc_s: u64,
    /// The decoder builds an `EncoderDecoderCache`.
    use_cache: bool,
    /// blip-2's projected image features, scattered into the encoder's embeddings.
    image_features: Option<ValueId>,
}

impl Stack<'_> {
    fn bart(&self) -> bool {
        matches!(self.layout, Layout::Bart { .. })
    }

    fn whisper(&self) -> bool {
        matches!(self.layout, Layout::Whisper { .. })
    }

    /// The token embedding and what each type adds to it; `decoder`: the decoder's,
    /// which reads the encoder's table (t5 always, bart when tied; whisper's decoder
    /// owns the table). whisper's encoder embeds features instead.
    fn embed(&self, g: &mut Graph, ids: ValueId, decoder: bool) -> Result<ValueId> {
        let a = self.a;
        if let (Layout::Whisper { audio }, false) = (self.layout, decoder) {
            return self.audio_frontend(g, ids, audio);
        }
        let e = g.push(
            Op::Embedding(Embedding {
                tokens: self.rows,
                vocab: a.vocab_size,
                dim: a.hidden_size,
                tied: decoder
                    && match self.layout {
                        Layout::T5 { .. } => true,
                        Layout::Bart { .. } => a.tie_word_embeddings,
                        Layout::Whisper { .. } => false,
                    },
            }),
            &[ids],
        );
        let e = match (self.image_features, decoder) {
            (Some(features), false) => {
                super::hf_blip2::scatter(g, (e, features), self.rows, self.run.precision)
            }
            _ => e,
        };
        let (e, position_rows, positions) = match self.layout {
            Layout::T5 { .. } => return Ok(self.dropout(g, e, self.drop.resid)),
            // `* self.embed_scale`, then the positions: `arange + offset` ids (the
            // encoder's expanded to the batch, the decoder's one row, broadcast in the add)
            Layout::Bart { position_rows } => (
                g.push(Op::Add(Add), &[e]),
                position_rows,
                if decoder { self.s } else { self.rows },
            ),
            // no `embed_scale` applied; `arange(seq).unsqueeze(0).repeat(batch, 1)` ids
            Layout::Whisper { .. } => (e, a.max_positions, self.rows),
        };
        let pos_ids = g.push(
            Op::Fill(Fill {
                numel: positions,
                dtype: Some(DType::I64),
                buffer: None,
            }),
            &[],
        );
        let p = g.push(
            Op::Embedding(Embedding {
                tokens: positions,
                vocab: position_rows,
                dim: a.hidden_size,
                tied: false,
            }),
            &[pos_ids],
        );
        let x = g.push(Op::Add(Add), &[e, p]);
        let x = if self.bart() { self.norm(g, x) } else { x };
        Ok(self.dropout(g, x, self.drop.embed))
    }

    /// whisper's `WhisperEncoder` front end: `gelu(conv1(features))`, `gelu(conv2(·))`
    /// (stride 2: one output per encoder position), the permute (a view), plus the
    /// frozen sinusoid table looked up at every position (`arange` ids; under autocast
    /// the fp32 table promotes the sum to fp32), then dropout.
    fn audio_frontend(
        &self,
        g: &mut Graph,
        features: ValueId,
        audio: AudioFrontend,
    ) -> Result<ValueId> {
        let (b, d, p) = (self.b, self.a.hidden_size, audio.positions);
        let frames = mul(2, p)?;
        let conv = |in_channels: u64, stride: u64| {
            Op::Conv(Conv {
                batch: b,
                in_channels,
                out_channels: d,
                dims: vec![ConvDim::new(frames, 3, stride, 1)],
                groups: 1,
                bias: true,
                transposed: false,
                shared_weights: false,
            })
        };
        let gelu = || {
            Op::Act(Act {
                kind: ActKind::Gelu,
            })
        };
        let x = g.push(conv(audio.mel_bins, 1), &[features]);
        let x = g.push(gelu(), &[x]);
        let x = g.push(conv(d, 2), &[x]);
        let x = g.push(gelu(), &[x]);
        let x = g.push(Op::View(View), &[x]);
        let ids = g.push(
            Op::Fill(Fill {
                numel: p,
                dtype: Some(DType::I64),
                buffer: None,
            }),
            &[],
        );
        let lookup = g.nodes.len();
        let table = g.push(
            Op::Embedding(Embedding {
                tokens: p,
                vocab: p,
                dim: d,
                tied: false,
            }),
            &[ids],
        );
        g.freeze(lookup..lookup + 1);
        let x = g.push(Op::Add(Add), &[x, table]);
        Ok(self.dropout(g, x, self.drop.embed))
    }

    /// whisper hands attention copies: `(q_proj(x) * scaling)` (`scaled`) and each of
    /// q, k, v made `.contiguous()` after the head transpose; t5 and bart pass views.
    fn heads(&self, g: &mut Graph, x: ValueId, scaled: bool) -> ValueId {
        if !self.whisper() {
            return x;
        }
        let x = if scaled {
            g.push(Op::Add(Add), &[x])
        } else {
            x
        };
        g.push(Op::Copy(Copy::default()), &[x])
    }

    /// Bias of the key projections (whisper's `k_proj` has none).
    fn k_bias(&self) -> bool {
        self.a.qkv_bias && !self.a.details.unbiased_key
    }

    fn dropout(&self, g: &mut Graph, x: ValueId, p: f64) -> ValueId {
        g.push(Op::Dropout(Dropout { p }), &[x])
    }

    fn norm(&self, g: &mut Graph, x: ValueId) -> ValueId {
        let op = match self.a.norm {
            NormKind::RmsNorm => Op::RmsNorm(RmsNorm {
                rows: self.rows,
                dim: self.a.hidden_size,
                keeps_input: true,
            }),
            kind => norm_op(kind, self.rows, self.a.hidden_size),
        };
        g.push(op, &[x])
    }

    /// A decoder layer's cross-attention k and v of the encoder output `enc`, copied
    /// into the cache (computed once, never grown).
    fn cross_kv(&self, g: &mut Graph, enc: ValueId) -> Result<(ValueId, ValueId)> {
        let (d, inner) = (self.a.hidden_size, mul(self.a.num_heads, self.a.head_dim)?);
        let enc_rows = mul(self.b, self.enc_s)?;
        let k = g.push(self.lin_rows(enc_rows, d, inner, self.k_bias()), &[enc]);
        let k = self.heads(g, k, false);
        let v = g.push(self.lin_rows(enc_rows, d, inner, self.a.qkv_bias), &[enc]);
        let v = self.heads(g, v, false);
        Ok(self.cache(g, k, v, Some(CacheGrowth::Fixed)))
    }

    /// `cache.update(k, v)` when the decoder builds a cache: copies of k and v held
    /// until the output is dropped, growing in generation as `growth` says (`None`:
    /// from the prompt's positions). whisper attends over the copies `update` returns,
    /// which frees its own contiguous k and v; t5's and bart's views stay what attention
    /// keeps.
    fn cache(
        &self,
        g: &mut Graph,
        k: ValueId,
        v: ValueId,
        growth: Option<CacheGrowth>,
    ) -> (ValueId, ValueId) {
        if !self.use_cache {
            return (k, v);
        }
        let kc = g.push(Op::Copy(Copy::default()), &[k]);
        let vc = g.push(Op::Copy(Copy::default()), &[v]);
        g.forward_held.extend([kc, vc]);
        if let Some(growth) = growth {
            g.held_caches.extend([(kc, growth), (vc, growth)]);
        }
        match self.whisper() {
            true => (kc, vc),
            false => (k, v),
        }
    }

    fn lin(&self, inp: u64, out: u64, bias: bool) -> Op {
        self.lin_rows(self.rows, inp, out, bias)
    }

    fn lin_rows(&self, rows: u64, inp: u64, out: u64, bias: bool) -> Op {
        Op::Linear(Linear {
            rows,
            in_features: inp,
            out_features: out,
            bias,
            tied_weight: false,
        })
    }

    /// A sub-layer around `h`: t5 normalises its input (pre-norm), bart the residual
    /// sum (post-norm); dropout on its output either way.
    fn sublayer(
        &self,
        g: &mut Graph,
        h: ValueId,
        body: impl FnOnce(&mut Graph, ValueId) -> Result<ValueId>,
    ) -> Result<ValueId> {
        let input = if self.bart() { h } else { self.norm(g, h) };
        let o = body(g, input)?;
        let o = self.dropout(g, o, self.drop.resid);
        let sum = g.push(Op::Add(Add), &[h, o]);
        Ok(if self.bart() { self.norm(g, sum) } else { sum })
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
        let eager = self.run.attn == AttnImpl::Eager;
        let use_cache = decoder && self.use_cache;
        let t5 = matches!(self.layout, Layout::T5 { .. });
        let (d, heads) = (a.hidden_size, a.num_heads);
        let inner = mul(heads, a.head_dim)?;
        let cross_scores = mul(heads, mul(s, self.enc_s)?)?;
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
            causal: decoder,
            eager_mask: mask.is_some(),
            score_bias: t5,
            ..Attention::plain(b, heads, s, s, a.head_dim, self.drop.attn)
        };
        let (qkv_bias, o_bias) = (a.qkv_bias, a.o_bias);
        let mut h = x;
        let mut self_bias = None;
        let mut cross_bias = None;
        for layer in 0..layers as usize {
            let first = g.nodes.len();
            // self-attention
            h = self.sublayer(g, h, |g, n| {
                let q = g.push(self.lin(d, inner, qkv_bias), &[n]);
                let q = self.heads(g, q, true);
                let k = g.push(self.lin(d, inner, self.k_bias()), &[n]);
                let k = self.heads(g, k, false);
                let v = g.push(self.lin(d, inner, qkv_bias), &[n]);
                let v = self.heads(g, v, false);
                let growth = (self.run.mode == Mode::Generate).then_some(CacheGrowth::From(s));
                let (k, v) = match use_cache {
                    true => self.cache(g, k, v, growth),
                    false => (k, v),
                };
                let mut ins = vec![q, k, v];
                if let Layout::T5 { num_buckets } = self.layout {
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
                                    vocab: num_buckets,
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
                    // SDPA in the decoder: `torch.where(causal, position_bias, min)` per
                    // layer
                    let bias = if decoder && !eager {
                        g.push(Op::Copy(Copy::default()), &[bias])
                    } else {
                        bias
                    };
                    ins.push(bias);
                }
                ins.extend(mask);
                let att = g.push(Op::Attention(attn.clone()), &ins);
                Ok(g.push(self.lin(inner, d, o_bias), &[att]))
            })?;
            // cross-attention on the encoder's output
            if let Some(enc) = enc {
                h = self.sublayer(g, h, |g, n| {
                    let q = g.push(self.lin(d, inner, qkv_bias), &[n]);
                    let q = self.heads(g, q, true);
                    let (k, v) = match cross_kv.get(layer) {
                        Some(&kv) => kv,
                        None => self.cross_kv(g, enc)?,
                    };
                    let mut ins = vec![q, k, v];
                    if t5 {
                        // the first layer's `torch.zeros` bias, in the query's dtype
                        ins.push(*cross_bias.get_or_insert_with(|| {
                            let dtype =
                                (self.run.precision != Precision::Fp32).then_some(DType::BF16);
                            g.push(
                                Op::Fill(Fill {
                                    numel: cross_scores,
                                    dtype,
                                    buffer: None,
                                }),
                                &[],
                            )
                        }));
                    }
                    let cross = Attention {
                        kv_len: self.enc_s,
                        causal: false,
                        eager_mask: false,
                        ..attn.clone()
                    };
                    let att = g.push(Op::Attention(cross), &ins);
                    Ok(g.push(self.lin(inner, d, o_bias), &[att]))
                })?;
            }
            // feed-forward
            h = self.sublayer(g, h, |g, n| {
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
                    bias: a.mlp_bias,
                    act,
                };
                let mut before_down = vec![Op::Dropout(Dropout {
                    p: self.drop.activation,
                })];
                if t5 && self.run.precision == Precision::AmpBf16 {
                    // `hidden_states.to(self.wo.weight.dtype)`: bf16 under autocast, fp32
                    // weight
                    before_down.push(Op::Cast(Cast { to: DType::F32 }));
                }
                Ok(mlp.push_with(g, n, &before_down))
            })?;
            if self.run.grad_ckpt {
                g.checkpoint_regions.push((first, g.nodes.len() - 1));
            }
        }
        Ok(match self.layout {
            Layout::Bart { .. } => h,
            Layout::Whisper { .. } => self.norm(g, h),
            Layout::T5 { .. } => {
                let n = self.norm(g, h);
                self.dropout(g, n, self.drop.resid)
            }
        })
    }
}
