//! sam_vision_model lowered into the op graph: one step of `SamVisionModel(pixel_values)`
//! on `batch` images, the loss the base protocol's `last_hidden_state.float().pow(2).mean()`
//! (the neck's output). keras-hub's ViTDetBackbone runs as this twin.
//!
//! Computes, as `modeling_sam.py` of transformers 5.24 runs it:
//! - `patch_embed`: the patch convolution, `permute(0, 2, 3, 1)` (a view), `+ pos_embed`
//!   (a new tensor; without it the first LayerNorm copies the strided view);
//! - per layer over the s×s map: `layer_norm1`; a windowed layer pads the map to a multiple
//!   of the window (`F.pad`, a copy even when it pads nothing) and partitions it (a
//!   transposing copy, a view where a row holds one window); `qkv` on every token, its
//!   `reshape(3, B·heads, tokens, -1)` after a permute (a copy of all three), q, k, v its
//!   views; with `use_rel_pos`, per axis the table gathered at the side² relative
//!   coordinates (an int64 index made per call) and `einsum("bhwc,hkc->bhwk")` with the
//!   queries (a batched matmul, both operands saved), the two summed by broadcasting into a
//!   B·heads×tokens² bias; attention with that bias (SDPA's `attn_mask`: the
//!   memory-efficient kernel, bias gradient included; eager: scaled scores, bias added,
//!   fp32 softmax, attention dropout, which the SDPA class never applies); `proj`; the
//!   windows reversed (a copy, or a view) and the padding cropped (a copy where padded);
//!   the residual add; `layer_norm2`, `lin1`, activation, `lin2`, add;
//! - `neck`: the map permuted to channels first (a view), the bias-free 1×1 and 3×3
//!   convolutions each followed by a channels-first LayerNorm (permutes are views).
//!
//! Not charged: `F.interpolate` of each relative table to its own length (a copy of
//! (2·side − 1)·head_dim elements) and the float coordinate grids the index is made from,
//! both side²-sized at most.
use super::graph::{DType, Graph, InputKind, ValueId};
use super::hf::Dropouts;
use super::ops::*;
use super::{mul, Mode, Result, RunSettings};
use crate::arch::TransformerArch;
use crate::formats::hf::sam::SamVision;

pub(super) fn graph(
    a: &TransformerArch,
    s: &SamVision,
    drop: &Dropouts,
    run: &RunSettings,
) -> Result<Graph> {
    refuse(a, run, "the SAM image encoder (sam_vision_model)")?;
    let mut g = Graph::default();
    let pixels = pixels(&mut g, s, run)?;
    let x = encoder(&mut g, pixels, a, s, drop, run)?;
    if run.mode == Mode::Train {
        g.push(Op::Cast(Cast { to: DType::F32 }), &[x]);
        g.then(Op::SquareMean(SquareMean));
        g.train_only_tail = 2;
    }
    g.infer_output = Some(x);
    Ok(g)
}

/// What the SAM lowerings (this encoder, and sam's whole model) do not run.
pub(super) fn refuse(a: &TransformerArch, run: &RunSettings, lowering: &str) -> Result<()> {
    let here = a.model_type.as_str();
    run.refuse_for_encoder(here, lowering, "images")?;
    if run.grad_ckpt {
        return Err(crate::Error::invalid(
            here,
            "gradient checkpointing is not lowered for the SAM image encoder yet (each SamVisionLayer is a checkpointed layer)",
        ));
    }
    if run.batch == 0 {
        return Err(crate::Error::invalid("run", "batch must be positive"));
    }
    Ok(())
}

/// The `pixel_values` input of `run.batch` images (inputs come before any node).
pub(super) fn pixels(g: &mut Graph, s: &SamVision, run: &RunSettings) -> Result<ValueId> {
    Ok(g.input(
        prod(&[run.batch, s.channels, s.image, s.image])?,
        InputKind::Float,
    ))
}

/// `SamVisionEncoder(pixel_values)`: the neck's output, `[B, output_channels, s, s]`.
pub(super) fn encoder(
    g: &mut Graph,
    pixels: ValueId,
    a: &TransformerArch,
    s: &SamVision,
    drop: &Dropouts,
    run: &RunSettings,
) -> Result<ValueId> {
    let b = run.batch;
    let d = a.hidden_size;
    let side = s.side;
    g.push(
        Op::Conv(Conv {
            batch: b,
            in_channels: s.channels,
            out_channels: d,
            dims: vec![ConvDim::new(s.image, s.patch, s.patch, 0); 2],
            groups: 1,
            bias: true,
            transposed: false,
            shared_weights: false,
        }),
        &[pixels],
    );
    g.then(Op::View(View));
    let map = prod(&[b, side, side, d])?;
    let mut x = match s.abs_pos {
        true => g.then(Op::BiasAdd(BiasAdd {
            numel: prod(&[side, side, d])?,
        })),
        false => g.then(Op::Copy(Copy::default())),
    };
    let layer = Layer {
        batch: b,
        side,
        dim: d,
        heads: a.num_heads,
        qkv_bias: a.qkv_bias,
        rel_pos: s.rel_pos,
        mlp: a.intermediate_size,
        act: super::hf_encoders::act_kind(&a.activation),
        // the SDPA class passes no dropout to the kernel
        attn_dropout: match run.attn {
            AttnImpl::Eager => drop.attn,
            AttnImpl::Sdpa => 0.0,
        },
    };
    for i in 0..a.num_layers {
        x = layer.block(g, x, s.window_of(i), map)?;
    }
    let rows = prod(&[b, side, side])?;
    let c = s.output_channels;
    for (kernel, d_in) in [(1, d), (3, c)] {
        g.push(
            Op::Conv(Conv {
                batch: b,
                in_channels: d_in,
                out_channels: c,
                dims: vec![ConvDim::new(side, kernel, 1, kernel / 2); 2],
                groups: 1,
                bias: false,
                transposed: false,
                shared_weights: false,
            }),
            &[x],
        );
        x = g.then(super::hf_swin::layer_norm(rows, c));
    }
    Ok(x)
}

/// What every layer shares: `batch` maps of side×side tokens, `dim` wide.
struct Layer {
    batch: u64,
    side: u64,
    dim: u64,
    heads: u64,
    qkv_bias: bool,
    rel_pos: bool,
    mlp: u64,
    act: ActKind,
    attn_dropout: f64,
}

impl Layer {
    /// `SamVisionLayer` attending within windows of `window` (0: over the whole map).
    fn block(&self, g: &mut Graph, x: ValueId, window: u64, map: u64) -> Result<ValueId> {
        let (b, side, d) = (self.batch, self.side, self.dim);
        let n = g.push(super::hf_swin::layer_norm(prod(&[b, side, side])?, d), &[x]);
        let (padded, per_row) = match window {
            0 => (side, 1),
            w => (mul(side.div_ceil(w), w)?, side.div_ceil(w)),
        };
        let (groups, span) = match window {
            0 => (b, side),
            w => (prod(&[b, per_row, per_row])?, w),
        };
        let windowed = prod(&[b, padded, padded, d])?;
        let mut y = n;
        if window > 0 {
            y = copy(g, y, windowed);
            if per_row > 1 && window > 1 {
                y = copy(g, y, windowed);
            }
        }
        let mut y = self.attention(g, y, groups, span)?;
        if window > 0 {
            if per_row > 1 && window > 1 {
                y = copy(g, y, windowed);
            }
            if padded > side {
                y = copy(g, y, map);
            }
        }
        let x = g.push(Op::Add(Add), &[x, y]);
        let rows = prod(&[b, side, side])?;
        g.push(super::hf_swin::layer_norm(rows, d), &[x]);
        g.then(Op::Linear(Linear::new(rows, d, self.mlp, true)));
        g.then(Op::Act(Act { kind: self.act }));
        let y = g.then(Op::Linear(Linear::new(rows, self.mlp, d, true)));
        Ok(g.push(Op::Add(Add), &[x, y]))
    }

    /// `SamVisionAttention` over `groups` maps of span×span tokens.
    fn attention(&self, g: &mut Graph, x: ValueId, groups: u64, span: u64) -> Result<ValueId> {
        let d = self.dim;
        let tokens = mul(span, span)?;
        let rows = mul(groups, tokens)?;
        let head_dim = d / self.heads;
        g.push(Op::Linear(Linear::new(rows, d, 3 * d, self.qkv_bias)), &[x]);
        let qkv = g.then(Op::Copy(Copy::default()));
        let q = g.push(Op::View(View), &[qkv]);
        let k = g.push(Op::View(View), &[qkv]);
        let v = g.push(Op::View(View), &[qkv]);
        let mut inputs = vec![q, k, v];
        if self.rel_pos {
            let per_axis = |g: &mut Graph| -> Result<ValueId> {
                let index = g.push(
                    Op::Fill(Fill {
                        numel: tokens,
                        dtype: Some(DType::I64),
                        buffer: None,
                    }),
                    &[],
                );
                let table = g.push(
                    Op::Embedding(Embedding {
                        tokens,
                        vocab: 2 * span - 1,
                        dim: head_dim,
                        tied: false,
                    }),
                    &[index],
                );
                Ok(g.push(
                    Op::Matmul(Matmul {
                        batch: span,
                        m: prod(&[groups, self.heads, span])?,
                        k: head_dim,
                        n: span,
                    }),
                    &[q, table],
                ))
            };
            let rel_h = per_axis(g)?;
            let rel_w = per_axis(g)?;
            let bias = g.push(
                Op::Copy(Copy {
                    numel: Some(prod(&[groups, self.heads, tokens, tokens])?),
                }),
                &[rel_h, rel_w],
            );
            inputs.push(bias);
        }
        g.push(
            Op::Attention(Attention {
                softmax_fp32: true,
                score_bias: self.rel_pos,
                ..Attention::plain(
                    groups,
                    self.heads,
                    tokens,
                    tokens,
                    head_dim,
                    self.attn_dropout,
                )
            }),
            &inputs,
        );
        g.then(Op::View(View));
        Ok(g.then(Op::Linear(Linear::new(rows, d, d, true))))
    }
}

/// A new tensor of `numel` elements made from `x` (a pad, a transposing copy, a crop).
fn copy(g: &mut Graph, x: ValueId, numel: u64) -> ValueId {
    g.push(Op::Copy(Copy { numel: Some(numel) }), &[x])
}
