//! Scaled dot-product attention over q (batch×heads×q_len×head_dim), k
//! (batch×kv_heads×kv_len×head_dim) and v (batch×kv_heads×kv_len×v_head_dim), as HF's
//! attention functions and a PyTorch port of Keras's MultiHeadAttention call it. The
//! value head size may differ from the query/key one (Keras `value_dim`): SDPA takes
//! any v head size, and the output has the value's.
//!
//! Output: batch×q_len×heads×v_head_dim (what `transpose(1, 2).contiguous()` yields).
//! FLOPs (flop_counter's sdpa rules, causal masking not discounted), with
//! Uk = 2·B·H·Sq·Sk·Dk (one q·kᵀ-shaped bmm) and Uv = 2·B·H·Sq·Sk·Dv (one
//! scores·v-shaped bmm): forward Uk + Uv; SDPA backward recomputes the scores and runs
//! the gradients of both products, 3·Uk + 2·Uv; eager backward two per matmul,
//! 2·Uk + 2·Uv. With Dk = Dv these are 4·B·H·Sq·Sk·D, 10·… and 8·….
//!
//! `Sdpa` on an H100 dispatches to FlashAttention-2 for bf16 (head_dim ≤ 256, q, k and
//! v of one head size) and to the memory-efficient kernel otherwise (flash has no fp32,
//! nor a value head size of its own), or to the math path (as `Eager`) where that kernel
//! refuses (grouped kv heads in fp32; unaligned head sizes when v's differs): both keep q, k, v, the output
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
use super::{bytes, prod, AmpCast, Cost, Ctx, Out, Param};
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
    /// Head size of q and k.
    pub head_dim: u64,
    /// Head size of v and of the output (`head_dim` but for Keras `value_dim`).
    pub v_head_dim: u64,
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
    /// gpt_oss's attention sinks: a learned logit per head concatenated to each row of
    /// the scores (`torch.cat([scores, sinks])`, the row max subtracted, softmax in the
    /// scores' dtype, the sink column dropped). Only the eager path has them (the model
    /// declares no SDPA support): one more scores-sized tensor at the softmax; FLOPs as
    /// eager. The op declares the sinks parameter (one per head).
    pub sinks: bool,
    /// The model's own eager attention whatever `--attn` says (bloom's `baddbmm` code
    /// has no SDPA path).
    pub eager_only: bool,
}

impl Attention {
    /// Multi-head attention with no mask, score bias or other variant: every head its own
    /// k and v of `head_dim`, scores in the inputs' dtype, SDPA where the run allows it. The
    /// callers set what their model changes (`Attention { causal: true, ..plain(..) }`).
    pub fn plain(
        batch: u64,
        heads: u64,
        q_len: u64,
        kv_len: u64,
        head_dim: u64,
        dropout: f64,
    ) -> Attention {
        Attention {
            batch,
            heads,
            kv_heads: heads,
            q_len,
            kv_len,
            head_dim,
            v_head_dim: head_dim,
            causal: false,
            dropout,
            eager_mask: false,
            softmax_fp32: false,
            fused_qkv: false,
            score_bias: false,
            sinks: false,
            eager_only: false,
        }
    }

    /// (Uk, Uv): the FLOPs of one bmm shaped as q·kᵀ and of one shaped as scores·v.
    fn units(&self) -> Result<(u64, u64)> {
        let scores = prod(&[2, self.batch, self.heads, self.q_len, self.kv_len])?;
        Ok((
            crate::memory::mul(scores, self.head_dim)?,
            crate::memory::mul(scores, self.v_head_dim)?,
        ))
    }

    /// `uk`·Uk + `uv`·Uv.
    fn flops(&self, uk: u64, uv: u64) -> Result<u64> {
        let (k, v) = self.units()?;
        crate::memory::add(crate::memory::mul(k, uk)?, crate::memory::mul(v, uv)?)
    }

    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        // SDPA and matmul are autocast ops: fp32 inputs are copied to bf16 first
        let dt = if cx.amp() {
            DType::BF16
        } else {
            cx.in_dtype[0]
        };
        // fp32 SDPA with grouped kv heads (`enable_gqa`): the memory-efficient kernel does
        // not take GQA, so SDPA falls back to its math path — explicit scores and softmax,
        // k/v repeated to all heads, as eager (the counter then sees 4 bmm-units backward).
        // With a score bias (no flash) the bf16 case falls back the same way.
        // A value head size of its own rules flash out, and the memory-efficient kernel
        // needs both head sizes aligned to its GEMM tiles (sdp_utils
        // `check_head_dim_size_mem_efficient`: 4 elements fp32, 8 bf16 on sm80+): unaligned,
        // SDPA takes the math path too (as on the CPU, whose fused kernel needs one size).
        let align = if dt == DType::F32 { 4 } else { 8 };
        let unaligned_v = self.v_head_dim != self.head_dim
            && !(self.head_dim % align == 0 && self.v_head_dim % align == 0);
        let math = cx.attn == AttnImpl::Sdpa
            && (((dt == DType::F32 || self.score_bias) && self.kv_heads < self.heads)
                || unaligned_v);
        let imp = if math || self.sinks || self.eager_only {
            AttnImpl::Eager
        } else {
            cx.attn
        };
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
        let q_numel = prod(&[self.batch, self.q_len, self.heads, self.head_dim])?;
        let out_numel = prod(&[self.batch, self.q_len, self.heads, self.v_head_dim])?;
        let mut c = Cost {
            out: Some(Out::New {
                numel: out_numel,
                dtype: dt,
            }),
            ..Cost::default()
        };
        c.flops_fwd = self.flops(1, 1)?;
        if self.sinks {
            c.params.push(Param::new(self.heads, AmpCast::No));
        }
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
                        let q = bytes(q_numel, dt)?;
                        c.bwd_temp.extend([q, q, q]);
                    }
                    c.flops_bwd = self.flops(3, 2)?;
                    let flash = dt == DType::BF16
                        && self.head_dim <= 256
                        && self.v_head_dim == self.head_dim
                        && !self.score_bias;
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
                let rep = |d: u64| -> Result<u64> {
                    if self.kv_heads < self.heads {
                        bytes(prod(&[self.batch, self.heads, self.kv_len, d])?, dt)
                    } else {
                        Ok(0)
                    }
                };
                let (k_rep, v_rep) = (rep(self.head_dim)?, rep(self.v_head_dim)?);
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
                    // autograd's matmul backward computes only the gradients needed:
                    // dQ and dK from the scores, dP (for either) and dV from the output
                    // (a frozen base leaves k or v without one, as LoRA on q and v does)
                    let (dq, dk, dv) = if self.fused_qkv {
                        (true, true, true)
                    } else {
                        (cx.grad(0), cx.grad(1), cx.grad(2))
                    };
                    c.flops_bwd =
                        self.flops(dq as u64 + dk as u64, (dq || dk) as u64 + dv as u64)?;
                    c.saved.extend(casts.iter().copied());
                    if k_rep > 0 {
                        c.save_inputs = saved_in.iter().copied().filter(|&i| i == 0).collect();
                        c.saved.extend([k_rep, v_rep]);
                    } else {
                        c.save_inputs = saved_in.clone();
                    }
                    if self.fused_qkv {
                        let q = bytes(q_numel, dt)?;
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
                    if self.sinks {
                        c.fwd_temp.push(bytes(s2n, masked_dt)?); // the row-max shifted copy
                    }
                    // backward: dP, dropout's and the cast's gradients, softmax's fp32
                    // gradient, the scaling's gradient
                    c.bwd_temp = vec![s2, bytes(s2n, sm_dt)?, bytes(s2n, sm_dt)?, attn_out];
                    if let (true, Some(bdt)) = (bias_grad, bias_dt) {
                        c.bwd_temp
                            .push(bytes(prod(&[self.heads, self.q_len, self.kv_len])?, bdt)?);
                    }
                } else {
                    c.fwd_temp.extend(casts.iter().copied());
                    if k_rep > 0 {
                        c.fwd_temp.extend([k_rep, v_rep]);
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
                    if self.sinks {
                        c.fwd_temp.push(bytes(s2n, masked_dt)?);
                    }
                }
            }
        }
        Ok(c)
    }
}

fn round_up(x: u64, m: u64) -> u64 {
    x.div_ceil(m).saturating_mul(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::Precision;

    /// Backward FLOPs of one training SDPA call in `precision` (B=2, H=4, Sq=Sk=10).
    fn backward_flops(head_dim: u64, v_head_dim: u64, precision: Precision) -> u64 {
        let a = Attention {
            v_head_dim,
            ..Attention::plain(2, 4, 10, 10, head_dim, 0.0)
        };
        let dt = if precision == Precision::Bf16 {
            DType::BF16
        } else {
            DType::F32
        };
        let cx = Ctx {
            record: true,
            train_mode: true,
            precision,
            attn: AttnImpl::Sdpa,
            in_dtype: &[dt; 3],
            in_numel: &[2 * 10 * 4 * head_dim, 0, 2 * 10 * 4 * v_head_dim],
            in_grad: &[true; 3],
            frozen: false,
        };
        a.lower(&cx).unwrap().flops_bwd
    }

    #[test]
    fn a_value_head_size_of_its_own_counts_as_flop_counter_does() {
        let scores = 2 * 2 * 4 * 10 * 10;
        // one head size: 10·B·H·Sq·Sk·D, as before
        assert_eq!(backward_flops(8, 8, Precision::Fp32), 5 * scores * 8);
        // aligned sizes: the memory-efficient kernel, 3·Uk + 2·Uv
        assert_eq!(
            backward_flops(8, 16, Precision::Fp32),
            scores * (3 * 8 + 2 * 16)
        );
        assert_eq!(
            backward_flops(8, 16, Precision::Bf16),
            scores * (3 * 8 + 2 * 16)
        );
        // unaligned (6 is not a multiple of 4 fp32, 12 not of 8 bf16): the math path
        assert_eq!(
            backward_flops(8, 6, Precision::Fp32),
            scores * (2 * 8 + 2 * 6)
        );
        assert_eq!(
            backward_flops(8, 12, Precision::Bf16),
            scores * (2 * 8 + 2 * 12)
        );
    }
}
