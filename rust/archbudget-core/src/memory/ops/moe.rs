//! Sparse mixture-of-experts MLPs as transformers 5 runs them (mixtral, qwen2_moe): a
//! router after its `Linear` ([`Router`]) and the routed experts ([`MoeExperts`]).
//!
//! Token split: every tensor of the default experts path is sized by S = rows · top_k
//! (the selected token–expert pairs), not by how many tokens each expert receives, so
//! neither bytes nor FLOPs depend on the routing. Where a split matters we assume the
//! balanced expectation, rows · top_k / experts tokens per expert (with it every expert
//! receives tokens, so every expert's weight gradient is computed).
use super::{bytes, mm_flops, AmpCast, Cost, Ctx, Out, Param};
use crate::arch::RouterScoring;
use crate::memory::graph::DType;
use crate::memory::{add, mul, Result};

/// HF `MixtralTopKRouter` / `Qwen2MoeTopKRouter` after the router `Linear`: input the
/// logits (rows × experts), `softmax(logits.float())` (an fp32 copy first when the
/// logits are bf16), `topk` (values and int64 indices, rows × top_k), mixtral's (and
/// qwen2_moe's `norm_topk_prob`) in-place renormalisation `v /= v.sum(-1, keepdim)`,
/// and qwen2_moe's cast back to the logits' dtype.
///
/// Output: the top-k routing weights, rows × top_k. Saves: the softmax output (fp32),
/// the indices (topk's backward scatters into them), and for the renormalisation the
/// sum and the values it divided (autograd clones `self` of an in-place division).
/// No FLOPs (softmax and topk are not counted). Follows `modeling_mixtral.py`,
/// `modeling_qwen2_moe.py` of transformers 5.17.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Router {
    pub rows: u64,
    pub experts: u64,
    pub top_k: u64,
    pub renormalize: bool,
    /// qwen2_moe: `router_top_value.to(router_logits.dtype)`.
    pub cast_to_logits: bool,
    /// How scores are made from the logits (the cost above is `Softmax`'s).
    pub scoring: RouterScoring,
}

impl Router {
    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        match self.scoring {
            RouterScoring::Softmax => self.softmax(cx),
            _ => self.other(cx),
        }
    }

    /// The routers of the MoE/MLA types (`modeling_deepseek_v3.py`, `modeling_glm4_moe.py`,
    /// `modeling_gpt_oss.py`, `modeling_llama4.py` of transformers 5.x):
    /// - `GroupSigmoid`: `sigmoid(logits)` (saved), `+ e_score_correction_bias` (an fp32
    ///   buffer), the group mask (`zeros_like`, scatter, expand, reshape: rows × experts),
    ///   `masked_fill`, top-k, `gather` of the k scores (indices saved), renormalised as
    ///   `Router` does and scaled by `routed_scaling_factor`. Output: rows × top_k fp32.
    /// - `TopkSoftmax`: top-k of the logits (indices saved), softmax over the k (saved).
    ///   Output: rows × top_k in the logits' dtype.
    /// - `DenseSigmoid`: top-k of the logits, `full_like(-inf).scatter_` (rows × experts),
    ///   `sigmoid(.float())` (saved) cast back. Output: rows × experts scores.
    ///
    /// No FLOPs.
    fn other(&self, cx: &Ctx) -> Result<Cost> {
        let dt = cx.in_dtype[0];
        let re = mul(self.rows, self.experts)?;
        let rk = mul(self.rows, self.top_k)?;
        let full = |d| bytes(re, d);
        let idx = bytes(rk, DType::I64)?;
        let mut c = Cost::default();
        let (numel, dtype) = match self.scoring {
            RouterScoring::GroupSigmoid => {
                c.buffers.push((self.experts, DType::F32));
                let f = full(DType::F32)?;
                c.saved = vec![full(dt)?, idx];
                if self.renormalize {
                    c.saved
                        .extend([bytes(self.rows, DType::F32)?, bytes(rk, DType::F32)?]);
                }
                c.fwd_temp = vec![f, f, f, full(DType::Bool)?, full(DType::Bool)?];
                c.bwd_temp = vec![f, f];
                (rk, DType::F32)
            }
            RouterScoring::TopkSoftmax => {
                c.saved = vec![idx, bytes(rk, dt)?];
                c.fwd_temp = vec![bytes(rk, dt)?];
                c.bwd_temp = vec![full(dt)?];
                (rk, dt)
            }
            _ => {
                c.saved = vec![idx, full(DType::F32)?];
                c.fwd_temp = vec![bytes(rk, dt)?, full(dt)?];
                c.bwd_temp = vec![full(DType::F32)?, full(dt)?];
                (re, dt)
            }
        };
        c.out = Some(Out::New { numel, dtype });
        Ok(c)
    }

    fn softmax(&self, cx: &Ctx) -> Result<Cost> {
        let probs = bytes(mul(self.rows, self.experts)?, DType::F32)?;
        let rk = mul(self.rows, self.top_k)?;
        let out_dt = if self.cast_to_logits {
            cx.in_dtype[0]
        } else {
            DType::F32
        };
        let mut c = Cost {
            out: Some(Out::New {
                numel: rk,
                dtype: out_dt,
            }),
            ..Cost::default()
        };
        if cx.in_dtype[0] != DType::F32 {
            c.fwd_temp.push(probs); // logits.float()
        }
        let mut kept = vec![probs, bytes(rk, DType::I64)?];
        if self.renormalize {
            kept.extend([bytes(self.rows, DType::F32)?, bytes(rk, DType::F32)?]);
        }
        c.saved = kept;
        c.bwd_temp = vec![probs, probs]; // topk's scattered gradient, softmax's
        Ok(c)
    }
}

/// HF `MixtralExperts` / `Qwen2MoeExperts` on the default `grouped_mm` path
/// (`integrations/moe.py`, `grouped_mm_experts_forward`): inputs the hidden states
/// (rows × hidden) and the routing weights (rows × top_k, from [`Router`]).
///
/// Computes, with S = rows · top_k: sort the expert ids (values, permutation), gather
/// the S selected rows (`hidden[perm // top_k]`) and weights, mask sentinel rows (a bool
/// per pair) in place, `grouped_mm` with `gate_up_proj` (S × 2·inter), a masked copy,
/// `act(gate) * up` on its two halves (S × inter each), `grouped_mm` with `down_proj`
/// (S × hidden), a masked copy, the product with the routing weights, the inverse
/// permutation gather, and the sum over the top_k slots (rows × hidden).
/// `grouped_mm` is not an autocast op: the experts run in the weights' dtype (fp32 under
/// `amp_bf16`), which is the hidden states' dtype in every precision.
///
/// Weights: `gate_up_proj` (experts × 2·inter × hidden), `down_proj` (experts × hidden ×
/// inter). Output: rows × hidden. Saves: the two gather index vectors and the inverse
/// permutation (S int64 each), the mask (S bool), the selected rows (S × hidden), the
/// masked up projection (S × 2·inter, kept by the activation through the `gate` view and
/// by the product through `up`), the activation and the product (S × inter each), the
/// masked down projection (S × hidden) and the gathered weights (S). The activation is
/// one kernel (silu, gelu, relu), whose saved tensor is one of these.
/// Transients: forward, the raw `grouped_mm` output before its masked copy, then the
/// weighted product beside its gathered copy; in inference the Python locals keep the
/// selected rows and the masked projections alive to the function's end. Backward at
/// its widest: the concatenated S × 2·inter gradient of the two halves beside its
/// masked copy (or three S × hidden gradients at the top).
/// FLOPs: 2·S·hidden·2·inter + 2·S·inter·hidden forward; the same again for the input
/// gradients and for the weight gradients. `torch.utils.flop_counter` has no rule for
/// `grouped_mm` and counts none of this (as with the fused LSTM, we give the true
/// count); with `experts_implementation="eager"` it counts exactly this.
///
/// With LoRA on the experts ([`super::ExpertsLora`]), the effective `gate_up_proj` and
/// `down_proj` come in as inputs after the routing weights (in that order, where
/// adapted): `grouped_mm` keeps them for the input gradient and computes their
/// gradients (full size) although the stored weights are frozen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoeExperts {
    pub rows: u64,
    pub hidden: u64,
    pub inter: u64,
    pub experts: u64,
    pub top_k: u64,
    /// Which of (`gate_up_proj`, `down_proj`) come in as LoRA-effective inputs.
    pub lora: (bool, bool),
    /// Biases on both projections (gpt_oss): `[experts, 2·inter]` and `[experts, hidden]`
    /// parameters, gathered per selected row (S × 2·inter, S × hidden) and added in place.
    pub bias: bool,
    /// gpt_oss's `_apply_gate`: `g = clamp(gate, max=limit)`, `(clamp(up) + 1) · g ·
    /// sigmoid(α g)` on the interleaved halves, which keeps two more S × inter tensors
    /// than `act(gate) * up`.
    pub clamped_swiglu: bool,
    /// gpt-oss's experts stored in MXFP4 ([`crate::memory::quant`]) and run by the
    /// triton kernels ([`Self::lower_mxfp4`]); inference only.
    pub mxfp4: bool,
}

impl MoeExperts {
    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        if self.mxfp4 {
            return self.lower_mxfp4(cx);
        }
        let dt = cx.in_dtype[0];
        let s = mul(self.rows, self.top_k)?;
        let hb = bytes(mul(s, self.hidden)?, dt)?;
        let ib = bytes(mul(s, self.inter)?, dt)?;
        let idx = bytes(s, DType::I64)?;
        let mut c = Cost::default();
        let gate_up = mul(self.experts, mul(2, mul(self.inter, self.hidden)?)?)?;
        c.params.push(Param::new(gate_up, AmpCast::No));
        c.params.push(Param::new(
            mul(self.experts, mul(self.hidden, self.inter)?)?,
            AmpCast::No,
        ));
        if self.bias {
            c.params.push(Param::new(
                mul(self.experts, mul(2, self.inter)?)?,
                AmpCast::No,
            ));
            c.params
                .push(Param::new(mul(self.experts, self.hidden)?, AmpCast::No));
        }
        c.out = Some(Out::New {
            numel: mul(self.rows, self.hidden)?,
            dtype: dt,
        });
        let f = mul(mm_flops(s, self.hidden, self.inter)?, 3)?;
        c.flops_fwd = f;
        // the sorted ids and the histogram's int32 copy of them
        let sort = [idx, bytes(s, DType::I64)? / 2];
        if cx.record {
            c.saved = vec![
                idx,
                idx,
                idx,
                bytes(s, DType::Bool)?,
                hb,
                mul(2, ib)?,
                ib,
                ib,
                hb,
                bytes(s, cx.in_dtype[1])?,
            ];
            c.fwd_temp = vec![mul(2, ib)?.max(mul(2, hb)?)];
            c.fwd_temp.extend(sort);
            if self.clamped_swiglu {
                c.saved.extend([ib, ib]);
            }
            if self.bias {
                c.fwd_temp.push(mul(2, ib)?.max(hb));
            }
            c.bwd_temp = vec![mul(4, ib)?.max(mul(3, hb)?), idx, idx];
            let (gate_up, down) = self.lora;
            c.save_inputs = (2..2 + gate_up as usize + down as usize).collect();
            // weight gradients: of the trainable weights, or of the LoRA-effective ones
            let f_down = mm_flops(s, self.inter, self.hidden)?;
            let wgrad = if cx.wgrad() {
                f
            } else {
                (gate_up as u64) * (f - f_down) + (down as u64) * f_down
            };
            c.flops_bwd = add(mul(f, cx.grad(0) as u64)?, wgrad)?;
        } else {
            c.fwd_temp = vec![hb, mul(4, ib)?.max(mul(3, hb)?), idx, idx, idx];
            c.fwd_temp.extend(sort);
            if self.bias {
                c.fwd_temp.push(mul(2, ib)?.max(hb));
            }
        }
        Ok(c)
    }
}

impl MoeExperts {
    /// `Mxfp4GptOssMLP` (transformers `integrations/mxfp4.py`), inference: the triton
    /// kernels' `routing` (the gate scales S in the logits' dtype, the sorted and inverse
    /// route indices S int32 each, the histogram per expert), then `matmul_ogs` twice
    /// (`matmul_ogs.py`, `init_allocation`): gate_up gathers the rows and fuses the
    /// clamped swiglu, its output S × inter; down scatters with top_k > 1, its output
    /// (S + rows) × hidden with the fused-scatter scratchpad before the rows kept (or,
    /// unfused, the same S × hidden as a separate scratchpad), with the write-back
    /// indices (S, and rows + S + 1, int32). The weights: packed values and scales as
    /// [`crate::memory::quant::Quant::weight_tensors`] says, the biases fp32.
    /// FLOPs as the bf16 experts.
    fn lower_mxfp4(&self, cx: &Ctx) -> Result<Cost> {
        let dt = cx.in_dtype[0];
        let s = mul(self.rows, self.top_k)?;
        let gate_up = mul(self.experts, mul(2, mul(self.inter, self.hidden)?)?)?;
        let down = mul(self.experts, mul(self.hidden, self.inter)?)?;
        let mxfp4 = crate::memory::quant::Quant {
            format: crate::memory::quant::QuantFormat::Mxfp4,
            skip: Default::default(),
        };
        let mut c = Cost::default();
        for (numel, per_expert) in [(gate_up, 2 * self.inter), (down, self.hidden)] {
            // one stored tensor pair for the whole stack: n/2 packed, n/32 scales
            c.params.push(Param {
                stored: Some(mxfp4.weight_tensors(numel, 1)?),
                ..Param::new(numel, AmpCast::No)
            });
            c.params.push(Param {
                dtype: Some(DType::F32),
                ..Param::new(mul(self.experts, per_expert)?, AmpCast::No)
            });
        }
        c.out = Some(Out::New {
            numel: mul(self.rows, self.hidden)?,
            dtype: dt,
        });
        let int32 = |n: u64| mul(n, 4);
        c.fwd_temp = vec![
            bytes(s, dt)?,
            int32(s)?,
            int32(s)?,
            int32(self.experts)?,
            bytes(mul(s, self.inter)?, dt)?,
            bytes(mul(s, self.hidden)?, dt)?,
            int32(s)?,
            int32(add(add(self.rows, s)?, 1)?)?,
        ];
        c.flops_fwd = mul(mm_flops(s, self.hidden, self.inter)?, 3)?;
        Ok(c)
    }
}
