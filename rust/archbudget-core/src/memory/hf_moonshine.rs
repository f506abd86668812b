//! moonshine lowered into the op graph (`modeling_moonshine.py` of transformers 5.24;
//! the arch from `formats::hf::moonshine`, KerasHub's MoonshineBackbone through its twin).
//!
//! The step: `seq` is the encoder's frames and the decoder's tokens. The batch is raw
//! audio, batch × the fewest samples the stem turns into `seq` frames (384·seq + 511),
//! and token ids batch × seq: with head `causal_lm` (`MoonshineForConditionalGeneration`)
//! the `labels`, which `shift_tokens_right` copies into the decoder's ids, and the loss
//! is the causal-LM loss on the logits (`logits.float()`, the labels as given, no
//! shift); the bare model (`MoonshineModel`) gets them as `decoder_input_ids` and its
//! loss is the protocol's `last_hidden_state.float().pow(2).mean()`.
//!
//! The encoder: the audio unsqueezed (a view), `conv1` (no bias), tanh, `groupnorm`,
//! `conv2`, GELU, `conv3`, GELU, permuted (a view); `arange` positions, the rotary
//! module's cos and sin (seq × rotary width, from its `inv_freq` buffers); blocks of
//! LayerNorm → attention → add, LayerNorm → MLP → add, then the final LayerNorm. No
//! mask is made (no padding). Attention (`MoonshineAttention`): q, k, v projected, each
//! turned on its first `rotary_dim` channels (`apply_rotary_pos_emb` takes
//! `cos[..., :half].repeat_interleave(2)` and the same of sin, two new seq × rotary
//! tensors per call that the products keep, rotates the slice and `torch.cat`s the rest
//! back: a new tensor), zero-padded per head when `pad_head_dim_to_multiple_of` asks
//! (`F.pad` copies), attention, the padding sliced off and the heads made contiguous
//! (a copy), `o_proj`. The decoder: the token lookup (keras-hub's dropout after it and
//! after the stem), the cache (`EncoderDecoderCache`, on unless gradient checkpointing
//! in training) whose `update` copies each layer's rotated self-attention k and v and
//! its cross-attention k and v, attention reading those copies; blocks of LayerNorm →
//! causal self-attention → add, LayerNorm → cross-attention on the encoder's output (no
//! rotary) → add, LayerNorm → gated MLP (`fc1` twice as wide, chunked: the views keep
//! the one output alive as two halves would) → add, then `norm`; `proj_out` on the
//! tied table. Gradient checkpointing: one region per block of either stack.
//!
//! Not lowered: generation, LoRA and quantized weights (refused in one line).
use super::graph::{DType, Graph, InputKind, ValueId};
use super::hf::{Dropouts, Mlp};
use super::hf_decoder::norm_op;
use super::ops::*;
use super::{add, mul, Mode, Result, RunSettings};
use crate::arch::{HeadKind, TransformerArch};
use crate::formats::hf::moonshine::{Moonshine, MoonshineStack};

/// Raw samples for `frames` encoder frames: conv1 (127, stride 64), conv2 (7, 3) and
/// conv3 (3, 2) invert to 64·(3·(2·(frames − 1) + 3 − 1) + 7 − 1) + 127.
fn samples(frames: u64) -> Result<u64> {
    let conv2_in = add(mul(2, frames - 1)?, 3)?;
    let conv1_out = add(mul(3, conv2_in - 1)?, 7)?;
    add(mul(64, conv1_out - 1)?, 127)
}

pub(super) fn graph(
    a: &TransformerArch,
    ms: &Moonshine,
    drop: &Dropouts,
    run: &RunSettings,
) -> Result<Graph> {
    let refuse = |what: &str| Err(crate::Error::invalid(a.model_type.as_str(), what));
    if run.lora.is_some() || run.quantize.is_some() {
        return refuse("LoRA and quantized weights are not lowered for moonshine yet");
    }
    if run.mode == Mode::Generate {
        return refuse("generation is not lowered for moonshine yet; use --mode train or infer");
    }
    for (name, s) in [("encoder", &ms.encoder), ("decoder", &ms.decoder)] {
        if s.kv_heads != s.heads {
            return refuse(&format!(
                "the {name}'s key/value heads ({}) differ from its heads ({}): transformers' MoonshineAttention views q with the key/value heads, so this model cannot run; give both the same value",
                s.kv_heads, s.heads
            ));
        }
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
    let st = Stacks {
        a,
        drop,
        run,
        b,
        s,
        rows: mul(b, s)?,
        use_cache: !(train && run.grad_ckpt),
    };
    let mut g = Graph::default();
    let audio_samples = samples(s)?;
    let audio = g.input(mul(b, audio_samples)?, InputKind::Float);
    let ids = g.input(st.rows, InputKind::Index);

    // ---- encoder
    let x = st.stem(&mut g, audio, ms.filters, audio_samples)?;
    let x = st.dropout(&mut g, x, drop.embed);
    let rope = st.rotary(&mut g, &ms.encoder)?;
    let mut h = x;
    for _ in 0..a.num_layers {
        let first = g.nodes.len();
        h = st.sublayer(&mut g, h, |g, n| {
            st.attention(g, &ms.encoder, n, None, rope)
        })?;
        h = st.sublayer(&mut g, h, |g, n| Ok(st.mlp(g, &ms.encoder, n)))?;
        st.checkpoint(&mut g, first);
    }
    let enc = st.norm(&mut g, h);

    // ---- decoder
    // `shift_tokens_right(labels)`: a new int64 batch×seq tensor
    let dec_ids = match lm && train {
        true => g.push(
            Op::Copy(Copy {
                numel: Some(st.rows),
            }),
            &[ids],
        ),
        false => ids,
    };
    let e = g.push(
        Op::Embedding(Embedding {
            tokens: st.rows,
            vocab: a.vocab_size,
            dim: a.hidden_size,
            tied: false,
        }),
        &[dec_ids],
    );
    let mut h = st.dropout(&mut g, e, drop.embed);
    let rope = st.rotary(&mut g, &ms.decoder)?;
    // the eager path's causal mask (`create_causal_mask`); SDPA runs `is_causal`
    let mask_numel = mul(b, mul(s, s)?)?;
    let causal = match run.attn {
        AttnImpl::Eager => Causal::Masked(g.push(
            Op::Fill(Fill {
                numel: mask_numel,
                dtype: None,
                buffer: None,
            }),
            &[],
        )),
        AttnImpl::Sdpa => Causal::Sdpa,
    };
    for _ in 0..a.num_decoder_layers {
        let first = g.nodes.len();
        h = st.sublayer(&mut g, h, |g, n| {
            st.attention(g, &ms.decoder, n, Some(causal), rope)
        })?;
        h = st.sublayer(&mut g, h, |g, n| st.cross_attention(g, &ms.decoder, n, enc))?;
        h = st.sublayer(&mut g, h, |g, n| Ok(st.mlp(g, &ms.decoder, n)))?;
        st.checkpoint(&mut g, first);
    }
    let h = st.norm(&mut g, h);

    // ---- head and loss
    if !lm {
        let hf = g.push(Op::Cast(Cast { to: DType::F32 }), &[h]);
        g.push(Op::SquareMean(SquareMean), &[hf]);
        g.train_only_tail = 2;
        g.infer_output = Some(h);
        return Ok(g);
    }
    let logits = g.push(
        Op::Linear(Linear {
            rows: st.rows,
            in_features: a.hidden_size,
            out_features: a.vocab_size,
            bias: false,
            tied_weight: a.tie_word_embeddings,
        }),
        &[h],
    );
    let upcast = g.push(Op::Cast(Cast { to: DType::F32 }), &[logits]);
    g.push(
        Op::CrossEntropy(CrossEntropy {
            rows: st.rows,
            classes: a.vocab_size,
            label_copies: vec![],
        }),
        &[upcast, ids],
    );
    g.train_only_tail = 2;
    g.infer_output = Some(logits);
    Ok(g)
}

/// How a self-attention masks the future.
#[derive(Clone, Copy)]
enum Causal {
    /// SDPA's `is_causal`: no mask tensor.
    Sdpa,
    /// Eager attention reads this float mask.
    Masked(ValueId),
}

/// One stack's rotary cos and sin (seq × rotary width each).
#[derive(Clone, Copy)]
struct Rope {
    cos: ValueId,
    sin: ValueId,
}

struct Stacks<'a> {
    a: &'a TransformerArch,
    drop: &'a Dropouts,
    run: &'a RunSettings,
    b: u64,
    s: u64,
    rows: u64,
    use_cache: bool,
}

impl Stacks<'_> {
    fn dropout(&self, g: &mut Graph, x: ValueId, p: f64) -> ValueId {
        match p > 0.0 {
            true => g.push(Op::Dropout(Dropout { p }), &[x]),
            false => x,
        }
    }

    fn norm(&self, g: &mut Graph, x: ValueId) -> ValueId {
        g.push(norm_op(self.a.norm, self.rows, self.a.hidden_size), &[x])
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

    fn checkpoint(&self, g: &mut Graph, first: usize) {
        if self.run.grad_ckpt {
            g.checkpoint_regions.push((first, g.nodes.len() - 1));
        }
    }

    /// Pre-norm sub-layer: LayerNorm, `body`, residual add.
    fn sublayer(
        &self,
        g: &mut Graph,
        h: ValueId,
        body: impl FnOnce(&mut Graph, ValueId) -> Result<ValueId>,
    ) -> Result<ValueId> {
        let n = self.norm(g, h);
        let o = body(g, n)?;
        Ok(g.push(Op::Add(Add), &[h, o]))
    }

    /// The audio stem on batch × `samples` raw audio, `filters` channels wide.
    fn stem(&self, g: &mut Graph, audio: ValueId, filters: u64, samples: u64) -> Result<ValueId> {
        let b = self.b;
        let conv = |in_channels: u64, out_channels: u64, size: u64, kernel, stride, bias| {
            Op::Conv(Conv {
                batch: b,
                in_channels,
                out_channels,
                dims: vec![ConvDim::new(size, kernel, stride, 0)],
                groups: 1,
                bias,
                transposed: false,
                shared_weights: false,
            })
        };
        let act = |kind| Op::Act(Act { kind });
        let l1 = (samples - 127) / 64 + 1;
        let l2 = (l1 - 7) / 3 + 1;
        let x = g.push(Op::View(View), &[audio]);
        let x = g.push(conv(1, filters, samples, 127, 64, false), &[x]);
        let x = g.push(act(ActKind::Tanh), &[x]);
        let x = g.push(
            Op::GroupNorm(GroupNorm {
                batch: b,
                groups: 1,
                channels: filters,
                affine: true,
            }),
            &[x],
        );
        let doubled = mul(2, filters)?;
        let x = g.push(conv(filters, doubled, l1, 7, 3, true), &[x]);
        let x = g.push(act(ActKind::Gelu), &[x]);
        let x = g.push(conv(doubled, filters, l2, 3, 2, true), &[x]);
        let x = g.push(act(ActKind::Gelu), &[x]);
        Ok(g.push(Op::View(View), &[x]))
    }

    /// The stack's rotary module: `arange` positions, cos and sin from its `inv_freq`
    /// and `original_inv_freq` buffers.
    fn rotary(&self, g: &mut Graph, st: &MoonshineStack) -> Result<Rope> {
        let numel = mul(self.s, st.rotary_dim)?;
        g.push(
            Op::Fill(Fill {
                numel: self.s,
                dtype: Some(DType::I64),
                buffer: None,
            }),
            &[],
        );
        let mut table = || {
            g.push(
                Op::Fill(Fill {
                    numel,
                    dtype: None,
                    buffer: Some((st.rotary_dim / 2, DType::F32)),
                }),
                &[],
            )
        };
        Ok(Rope {
            cos: table(),
            sin: table(),
        })
    }

    /// `apply_rotary_pos_emb` on q or k (`heads` of `head_dim`): the first `rotary_dim`
    /// channels turned, `torch.cat` with the rest.
    fn rotate(
        &self,
        g: &mut Graph,
        st: &MoonshineStack,
        x: ValueId,
        heads: u64,
        rope: Rope,
    ) -> Result<ValueId> {
        let numel = mul(self.rows, mul(heads, st.head_dim)?)?;
        let part = if st.rotary_dim < st.head_dim {
            let out_numel = mul(self.rows, mul(heads, st.rotary_dim)?)?;
            g.push(Op::SelectLast(SelectLast { out_numel }), &[x])
        } else {
            x
        };
        let rotated = g.push(Op::Rotary(Rotary), &[part, rope.cos, rope.sin]);
        Ok(g.push(Op::Copy(Copy { numel: Some(numel) }), &[rotated, x]))
    }

    /// `F.pad` of q, k or v to the padded head width (no-op without padding).
    fn pad(
        &self,
        g: &mut Graph,
        st: &MoonshineStack,
        x: ValueId,
        tokens: u64,
        heads: u64,
    ) -> Result<ValueId> {
        if st.attention_padding == 0 {
            return Ok(x);
        }
        let numel = mul(tokens, mul(heads, st.head_dim + st.attention_padding)?)?;
        Ok(g.push(Op::Copy(Copy { numel: Some(numel) }), &[x]))
    }

    /// The kernel on q, k, v, then the padding sliced off (a copy when made contiguous)
    /// and `o_proj`.
    fn attend(
        &self,
        g: &mut Graph,
        st: &MoonshineStack,
        ins: Vec<ValueId>,
        kv_len: u64,
        causal: bool,
        eager_mask: bool,
    ) -> Result<ValueId> {
        let a = self.a;
        let padded = st.head_dim + st.attention_padding;
        let att = g.push(
            Op::Attention(Attention {
                batch: self.b,
                heads: st.heads,
                kv_heads: st.kv_heads,
                q_len: self.s,
                kv_len,
                head_dim: padded,
                v_head_dim: padded,
                causal,
                dropout: self.drop.attn,
                eager_mask,
                softmax_fp32: false,
                fused_qkv: false,
                score_bias: false,
                sinks: false,
                eager_only: false,
            }),
            &ins,
        );
        let inner = mul(st.heads, st.head_dim)?;
        let att = match st.attention_padding {
            0 => att,
            _ => {
                let out_numel = mul(self.rows, inner)?;
                let sliced = g.push(Op::SelectLast(SelectLast { out_numel }), &[att]);
                g.push(Op::Copy(Copy::default()), &[sliced])
            }
        };
        Ok(g.push(
            self.lin_rows(self.rows, inner, a.hidden_size, a.o_bias),
            &[att],
        ))
    }

    /// Self-attention (`causal`: the decoder's, which updates the cache).
    fn attention(
        &self,
        g: &mut Graph,
        st: &MoonshineStack,
        n: ValueId,
        causal: Option<Causal>,
        rope: Rope,
    ) -> Result<ValueId> {
        let (a, rows) = (self.a, self.rows);
        let (q_w, kv_w) = (mul(st.heads, st.head_dim)?, mul(st.kv_heads, st.head_dim)?);
        let q = g.push(self.lin_rows(rows, a.hidden_size, q_w, a.qkv_bias), &[n]);
        let k = g.push(self.lin_rows(rows, a.hidden_size, kv_w, a.qkv_bias), &[n]);
        let v = g.push(self.lin_rows(rows, a.hidden_size, kv_w, a.qkv_bias), &[n]);
        // `cos[..., :half].repeat_interleave(2)` and the same of sin, once per call,
        // kept by the products
        let numel = mul(self.s, st.rotary_dim)?;
        let per_call =
            |g: &mut Graph, table| g.push(Op::Copy(Copy { numel: Some(numel) }), &[table]);
        let rope = Rope {
            cos: per_call(g, rope.cos),
            sin: per_call(g, rope.sin),
        };
        let q = self.rotate(g, st, q, st.heads, rope)?;
        let mut k = self.rotate(g, st, k, st.kv_heads, rope)?;
        let mut v = v;
        if causal.is_some() && self.use_cache {
            (k, v) = self.cache(g, k, v);
        }
        let q = self.pad(g, st, q, rows, st.heads)?;
        let k = self.pad(g, st, k, rows, st.kv_heads)?;
        let v = self.pad(g, st, v, rows, st.kv_heads)?;
        let mut ins = vec![q, k, v];
        let eager_mask = match causal {
            Some(Causal::Masked(mask)) => {
                ins.push(mask);
                true
            }
            _ => false,
        };
        self.attend(g, st, ins, self.s, causal.is_some(), eager_mask)
    }

    /// Cross-attention of the decoder on the encoder's output `enc` (no rotary).
    fn cross_attention(
        &self,
        g: &mut Graph,
        st: &MoonshineStack,
        n: ValueId,
        enc: ValueId,
    ) -> Result<ValueId> {
        let (a, rows) = (self.a, self.rows);
        let (q_w, kv_w) = (mul(st.heads, st.head_dim)?, mul(st.kv_heads, st.head_dim)?);
        let q = g.push(self.lin_rows(rows, a.hidden_size, q_w, a.qkv_bias), &[n]);
        let k = g.push(self.lin_rows(rows, a.hidden_size, kv_w, a.qkv_bias), &[enc]);
        let v = g.push(self.lin_rows(rows, a.hidden_size, kv_w, a.qkv_bias), &[enc]);
        let (k, v) = match self.use_cache {
            true => self.cache(g, k, v),
            false => (k, v),
        };
        let q = self.pad(g, st, q, rows, st.heads)?;
        let k = self.pad(g, st, k, rows, st.kv_heads)?;
        let v = self.pad(g, st, v, rows, st.kv_heads)?;
        self.attend(g, st, vec![q, k, v], self.s, false, false)
    }

    /// `cache.update(k, v)`: copies held until the output is dropped, which attention
    /// reads.
    fn cache(&self, g: &mut Graph, k: ValueId, v: ValueId) -> (ValueId, ValueId) {
        let kc = g.push(Op::Copy(Copy::default()), &[k]);
        let vc = g.push(Op::Copy(Copy::default()), &[v]);
        g.forward_held.extend([kc, vc]);
        (kc, vc)
    }

    fn mlp(&self, g: &mut Graph, st: &MoonshineStack, n: ValueId) -> ValueId {
        let act = match st.activation.as_str() {
            "relu" => ActKind::Relu,
            "silu" | "swish" => ActKind::Silu,
            "tanh" => ActKind::Tanh,
            "gelu_new" => ActKind::GeluPython,
            _ => ActKind::Gelu,
        };
        let mlp = Mlp {
            rows: self.rows,
            hidden: self.a.hidden_size,
            inter: st.inter,
            gated: st.gated,
            bias: true,
            act,
        };
        mlp.push_with(g, n, &[])
    }
}
