//! peft's LoRA on a stacked MoE expert weight (`tuners/lora/layer.py`, `ParamWrapper`
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
use super::{mm_flops, AmpCast, Cost, Ctx, Out, Param};
use crate::memory::{mul, Result};

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
