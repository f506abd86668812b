//! Gemma 4's vision tower (`gemma4_vision`, and keras-hub's Gemma4VisionEncoder as its
//! twin) lowered into the op graph: one step of `model(pixel_values, pixel_position_ids)`
//! on `batch` images of `soft_tokens · k²` pre-cut patches each, as `modeling_gemma4.py` of
//! transformers 5.24 runs it:
//! - the patch embedder: `2 * (pixels - 0.5)` (two new tensors), `input_proj`, the two
//!   lookups of the position table (x and y rows), their sum, the padding `where` and the
//!   sum with the patches;
//! - the rotary tables: cos and sin over the whole head (the axes' halves concatenated);
//!   eager attention adds the bidirectional float mask (SDPA, no padding, needs none);
//! - each layer: `input_layernorm`, q/k/v through `Gemma4ClippableLinear` (with
//!   `use_clipped_linears` a clamp before and after each linear, each a new tensor that
//!   keeps its input), the q and k norms, the 2-D rotation (each axis' half rotated, then
//!   concatenated: a copy), the scale-free v norm, attention over every patch, `o_proj`,
//!   the sandwich norms and residual sums around attention and the gated MLP;
//! - the pooler: the padding `masked_fill`, the one-hot averaging weights (float, batch ×
//!   patches × soft tokens), their product with the float hidden states (a bmm), the cast
//!   back, the float `sqrt(hidden)` scaling, the boolean gather of the valid soft tokens
//!   (a copy), `standardize`'s shift and scale, the cast to the working dtype.
//!
//! keras-hub's encoder returns those tokens through gemma4's `Gemma4MultimodalEmbedder`
//! (a scale-free RMSNorm and a bias-free projection), lowered after them. The loss is
//! `output.float().pow(2).mean()`. keras-hub zeroes the padding patches after each block
//! (`x * real_mask`), which its twin does not: not lowered.
use super::graph::{DType, Graph, InputKind, ValueId};
use super::hf_decoder::norm_op;
use super::ops::*;
use super::{mul, Precision, Result, RunSettings};
use crate::arch::{Gemma4Tower, NormKind, VisionOutput, VisionTower};

/// What every op of the tower reads.
struct Tower<'a> {
    t: &'a VisionTower,
    g4: Gemma4Tower,
    /// batch × patches.
    rows: u64,
    act: ActKind,
}

impl Tower<'_> {
    /// A `Gemma4ClippableLinear` on `rows` rows of `x`.
    fn linear(&self, g: &mut Graph, x: ValueId, rows: u64, (i, o): (u64, u64)) -> ValueId {
        let clamp = || {
            Op::Act(Act {
                kind: ActKind::Clamp,
            })
        };
        let x = match self.g4.clipped {
            true => g.push(clamp(), &[x]),
            false => x,
        };
        let y = g.push(Op::Linear(Linear::new(rows, i, o, false)), &[x]);
        match self.g4.clipped {
            true => g.push(clamp(), &[y]),
            false => y,
        }
    }

    fn norm(&self, rows: u64, dim: u64) -> Op {
        norm_op(NormKind::RmsNorm, rows, dim)
    }
}

/// A scale-free RMSNorm (v's, the embedder's).
fn bare_norm(rows: u64, dim: u64) -> Op {
    Op::FusedRmsNorm(FusedRmsNorm {
        rows,
        dim,
        weight: false,
    })
}

/// The tower's buffers (elements, dtype): the rotary `inv_freq` and `original_inv_freq`
/// (`head_dim / 4` frequencies, rounded up, per axis), four scalar bounds per clipped
/// linear (seven per layer) and `standardize`'s bias and scale.
pub(super) fn buffers(t: &VisionTower, g4: &Gemma4Tower) -> Result<Vec<(u64, DType)>> {
    let freqs = (g4.head_dim / 2).div_ceil(2);
    let mut out = vec![(freqs, DType::F32); 2];
    if g4.clipped {
        let bounds = mul(mul(t.num_layers, 7)?, 4)?;
        out.extend(std::iter::repeat_n((1, DType::F32), bounds as usize));
    }
    if g4.standardize {
        out.extend([(t.hidden_size, DType::F32); 2]);
    }
    Ok(out)
}

/// The tower on `b` images, what `output` asks for after it, and the loss.
pub(super) fn graph(
    t: &VisionTower,
    act: &str,
    output: VisionOutput,
    run: &RunSettings,
) -> Result<Graph> {
    let g4 = t
        .gemma4
        .ok_or_else(|| crate::Error::Internal("a Gemma 4 tower without its details".into()))?;
    let (b, h) = (run.batch, t.hidden_size);
    let pool = mul(g4.pooling_kernel, g4.pooling_kernel)?;
    let patches = mul(g4.soft_tokens, pool)?;
    let st = Tower {
        t,
        g4,
        rows: mul(b, patches)?,
        act: match act {
            "silu" | "swish" => ActKind::Silu,
            "relu" => ActKind::Relu,
            _ => ActKind::Gelu,
        },
    };
    let rows = st.rows;
    // the working dtype: the weights' (`.to(input_proj.weight.dtype)`, the residual stream)
    let work = match run.precision {
        Precision::Bf16 => DType::BF16,
        _ => DType::F32,
    };
    let mut g = Graph::default();
    for buffer in buffers(t, &g4)? {
        g.push(
            Op::Fill(Fill {
                numel: 0,
                dtype: Some(buffer.1),
                buffer: Some(buffer),
            }),
            &[],
        );
    }
    let pixel_width = mul(3, mul(t.patch_size, t.patch_size)?)?;
    let pixels = g.input(mul(rows, pixel_width)?, InputKind::Float);
    let positions = g.input(mul(rows, 2)?, InputKind::Index);

    // ---- patch embedder
    let shifted = g.push(Op::Add(Add), &[pixels]);
    let scaled = g.push(Op::Add(Add), &[shifted]);
    let scaled = g.push(Op::Cast(Cast { to: work }), &[scaled]);
    let x = g.push(
        Op::Linear(Linear::new(rows, pixel_width, h, false)),
        &[scaled],
    );
    // one table of both axes' rows; the second lookup reads the same parameter
    let x_pos = g.push(
        Op::Embedding(Embedding {
            tokens: rows,
            vocab: mul(2, g4.positions)?,
            dim: h,
            tied: false,
        }),
        &[positions],
    );
    let y_pos = g.push(
        Op::Embedding(Embedding {
            tokens: rows,
            vocab: g4.positions,
            dim: h,
            tied: true,
        }),
        &[positions],
    );
    let pos = g.push(Op::Add(Add), &[x_pos, y_pos]);
    let pos = g.push(Op::Add(Add), &[pos]);
    let mut x = g.push(Op::Add(Add), &[x, pos]);

    // ---- rotary tables and the mask
    let table = mul(rows, g4.head_dim)?;
    let eager = run.attn == AttnImpl::Eager;
    let mask_numel = mul(rows, patches)?;
    let mut fill = |numel| {
        g.push(
            Op::Fill(Fill {
                numel,
                dtype: None,
                buffer: None,
            }),
            &[],
        )
    };
    let cos_sin = (fill(table), fill(table));
    let mask = eager.then(|| fill(mask_numel));

    for _ in 0..t.num_layers {
        x = layer(&st, &mut g, x, cos_sin, mask, (b, patches))?;
    }

    // ---- pooler
    let soft = mul(b, g4.soft_tokens)?;
    let masked = g.push(Op::Add(Add), &[x]);
    let weights = g.push(
        Op::Fill(Fill {
            numel: mul(rows, g4.soft_tokens)?,
            dtype: Some(DType::F32),
            buffer: None,
        }),
        &[],
    );
    let wide = g.push(Op::Cast(Cast { to: DType::F32 }), &[masked]);
    let pooled = g.push(
        Op::Matmul(Matmul {
            batch: b,
            m: g4.soft_tokens,
            k: patches,
            n: h,
        }),
        &[weights, wide],
    );
    let pooled = g.push(Op::Cast(Cast { to: work }), &[pooled]);
    let pooled = g.push(Op::Cast(Cast { to: DType::F32 }), &[pooled]);
    let pooled = g.push(Op::Add(Add), &[pooled]);
    let mut tokens = g.push(Op::Copy(Copy::default()), &[pooled]);
    if g4.standardize {
        tokens = g.push(Op::Add(Add), &[tokens]);
        tokens = g.push(Op::Add(Add), &[tokens]);
    }
    let mut out = g.push(Op::Cast(Cast { to: work }), &[tokens]);
    if let VisionOutput::Gemma4Embedder { width } = output {
        let normed = g.push(bare_norm(soft, h), &[out]);
        out = g.push(Op::Linear(Linear::new(soft, h, width, false)), &[normed]);
    }
    let lf = g.push(Op::Cast(Cast { to: DType::F32 }), &[out]);
    g.push(Op::SquareMean(SquareMean), &[lf]);
    g.train_only_tail = 2;
    g.infer_output = Some(out);
    Ok(g)
}

/// One `Gemma4VisionEncoderLayer` on `x` (`b` images of `patches` patches).
fn layer(
    st: &Tower,
    g: &mut Graph,
    x: ValueId,
    (cos, sin): (ValueId, ValueId),
    mask: Option<ValueId>,
    (b, patches): (u64, u64),
) -> Result<ValueId> {
    let (t, g4, rows) = (st.t, st.g4, st.rows);
    let h = t.hidden_size;
    let hd = g4.head_dim;
    let (qd, kvd) = (mul(t.num_heads, hd)?, mul(g4.kv_heads, hd)?);
    let normed = g.push(st.norm(rows, h), &[x]);
    let rotated = |g: &mut Graph, width: u64, heads: u64| -> Result<ValueId> {
        let y = st.linear(g, normed, rows, (h, width));
        let y = g.push(st.norm(mul(rows, heads)?, hd), &[y]);
        let y = g.push(Op::Rotary(Rotary), &[y, cos, sin]);
        // the two axes' rotated halves concatenated
        Ok(g.push(Op::Copy(Copy::default()), &[y]))
    };
    let q = rotated(g, qd, t.num_heads)?;
    let k = rotated(g, kvd, g4.kv_heads)?;
    let v = st.linear(g, normed, rows, (h, kvd));
    let v = g.push(bare_norm(mul(rows, g4.kv_heads)?, hd), &[v]);
    let mut ins = vec![q, k, v];
    ins.extend(mask);
    let att = g.push(
        Op::Attention(Attention {
            kv_heads: g4.kv_heads,
            eager_mask: mask.is_some(),
            softmax_fp32: true,
            ..Attention::plain(b, t.num_heads, patches, patches, hd, 0.0)
        }),
        &ins,
    );
    let att = st.linear(g, att, rows, (qd, h));
    let att = g.push(st.norm(rows, h), &[att]);
    let x = g.push(Op::Add(Add), &[x, att]);

    let pre = g.push(st.norm(rows, h), &[x]);
    let inter = t.intermediate_size;
    let gate = st.linear(g, pre, rows, (h, inter));
    let gate = g.push(Op::Act(Act { kind: st.act }), &[gate]);
    let up = st.linear(g, pre, rows, (h, inter));
    let prod = g.push(Op::Mul(Mul), &[gate, up]);
    let down = st.linear(g, prod, rows, (inter, h));
    let down = g.push(st.norm(rows, h), &[down]);
    Ok(g.push(Op::Add(Add), &[x, down]))
}
