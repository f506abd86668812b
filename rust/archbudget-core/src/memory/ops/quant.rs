//! A linear whose weight is stored quantized ([`crate::memory::quant`]), as the
//! quantizers' modules run it: the weight is frozen (no weight gradient), the input is
//! not saved, and the matmul runs on a dequantized or unpacked copy that lives only
//! while the op runs.
//!
//! Transients, forward (M = rows, N × K the weight, dt the compute dtype):
//! - nf4 / fp4 (bitsandbytes `MatMul4Bit` → `gemm_4bit`, `backends/cuda/ops.py`): past
//!   M = 4 the dequantize + `F.linear` fallback (`_dequant_linear_fallback`: the weight
//!   N × K in dt and, with double quantization, the fp32 absmax and absmax + offset);
//!   up to M = 4 the fused kernel, none. (bitsandbytes picks the fused kernel up to
//!   M = 1536 on some GPUs; the fallback is charged there: the larger figure.)
//!   Backward dequantizes again for the input gradient (`MatMul4Bit.backward`).
//! - int8 (`MatMul8bitLt`, `threshold` 6.0): the fp16 copy of the input, its int8
//!   quantization and row scales (`int8_vectorwise_quant`), the int32 product and its
//!   fp16 dequantization (`int8_mm_dequant`); outlier columns depend on the data and are
//!   not charged. Backward: `CB` dequantized to fp16.
//! - int4 (GPTQ / AWQ, exllama v2): past 50 rows (`MAX_Q_GEMM_ROWS`) the weight is
//!   reconstructed to fp16 for cuBLAS; below, the fused kernel reads it packed.
//! - fp8 (`FP8Linear` → `fp8_linear`): the per-token-group fp8 input and its fp32
//!   scales (`act_quant`, one per `bk` inputs); backward dequantizes the weight
//!   (`FP8LinearFunction.backward`, `_dequantize_fp8_weight`).
//!
//! FLOPs: 2·M·K·N forward (the dequantize + linear path is what
//! `torch.utils.flop_counter` sees), the same again for the input gradient.
use super::{bytes, mm_flops, AmpCast, Cost, Ctx, Linear, Out, Param};
use crate::memory::graph::DType;
use crate::memory::quant::{Quant, QuantFormat};
use crate::memory::{mul, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuantLinear {
    pub linear: Linear,
    pub quant: Quant,
}

impl QuantLinear {
    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        let l = &self.linear;
        let (m, k, n) = (l.rows, l.in_features, l.out_features);
        let dt = cx.mm_dtype();
        let w = mul(n, k)?;
        let mut c = Cost::default();
        c.params.push(Param {
            stored: Some(self.quant.weight_tensors(n, k)?),
            ..Param::new(w, AmpCast::No)
        });
        if l.bias {
            c.params.push(Param::new(n, AmpCast::No));
        }
        let dequantized = bytes(w, dt)?;
        let (fwd, bwd): (Vec<u64>, Vec<u64>) = match self.quant.format {
            QuantFormat::FourBit { double_quant, .. } => {
                let blocks = w.div_ceil(64);
                let mut t = vec![dequantized];
                if double_quant {
                    t.extend([bytes(blocks, DType::F32)?, bytes(blocks, DType::F32)?]);
                }
                (if m > 4 { t.clone() } else { Vec::new() }, t)
            }
            QuantFormat::Int8 => {
                let mk = mul(m, k)?;
                let mn = mul(m, n)?;
                (
                    vec![mul(mk, 2)?, mk, mul(m, 4)?, mul(mn, 4)?, mul(mn, 2)?],
                    vec![mul(w, 2)?],
                )
            }
            QuantFormat::Gptq { .. } | QuantFormat::Awq { .. } => {
                let fp16 = vec![mul(w, 2)?];
                (if m > 50 { fp16.clone() } else { Vec::new() }, fp16)
            }
            // MXFP4 converts the stacked experts alone (`MoeExperts`), no `nn.Linear`
            QuantFormat::Mxfp4 => (Vec::new(), Vec::new()),
            QuantFormat::Fp8 { block: (_, bk) } => (
                vec![mul(m, k)?, bytes(mul(m, k.div_ceil(bk))?, DType::F32)?],
                vec![dequantized],
            ),
        };
        // the input cast to the compute dtype (`x.to(compute_dtype)`), not saved
        if cx.in_dtype[0] != dt {
            c.fwd_temp.push(bytes(mul(m, k)?, dt)?);
        }
        c.fwd_temp.extend(fwd);
        c.out = Some(Out::New {
            numel: mul(m, n)?,
            dtype: dt,
        });
        let f = mm_flops(m, k, n)?;
        c.flops_fwd = f;
        if cx.grad(0) {
            c.bwd_temp = bwd;
            c.flops_bwd = f;
        }
        Ok(c)
    }
}
