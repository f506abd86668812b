//! peft's adapter weights: `lora_A` / `lora_B` linears ([`LoraLinear`]) and LoRA on a
//! stacked MoE expert weight ([`ExpertsLora`]). peft keeps adapter weights in fp32:
//! `get_peft_model(autocast_adapter_dtype=True)` upcasts bf16 / fp16 adapters
//! (`tuners_utils.cast_adapter_dtype`), so on a bf16 model they run in fp32 and their
//! gradients and optimizer state are fp32.
//!
//! LoRA on a stacked MoE expert weight (`tuners/lora/layer.py`, `ParamWrapper`
//! with `num_experts` > 1), as it targets transformers 5's mixtral `gate_up_proj` and
//! `down_proj` (experts × out × in).
//!
//! Weights: `lora_A` (rank·experts × in) and `lora_B` (out × rank·experts), trainable.
//! The forward registers a parametrization (`_activate_lora`, `_LoraFactorsProxy`) whose
//! cached value is the effective weight `baddbmm(W, B_e, A_e) · scaling`: a new tensor of
//! the whole stack (experts × out × in, the weight's dtype), which the experts' matmul
//! keeps for its input gradient; it is this op's output, read by [`super::MoeExperts`].
//! Saves nothing of its own (A and B are parameters). FLOPs: the baddbmm,
//! 2·experts·out·rank·in; backward, one bmm for each factor's gradient.
use super::{mm_flops, AmpCast, Cost, Ctx, Linear, Out, Param};
use crate::memory::graph::DType;
use crate::memory::{mul, Precision, Result};

/// The run as an adapter sees it: fp32 weights where the model's are bf16.
fn adapter_ctx<'a>(cx: &Ctx<'a>) -> Ctx<'a> {
    let precision = match cx.precision {
        Precision::Bf16 => Precision::Fp32,
        p => p,
    };
    Ctx { precision, ..*cx }
}

fn fp32(mut p: Param) -> Param {
    p.dtype = Some(DType::F32);
    p
}

/// `lora_A` or `lora_B`: an `nn.Linear` without bias whose weight is fp32 (an fp32
/// input and output on a bf16 model; under autocast a bf16 matmul as any fp32 weight).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoraLinear(pub Linear);

impl LoraLinear {
    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        let mut c = self.0.lower(&adapter_ctx(cx))?;
        c.params = c.params.into_iter().map(fp32).collect();
        Ok(c)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpertsLora {
    pub experts: u64,
    pub in_features: u64,
    pub out_features: u64,
    pub rank: u64,
}

impl ExpertsLora {
    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        let re = mul(self.rank, self.experts)?;
        let mut c = Cost::default();
        c.params
            .push(Param::new(mul(re, self.in_features)?, AmpCast::No));
        c.params
            .push(Param::new(mul(re, self.out_features)?, AmpCast::No));
        c.out = Some(Out::New {
            numel: mul(self.experts, mul(self.out_features, self.in_features)?)?,
            dtype: cx.param_dtype(),
        });
        let f = mul(
            self.experts,
            mm_flops(self.out_features, self.rank, self.in_features)?,
        )?;
        c.flops_fwd = f;
        if cx.wgrad() {
            c.flops_bwd = mul(f, 2)?;
        }
        Ok(c)
    }
}
