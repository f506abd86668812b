//! `nn.Embedding(vocab, dim)` looked up at `tokens` int64 ids.
//!
//! Weights: the table (vocab×dim). Output: tokens×dim in the table's dtype (autocast
//! leaves embedding alone). Saves the ids (the caller's tensor). Backward
//! (`embedding_dense_backward_cuda`) sorts the ids (a few int64 vectors of `tokens`),
//! accumulates per-segment partial sums in the accumulation type (fp32,
//! tokens×dim) and writes a dense vocab×dim gradient. No FLOPs.
use super::{bytes, AmpCast, Cost, Ctx, Out, Param};
use crate::memory::graph::DType;
use crate::memory::Result;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Embedding {
    pub tokens: u64,
    pub vocab: u64,
    pub dim: u64,
}

impl Embedding {
    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        let mut c = Cost::default();
        c.params.push(Param::new(
            crate::memory::mul(self.vocab, self.dim)?,
            AmpCast::No,
        ));
        let out = crate::memory::mul(self.tokens, self.dim)?;
        c.out = Some(Out::New {
            numel: out,
            dtype: cx.param_dtype(),
        });
        if cx.record {
            c.save_inputs.push(0);
            let ids = bytes(self.tokens, DType::I64)?;
            c.bwd_temp = vec![ids, ids, ids, ids, bytes(out, DType::F32)?];
        }
        Ok(c)
    }
}
