//! KerasHub's RWKV7Backbone (and RWKV7CausalLM) lowered into the op graph from the arch
//! its reader makes (`formats::keras_hub::rwkv7::lowered`): the keras-hub 0.32 layers
//! (rwkv7_layer.py) as Keras runs them on its torch backend in training, one step on
//! `token_ids` and `padding_mask`. There is no transformers twin (transformers has
//! RWKV-4 only). Per step:
//! - the token lookup; `padding_mask` cast to the activations' dtype;
//! - each `RWKV7_Block` (the first opens with `init_norm`): `att_norm`, then the time
//!   mix: the masking `x *= mask` (in place: no tensor), the token shift (`ops.pad`, a
//!   copy one position longer, sliced, minus x), six mixes `x + xx·μ`; receptance, key
//!   and value `Dense`; the decay `-softplus(-(w0 + tanh(x·w1)·w2)) - 0.5`; after the
//!   first block the value mixed toward the first block's by `sigmoid(v0 + x·v1·v2)`;
//!   the in-context rate `sigmoid(a0 + x·a1·a2)`; the gate `sigmoid(x·g1)·g2`; `k·k_k`
//!   L2-normalised per head; `k·(1 + (a − 1)·k_a)`; the masked decay (`where`, a copy);
//!   the recurrence ([`Wkv7`]: the per-position loop keras-hub runs without its CUDA
//!   kernels, which keeps every position's state for backward); `ln_x` per head; the
//!   bonus `sum(r·k·r_k)·v`; `(x + bonus)·g` through `output_layer`; the residual add;
//!   `ffn_norm`, the mask product, the channel mix (token shift, `x + xx·μ`, key,
//!   `relu(·)²`, value), the residual add and `dropout`;
//! - `output_norm`, the vocabulary `head` (always: the backbone returns logits); the
//!   CausalLM's loss cross-entropy on the logits cast to fp32, the backbone's the
//!   protocol's `x.float().pow(2).mean()`.
//!
//! Not modelled: `ln_x` is Keras's `GroupNormalization`, written in ops (moments, a
//! per-group scale broadcast to the input's size): lowered as torch's fused group norm,
//! which keeps less; the bool copy of the mask `where` makes; `--grad-ckpt` (keras-hub's
//! layers checkpoint nothing). LoRA, quantized weights and generation are not lowered
//! for RWKV7.
use super::graph::{DType, Graph, InputKind, ValueId};
use super::hf::Dropouts;
use super::hf_decoder::norm_op;
use super::ops::*;
use super::{mul, Mode, Precision, Result, RunSettings};
use crate::arch::{HeadKind, TransformerArch};
use crate::formats::keras_hub::Rwkv7Lora;

const HERE: &str = "RWKV7Backbone";

pub(super) fn graph(
    a: &TransformerArch,
    lora: &Rwkv7Lora,
    drop: &Dropouts,
    run: &RunSettings,
) -> Result<Graph> {
    if run.lora.is_some() || run.quantize.is_some() {
        return Err(crate::Error::invalid(
            HERE,
            "LoRA and quantized weights are not lowered for KerasHub RWKV7 yet",
        ));
    }
    if run.mode == Mode::Generate {
        return Err(crate::Error::invalid(
            HERE,
            "generation is not lowered for KerasHub RWKV7 yet; use --mode train or infer",
        ));
    }
    let (b, s) = (run.batch, run.seq);
    let rows = mul(b, s)?;
    let (c, heads, n) = (a.hidden_size, a.num_heads, a.head_dim);
    let mut g = Graph::default();
    let ids = g.input(rows, InputKind::Index);
    let mask_in = g.input(rows, InputKind::Index);
    let mut x = g.push(
        Op::Embedding(Embedding {
            tokens: rows,
            vocab: a.vocab_size,
            dim: c,
            tied: false,
        }),
        &[ids],
    );
    let act_dt = match run.precision {
        Precision::Bf16 => DType::BF16,
        _ => DType::F32,
    };
    let mask = g.push(Op::Cast(Cast { to: act_dt }), &[mask_in]);
    let st = Block {
        rows,
        shifted: mul(b, s + 1)?,
        c,
        heads,
        n,
        lora: *lora,
        seq: (b, s),
        inter: a.intermediate_size,
    };
    let mut v_first = None;
    for i in 0..a.num_layers {
        if i == 0 {
            x = g.push(norm_op(a.norm, rows, c), &[x]);
        }
        let xx = g.push(norm_op(a.norm, rows, c), &[x]);
        let (o, v) = st.time_mix(&mut g, xx, v_first, mask)?;
        v_first = Some(v);
        x = g.push(Op::Add(Add), &[x, o]);
        let xx = g.push(norm_op(a.norm, rows, c), &[x]);
        let xx = g.push(Op::Mul(Mul), &[xx, mask]);
        let f = st.channel_mix(&mut g, xx)?;
        x = g.push(Op::Add(Add), &[x, f]);
        x = g.dropout(x, drop.resid);
    }
    let x = g.push(norm_op(a.norm, rows, c), &[x]);
    let logits = g.push(Op::Linear(Linear::new(rows, c, a.vocab_size, false)), &[x]);
    let wide = g.push(Op::Cast(Cast { to: DType::F32 }), &[logits]);
    if a.head == HeadKind::Base {
        g.push(Op::SquareMean(SquareMean), &[wide]);
        g.train_only_tail = 2;
        g.infer_output = Some(logits);
        return Ok(g);
    }
    g.push(
        Op::CrossEntropy(CrossEntropy {
            rows,
            classes: a.vocab_size,
            label_copies: Vec::new(),
        }),
        &[wide, ids],
    );
    g.train_only_tail = 1;
    g.infer_output = Some(wide);
    Ok(g)
}

/// One block's shapes.
struct Block {
    rows: u64,
    /// Rows of the token shift's padded copy: batch × (seq + 1).
    shifted: u64,
    c: u64,
    heads: u64,
    n: u64,
    lora: Rwkv7Lora,
    seq: (u64, u64),
    inter: u64,
}

impl Block {
    fn lin(&self, inp: u64, out: u64) -> Op {
        Op::Linear(Linear::new(self.rows, inp, out, false))
    }

    /// `TimeShift(x) - x`: the padded copy, its slice (a view whose backward zero-fills
    /// the padded size), the difference.
    fn shift(&self, g: &mut Graph, x: ValueId) -> Result<ValueId> {
        let padded = g.push(
            Op::Copy(Copy {
                numel: Some(mul(self.shifted, self.c)?),
            }),
            &[x],
        );
        let sliced = g.push(
            Op::SelectLast(SelectLast {
                out_numel: mul(self.rows, self.c)?,
            }),
            &[padded],
        );
        Ok(g.push(Op::Add(Add), &[sliced, x]))
    }

    /// `x + xx·μ`, μ a learned vector.
    fn mix(&self, g: &mut Graph, x: ValueId, xx: ValueId) -> ValueId {
        let scaled = g.push(Op::Scale(Scale { numel: self.c }), &[xx]);
        g.push(Op::Add(Add), &[x, scaled])
    }

    /// `bias + (x·w1)·w2` (`act` between the two products), the low-rank projections.
    fn low_rank(&self, g: &mut Graph, x: ValueId, rank: u64, act: Option<ActKind>) -> ValueId {
        let mut h = g.push(self.lin(self.c, rank), &[x]);
        if let Some(kind) = act {
            h = g.push(Op::Act(Act { kind }), &[h]);
        }
        let h = g.push(self.lin(rank, self.c), &[h]);
        g.push(Op::BiasAdd(BiasAdd { numel: self.c }), &[h])
    }

    /// `RWKV7TimeMix`: the branch's output and the value `v_first` carries on.
    fn time_mix(
        &self,
        g: &mut Graph,
        x: ValueId,
        v_first: Option<ValueId>,
        mask: ValueId,
    ) -> Result<(ValueId, ValueId)> {
        let sig = |g: &mut Graph, x| {
            g.push(
                Op::Act(Act {
                    kind: ActKind::Sigmoid,
                }),
                &[x],
            )
        };
        let neg = |g: &mut Graph, x| g.push(Op::Add(Add), &[x]);
        let xx = self.shift(g, x)?;
        let [xr, xw, xk, xv, xa, xg] = [0; 6].map(|_| self.mix(g, x, xx));
        let r = g.push(self.lin(self.c, self.c), &[xr]);
        let w = self.low_rank(g, xw, self.lora.decay, Some(ActKind::Tanh));
        let w = neg(g, w);
        let w = g.push(
            Op::Act(Act {
                kind: ActKind::Softplus,
            }),
            &[w],
        );
        let w = neg(g, w);
        let w = neg(g, w); // - 0.5
        let k = g.push(self.lin(self.c, self.c), &[xk]);
        let mut v = g.push(self.lin(self.c, self.c), &[xv]);
        let v_first = match v_first {
            None => v,
            Some(first) => {
                let gate = self.low_rank(g, xv, self.lora.value, None);
                let gate = sig(g, gate);
                let toward = g.push(Op::Add(Add), &[first, v]);
                let step = g.push(Op::Mul(Mul), &[toward, gate]);
                v = g.push(Op::Add(Add), &[v, step]);
                first
            }
        };
        let rate = self.low_rank(g, xa, self.lora.in_context, None);
        let rate = sig(g, rate);
        let gate = g.push(self.lin(self.c, self.lora.gate), &[xg]);
        let gate = sig(g, gate);
        let gate = g.push(self.lin(self.lora.gate, self.c), &[gate]);
        let kk = g.push(Op::Scale(Scale { numel: self.c }), &[k]);
        let kk = g.push(
            Op::Normalize(Normalize {
                rows: mul(self.rows, self.heads)?,
            }),
            &[kk],
        );
        let less_one = neg(g, rate);
        let scaled = g.push(Op::Scale(Scale { numel: self.c }), &[less_one]);
        let factor = neg(g, scaled);
        let k = g.push(Op::Mul(Mul), &[k, factor]);
        let w = g.push(Op::Copy(Copy::default()), &[w, mask]);
        let minus_kk = neg(g, kk);
        let kk_a = g.push(Op::Mul(Mul), &[kk, rate]);
        let (batch, seq) = self.seq;
        let out = g.push(
            Op::Wkv7(Wkv7 {
                batch,
                seq,
                heads: self.heads,
                head_size: self.n,
            }),
            &[r, w, k, v, minus_kk, kk_a],
        );
        let out = g.push(
            Op::GroupNorm(GroupNorm {
                batch: self.rows,
                groups: self.heads,
                channels: self.c,
                affine: true,
            }),
            &[out],
        );
        // `sum(r·k·r_k, -1)·v` per head
        let rk = g.push(Op::Mul(Mul), &[r, k]);
        let rk = g.push(Op::Scale(Scale { numel: self.c }), &[rk]);
        let summed = g.push(
            Op::Copy(Copy {
                numel: Some(mul(self.rows, self.heads)?),
            }),
            &[rk],
        );
        let bonus = g.push(Op::Mul(Mul), &[summed, v]);
        let out = g.push(Op::Add(Add), &[out, bonus]);
        let out = g.push(Op::Mul(Mul), &[out, gate]);
        let out = g.push(self.lin(self.c, self.c), &[out]);
        Ok((out, v_first))
    }

    /// `RWKV7ChannelMix`: token shift, mix, `relu(key)²`, value.
    fn channel_mix(&self, g: &mut Graph, x: ValueId) -> Result<ValueId> {
        let xx = self.shift(g, x)?;
        let k = self.mix(g, x, xx);
        let k = g.push(self.lin(self.c, self.inter), &[k]);
        let k = g.push(
            Op::Act(Act {
                kind: ActKind::Relu,
            }),
            &[k],
        );
        let k = g.push(Op::Mul(Mul), &[k, k]);
        Ok(g.push(self.lin(self.inter, self.c), &[k]))
    }
}
