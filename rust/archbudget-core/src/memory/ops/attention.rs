//! Scaled dot-product attention over q (batch×heads×q_len×head_dim), k and v
//! (batch×kv_heads×kv_len×head_dim), as HF's attention functions call it.
//!
//! Output: batch×q_len×heads×head_dim (what `transpose(1, 2).contiguous()` yields).
//! FLOPs (flop_counter's sdpa rules, causal masking not discounted): forward two bmms,
//! 4·B·H·Sq·Sk·D; SDPA backward five bmms (scores recomputed), 10·B·H·Sq·Sk·D; eager
//! backward two per matmul, 8·B·H·Sq·Sk·D.
//!
//! `Sdpa` on an H100 dispatches to FlashAttention-2 for bf16 (head_dim ≤ 256) and to the
//! memory-efficient kernel for fp32 (flash has no fp32): both keep q, k, v, the output
//! and a log-sum-exp (B·H·Sq fp32), never the Sq×Sk scores; dropout is regenerated from
//! the RNG seed. Flash's backward allocates an fp32 dq accumulator (seq rounded to 128,
//! head_dim to 32) and, with grouped kv heads, dk/dv expanded to all heads before
//! summing. Both write their output in B×S×H×D layout, so HF's `.contiguous()` is free.
//!
//! `Eager` (HF `eager_attention_forward`): `repeat_kv` copies k and v to all heads when
//! kv_heads < heads; `q @ kᵀ` (B·H·Sq·Sk), the scaling (a new tensor), `+ mask` (the
//! model's float causal mask, promoting bf16 scores to fp32 under autocast), softmax in
//! fp32 (saved), its cast back to the value dtype, dropout (output + bool mask), `@ v`,
//! and the transpose's contiguous copy.
//!
//! `score_bias` (T5's relative position bias, transformers 5.17 `modeling_t5.py` and
//! `integrations/sdpa_attention.py`; falcon's ALiBi folded into its causal mask,
//! `modeling_falcon.py`): a float bias (1 or batch × heads×Sq×Sk, input 3, after q, k,
//! v) added to the scores. SDPA gets it as `attn_mask`, which rules FlashAttention out:
//! both dtypes run the memory-efficient kernel, which keeps the bias (its bf16 copy
//! under autocast) with q, k, v, and whose backward writes the bias gradient at the
//! batch-expanded shape (B×H×Sq×Sk, the key length padded to 16) before summing it;
//! the FLOPs are the kernel's (5 bmm-units backward). Eager adds it to the scaled
//! scores like the mask (promoting to its dtype) and reduces the gradient over the batch
//! (H×Sq×Sk) in backward; no FLOPs either way. With fewer kv heads than heads SDPA
//! takes its math path (as eager). Falcon's eager ALiBi path upcasts bf16 scores to
//! fp32 before the add, which this charges only where the bias or scores are fp32.
use super::{bytes, prod, Cost, Ctx, Out};
use crate::memory::graph::DType;
use crate::memory::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AttnImpl {
    #[default]
    Sdpa,
    Eager,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Attention {
    pub batch: u64,
    pub heads: u64,
    pub kv_heads: u64,
    pub q_len: u64,
    pub kv_len: u64,
    pub head_dim: u64,
    pub causal: bool,
    /// Attention dropout probability (applied in train mode only).
    pub dropout: f64,
    /// Eager: a float mask (batch×1×Sq×Sk, the model's dtype) is added to the scores.
    pub eager_mask: bool,
    /// Eager: `softmax(dtype=float32)` (LLaMA) instead of plain softmax (GPT-2, BERT).
    pub softmax_fp32: bool,
    /// q, k and v are views of one fused projection output (GPT-2 `c_attn`), passed as
    /// the single input: it is what autograd keeps, and backward assembles dq, dk, dv
    /// into one gradient of its size (SplitBackward).
    pub fused_qkv: bool,
    /// A float bias added to the scores is input 3 (T5's relative position bias).
    pub score_bias: bool,
}

impl Attention {
    pub fn flops(&self) -> Result<(u64, u64)> {
        let unit = prod(&[
            2,
            self.batch,
            self.heads,
            self.q_len,
            self.kv_len,
            self.head_dim,
        ])?;
        Ok((crate::memory::mul(unit, 2)?, unit))
    }

    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        // SDPA and matmul are autocast ops: fp32 inputs are copied to bf16 first
        let dt = if cx.amp() {
            DType::BF16
        } else {
            cx.in_dtype[0]
        };
        let (unit_fwd, unit) = self.flops()?;
        // fp32 SDPA with grouped kv heads (`enable_gqa`): the memory-efficient kernel does
        // not take GQA, so SDPA falls back to its math path — explicit scores and softmax,
        // k/v repeated to all heads, as eager (the counter then sees 4 bmm-units backward).
        // With a score bias (no flash) the bf16 case falls back the same way.
        let math = cx.attn == AttnImpl::Sdpa
            && (dt == DType::F32 || self.score_bias)
            && self.kv_heads < self.heads;
        let imp = if math { AttnImpl::Eager } else { cx.attn };
        // the kernel's tensor inputs: SDPA also takes the score bias (as `attn_mask`)
        let n_in = if self.fused_qkv {
            1
        } else if self.score_bias && imp == AttnImpl::Sdpa {
            4.min(cx.in_dtype.len())
        } else {
            3.min(cx.in_dtype.len())
        };
        let bias_dt = (self.score_bias)
            .then(|| cx.in_dtype.get(3).copied())
            .flatten();
        let bias_grad = self.score_bias && cx.grad(3);
        let mut saved_in = Vec::new();
        let mut casts = Vec::new();
        for i in 0..n_in {
            if cx.amp() && cx.in_dtype[i] != DType::BF16 {
                casts.push(bytes(cx.in_numel[i], DType::BF16)?);
            } else {
                saved_in.push(i);
            }
        }
        let out_numel = prod(&[self.batch, self.q_len, self.heads, self.head_dim])?;
        let mut c = Cost {
            out: Some(Out::New {
                numel: out_numel,
                dtype: dt,
            }),
            ..Cost::default()
        };
        c.flops_fwd = unit_fwd;
        let drop = cx.train_mode && self.dropout > 0.0;
        let eager_mask = self.eager_mask && !math;
        match imp {
            AttnImpl::Sdpa => {
                let lse = bytes(
                    prod(&[self.batch, self.heads, round_up(self.q_len, 32)])?,
                    DType::F32,
                )?;
                if cx.record {
                    c.save_inputs = saved_in.clone();
                    c.saved.extend(casts.iter().copied());
                    c.save_output = true;
                    c.saved.push(lse);
                    if self.fused_qkv {
                        let q = bytes(out_numel, dt)?;
                        c.bwd_temp.extend([q, q, q]);
                    }
                    c.flops_bwd = crate::memory::mul(unit, 5)?;
                    let flash = dt == DType::BF16 && self.head_dim <= 256 && !self.score_bias;
                    if bias_grad {
                        let g = prod(&[
                            self.batch,
                            self.heads,
                            self.q_len,
                            round_up(self.kv_len, 16),
                        ])?;
                        c.bwd_temp.push(bytes(g, dt)?);
                    }
                    if flash {
                        let dq_acc = prod(&[
                            self.batch,
                            self.heads,
                            round_up(self.q_len, 128),
                            round_up(self.head_dim, 32),
                        ])?;
                        c.bwd_temp.push(bytes(dq_acc, DType::F32)?);
                        c.bwd_temp.push(lse); // softmax_d
                        if self.kv_heads < self.heads {
                            let kv_full =
                                prod(&[self.batch, self.heads, self.kv_len, self.head_dim])?;
                            c.bwd_temp.push(bytes(kv_full, dt)?);
                            c.bwd_temp.push(bytes(kv_full, dt)?);
                        }
                    } else {
                        c.bwd_temp.push(lse); // delta
                    }
                } else {
                    c.fwd_temp.push(lse);
                    c.fwd_temp.extend(casts.iter().copied());
                }
                let _ = drop;
            }
            AttnImpl::Eager => {
                let s2n = prod(&[self.batch, self.heads, self.q_len, self.kv_len])?;
                let s2 = bytes(s2n, dt)?;
                let kv_rep = if self.kv_heads < self.heads {
                    bytes(
                        prod(&[self.batch, self.heads, self.kv_len, self.head_dim])?,
                        dt,
                    )?
                } else {
                    0
                };
                // scores dtype after the mask add (mask in the model's param dtype) or the
                // bias add (the bias's dtype)
                let mask_dt = bias_dt.unwrap_or(cx.param_dtype());
                let eager_mask = eager_mask || self.score_bias;
                let masked_dt = if eager_mask && (mask_dt == DType::F32 || dt == DType::F32) {
                    DType::F32
                } else {
                    dt
                };
                let sm_dt = if self.softmax_fp32 || cx.amp() {
                    DType::F32
                } else {
                    masked_dt
                };
                let sm = bytes(s2n, sm_dt)?;
                let cast = if sm_dt != dt { bytes(s2n, dt)? } else { 0 };
                let attn_out = bytes(out_numel, dt)?;
                if cx.record {
                    c.flops_bwd = crate::memory::mul(unit, 4)?;
                    c.saved.extend(casts.iter().copied());
                    if kv_rep > 0 {
                        c.save_inputs = saved_in.iter().copied().filter(|&i| i == 0).collect();
                        c.saved.extend([kv_rep, kv_rep]);
                    } else {
                        c.save_inputs = saved_in.clone();
                    }
                    if self.fused_qkv {
                        let q = bytes(out_numel, dt)?;
                        c.bwd_temp.extend([q, q, q]);
                    }
                    c.saved.push(sm);
                    if cast > 0 {
                        c.saved.push(cast);
                    }
                    if drop {
                        c.saved.push(s2); // dropout output, saved by the second matmul
                        c.saved.push(bytes(s2n, DType::Bool)?);
                    }
                    // forward transients at the widest point: q@kᵀ, its scaled copy, the
                    // masked scores; then the (B,H,S,D) matmul output before the copy
                    let masked = if eager_mask {
                        bytes(s2n, masked_dt)?
                    } else {
                        0
                    };
                    c.fwd_temp = vec![s2, masked.max(s2), attn_out];
                    // backward: dP, dropout's and the cast's gradients, softmax's fp32
                    // gradient, the scaling's gradient
                    c.bwd_temp = vec![s2, bytes(s2n, sm_dt)?, bytes(s2n, sm_dt)?, attn_out];
                    if let (true, Some(bdt)) = (bias_grad, bias_dt) {
                        c.bwd_temp
                            .push(bytes(prod(&[self.heads, self.q_len, self.kv_len])?, bdt)?);
                    }
                } else {
                    c.fwd_temp.extend(casts.iter().copied());
                    if kv_rep > 0 {
                        c.fwd_temp.extend([kv_rep, kv_rep]);
                    }
                    let masked = if eager_mask {
                        bytes(s2n, masked_dt)?
                    } else {
                        0
                    };
                    // At the softmax: the masked scores and its output. Llama-style
                    // `softmax(w, dtype=float32).to(q.dtype)` is one expression, so the masked
                    // scores are still referenced during the cast; GPT-2 assigns the softmax
                    // first and casts in the next statement, after they are freed.
                    let at_cast = if self.softmax_fp32 {
                        masked.max(s2) + cast
                    } else {
                        masked.max(s2).max(cast)
                    };
                    c.fwd_temp.extend([at_cast, sm, attn_out]);
                }
            }
        }
        Ok(c)
    }
}

fn round_up(x: u64, m: u64) -> u64 {
    x.div_ceil(m).saturating_mul(m)
}
