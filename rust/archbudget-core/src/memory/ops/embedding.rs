//! `nn.Embedding(vocab, dim)` looked up at `tokens` int64 ids.
//!
//! Weights: the table (vocab×dim). Output: tokens×dim in the table's dtype (autocast
//! leaves embedding alone). Saves the ids (the caller's tensor). Backward
//! (`embedding_dense_backward_cuda`) sorts the ids (a few int64 vectors of `tokens`),
//! accumulates per-segment partial sums in the accumulation type (fp32,
//! tokens×dim) and writes a dense vocab×dim gradient. No FLOPs. A `tied` table is
//! another op's parameter (t5's decoder reads the encoder's `shared` embedding): not
//! counted again, its gradient added into the same `.grad`.
use super::{bytes, AmpCast, Cost, Ctx, Out, Param};
use crate::memory::graph::DType;
use crate::memory::Result;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Embedding {
    pub tokens: u64,
    pub vocab: u64,
    pub dim: u64,
    pub tied: bool,
}

impl Embedding {
    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        let mut c = Cost::default();
        let mut w = Param::new(crate::memory::mul(self.vocab, self.dim)?, AmpCast::No);
        w.shared = self.tied;
        c.params.push(w);
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

/// HF `ViTEmbeddings` after the patch convolution: `torch.cat((cls_token.expand(B, -1,
/// -1), patches), dim=1) + position_embeddings` over `batch` images of `patches` patch
/// tokens (the input, batch × patches × dim); `DeiTEmbeddings` puts a distillation token
/// beside the CLS token (`tokens` = 2).
///
/// Weights: one `dim` vector per token, `position_embeddings` ((patches + tokens) × dim).
/// Output: batch × (patches + tokens) × dim in the promoted dtype (fp32 under autocast: neither cat
/// nor add is an autocast op, and the conv's bf16 output meets fp32 parameters). The
/// cat's output is a transient. Saves nothing: cat's backward slices the gradient, the
/// add's reduces it over the batch into the parameters' gradients. No FLOPs.
/// Follows `modeling_vit.py` of transformers 5.17 (no mask token, no interpolation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClsPositions {
    pub batch: u64,
    pub patches: u64,
    pub dim: u64,
    pub tokens: u64,
}

impl ClsPositions {
    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        let slots = crate::memory::add(self.patches, self.tokens)?;
        let numel = crate::memory::mul(crate::memory::mul(self.batch, slots)?, self.dim)?;
        let pd = cx.param_dtype();
        let dtype = if cx.in_dtype[0] == DType::F32 {
            DType::F32
        } else {
            pd
        };
        Ok(Cost {
            params: std::iter::repeat_n(Param::new(self.dim, AmpCast::No), self.tokens as usize)
                .chain([Param::new(
                    crate::memory::mul(slots, self.dim)?,
                    AmpCast::No,
                )])
                .collect(),
            out: Some(Out::New { numel, dtype }),
            // without tokens there is no cat: the positions are added to the patches
            fwd_temp: match self.tokens {
                0 => Vec::new(),
                _ => vec![bytes(numel, dtype)?],
            },
            ..Cost::default()
        })
    }
}
