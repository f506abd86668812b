//! `torch.linalg.solve_triangular(A, B, upper=False, unitriangular=True)` on `batch`
//! systems of `n`×`n` (the UT transform of the gated delta rule, qwen3_next's torch
//! fallback).
//!
//! Output like B (batch × n × rhs) in fp32 (the rule casts everything to fp32 first);
//! autograd saves A and the output (backward solves with Aᵀ and forms dA = −dB·Xᵀ).
//! FLOPs as flop_counter counts them: none forward (it has no rule for the solve),
//! backward only the `dB @ Xᵀ` product, 2·batch·n·rhs·n, when A gets a gradient.
use super::{Cost, Ctx, Out, Result};
use crate::memory::graph::DType;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriangularSolve {
    pub batch: u64,
    pub n: u64,
    pub rhs: u64,
}

impl TriangularSolve {
    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        let product = super::prod(&[2, self.batch, self.n, self.rhs, self.n])?;
        Ok(Cost {
            out: Some(Out::New {
                numel: super::prod(&[self.batch, self.n, self.rhs])?,
                dtype: DType::F32,
            }),
            save_inputs: vec![0],
            save_output: true,
            flops_bwd: if cx.grad(0) { product } else { 0 },
            ..Cost::default()
        })
    }
}
