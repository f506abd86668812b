//! KerasHub's VideoPrismBackbone (its video encoder) lowered as its transformers twin,
//! `VideoPrismVisionModel` of transformers 5.24 (`modeling_videoprism.py`), from the arch
//! `formats::keras_hub::video_prism::lowered` makes: one step of `model(pixel_values_videos)`
//! on `batch` videos of `frames` frames (`--seq` is not read), the protocol's loss
//! `last_hidden_state.float().pow(2).mean()`. Per step:
//! - the tubelet `Conv3d` (kernel and stride `(1, p, p)`) on the video transposed to
//!   channels-first (a view), its output permuted and reshaped to
//!   `(batch·frames, patches, hidden)` (a copy), plus the patch table, dropout;
//! - the spatial `VideoPrismLayer`s over each frame's patches, `layernorm1`;
//! - transposed to `(batch·patches, frames, hidden)` (a copy), plus the frame table,
//!   dropout; the temporal layers over each patch's frames, `layernorm2`;
//! - the transpose back to `(batch, frames·patches, hidden)` (`.contiguous()`, a copy).
//!
//! Each layer is pre-norm: LayerNorm, q/k/v (biased), attention, `o_proj`, dropout,
//! residual; LayerNorm, `fc1`, gelu, `fc2`, dropout, residual; with `--grad-ckpt` each
//! layer is one checkpointed region (`GradientCheckpointingLayer`). The model declares no
//! SDPA support (attention logit softcapping), so transformers runs its eager attention
//! (fp32 softmax, dropout on the probabilities) whatever `--attn` says; the softcap's
//! tanh, where keras-hub's `attention_logit_soft_cap` sets one, is not charged (as for
//! t5gemma). Not modelled: the `weight + 1.0` each `VideoPrismLayerNorm` makes (one
//! hidden-sized vector per call). LoRA and quantized weights are not lowered.
use super::graph::{DType, Graph, InputKind, ValueId};
use super::hf::Dropouts;
use super::hf_decoder::norm_op;
use super::hf_dual::{activation, mlp};
use super::ops::*;
use super::{mul, Result, RunSettings};
use crate::arch::TransformerArch;
use crate::formats::keras_hub::VideoPrism;

pub(super) fn graph(
    a: &TransformerArch,
    video: &VideoPrism,
    drop: &Dropouts,
    run: &RunSettings,
) -> Result<Graph> {
    run.refuse_for_encoder("VideoPrismBackbone", "KerasHub VideoPrism", "videos")?;
    let b = run.batch;
    let (h, frames, patches) = (a.hidden_size, video.frames, video.patches());
    let (height, width) = video.image;
    let mut g = Graph::default();
    let pixels = g.input(
        prod(&[b, frames, video.channels, height, width])?,
        InputKind::Float,
    );
    let conv = g.push(
        Op::Conv(Conv {
            batch: b,
            in_channels: video.channels,
            out_channels: h,
            dims: vec![
                ConvDim::new(frames, 1, 1, 0),
                ConvDim::new(height, video.patch, video.patch, 0),
                ConvDim::new(width, video.patch, video.patch, 0),
            ],
            groups: 1,
            bias: true,
            transposed: false,
            shared_weights: false,
        }),
        &[pixels],
    );
    let all = prod(&[b, frames, patches, h])?;
    let enc = |batch, seq| Encoder {
        a,
        drop,
        ckpt: run.grad_ckpt,
        all,
        batch,
        seq,
    };
    let x = enc(mul(b, frames)?, patches).stage(&mut g, conv, video.spatial_layers)?;
    let x = enc(mul(b, patches)?, frames).stage(&mut g, x, video.temporal_layers)?;
    let out = g.push(Op::Copy(Copy { numel: Some(all) }), &[x]);
    let wide = g.push(Op::Cast(Cast { to: DType::F32 }), &[out]);
    g.push(Op::SquareMean(SquareMean), &[wide]);
    g.train_only_tail = 2;
    g.infer_output = Some(out);
    Ok(g)
}

/// One of the two stacks: `batch` sequences of `seq` tokens.
struct Encoder<'a> {
    a: &'a TransformerArch,
    drop: &'a Dropouts,
    /// Gradient checkpointing: each layer one region (`GradientCheckpointingLayer`).
    ckpt: bool,
    /// Elements of the whole activation, `batch · frames · patches · hidden`.
    all: u64,
    batch: u64,
    seq: u64,
}

impl Encoder<'_> {
    /// The stack's input made from the previous stage's `x`: the copy into this stage's
    /// layout, its position table (`seq` rows) added and dropped out; then the layers.
    fn stage(&self, g: &mut Graph, x: ValueId, layers: u64) -> Result<ValueId> {
        let x = g.push(
            Op::Copy(Copy {
                numel: Some(self.all),
            }),
            &[x],
        );
        let x = g.push(
            Op::BiasAdd(BiasAdd {
                numel: mul(self.seq, self.a.hidden_size)?,
            }),
            &[x],
        );
        let x = g.dropout(x, self.drop.embed);
        self.run(g, x, layers)
    }

    /// `layers` `VideoPrismLayer`s on `x`, then the stack's final LayerNorm.
    fn run(&self, g: &mut Graph, mut x: ValueId, layers: u64) -> Result<ValueId> {
        let a = self.a;
        let h = a.hidden_size;
        let rows = mul(self.batch, self.seq)?;
        let lin = |inp: u64, out: u64| Op::Linear(Linear::new(rows, inp, out, true));
        for _ in 0..layers {
            let first = g.nodes.len();
            let n1 = g.push(norm_op(a.norm, rows, h), &[x]);
            let q = g.push(lin(h, h), &[n1]);
            let k = g.push(lin(h, h), &[n1]);
            let v = g.push(lin(h, h), &[n1]);
            let att = g.push(
                Op::Attention(Attention {
                    softmax_fp32: true,
                    eager_only: true,
                    ..Attention::plain(
                        self.batch,
                        a.num_heads,
                        self.seq,
                        self.seq,
                        a.head_dim,
                        self.drop.attn,
                    )
                }),
                &[q, k, v],
            );
            let o = g.push(lin(h, h), &[att]);
            let o = g.dropout(o, self.drop.resid);
            x = g.push(Op::Add(Add), &[o, x]);
            let n2 = g.push(norm_op(a.norm, rows, h), &[x]);
            let f = mlp(
                g,
                rows,
                h,
                a.intermediate_size,
                activation(&a.activation),
                n2,
            );
            let f = g.dropout(f, self.drop.resid);
            x = g.push(Op::Add(Add), &[f, x]);
            if self.ckpt {
                g.checkpoint_regions.push((first, g.nodes.len() - 1));
            }
        }
        Ok(g.push(norm_op(a.norm, rows, h), &[x]))
    }
}
