//! segformer's all-MLP decode head lowered after the encoder's stages (`hf_segformer`):
//! what keras-hub's SegFormerBackbone and SegFormerImageSegmenter add to the MiT.
//!
//! Computes, as `SegformerDecodeHead` / `SegformerForSemanticSegmentation` of
//! transformers 5.24 run it, per stage map (batch × width × h × w): `flatten(2)
//! .transpose(1, 2)` (a view; the Linear's matmul folds it by a copy, which it keeps for
//! backward), the biased projection to the head's width, `transpose(1, 2).reshape` (a
//! copy), the bilinear `interpolate` to the first stage's map (a new tensor, also for the
//! first stage itself; backward needs only shapes); `torch.cat` of the maps deepest first,
//! the bias-free 1×1 `linear_fuse`, BatchNorm and ReLU. keras-hub's SegFormerBackbone
//! returns that map: the loss is the base protocol's `.float().pow(2).mean()` on it. The
//! segmenter adds dropout (keras-hub's `Dropout(0.1)`, transformers'
//! `classifier_dropout_prob` default), the biased 1×1 classifier and the logits resized
//! to the image (keras-hub's `Resizing` in the model; transformers' `upsampled_logits` in
//! its loss), then the loss transformers computes: cross-entropy over every pixel against
//! an int64 label map (batch × H × W).
use super::graph::{DType, Graph, InputKind, ValueId};
use super::ops::*;
use super::{mul, Result};
use crate::formats::hf::segformer::{DecodeHead, Segformer};

/// The segmenter's label map (batch × H × W int64), an input of the graph (made before
/// any node); `None` where no loss reads one.
pub(super) fn labels(g: &mut Graph, s: &Segformer, b: u64, train: bool) -> Result<Option<ValueId>> {
    match &s.decode_head {
        Some(DecodeHead {
            classes: Some(_), ..
        }) if train => Ok(Some(
            g.input(prod(&[b, s.image.0, s.image.1])?, InputKind::Index),
        )),
        _ => Ok(None),
    }
}

/// The head on the stage maps `stages` (each `(output, (h, w))`) of `b` images, the
/// training loss against `labels` ([`labels`]); sets the graph's loss and inference
/// output.
pub(super) fn lower(
    g: &mut Graph,
    s: &Segformer,
    head: &DecodeHead,
    stages: &[(ValueId, (u64, u64))],
    (b, train, labels): (u64, bool, Option<ValueId>),
) -> Result<()> {
    let d = head.width;
    let Some(&(_, (h0, w0))) = stages.first() else {
        return Err(crate::Error::Internal("segformer without stages".into()));
    };
    let map = prod(&[b, d, h0, w0])?;
    let mut resized = Vec::with_capacity(stages.len());
    for (st, &(x, (h, w))) in s.stages.iter().zip(stages) {
        let tokens = g.push(Op::View(View), &[x]);
        g.push(Op::Copy(Copy::default()), &[tokens]);
        g.then(Op::Linear(Linear::new(
            prod(&[b, h, w])?,
            st.width,
            d,
            true,
        )));
        g.then(Op::Copy(Copy::default()));
        resized.push(g.then(Op::Copy(Copy { numel: Some(map) })));
    }
    resized.reverse();
    let levels = resized.len() as u64;
    g.push(
        Op::Copy(Copy {
            numel: Some(mul(map, levels)?),
        }),
        &resized,
    );
    g.then(conv_1x1(b, (mul(d, levels)?, d), (h0, w0), false));
    g.then(Op::BatchNorm2d(BatchNorm2d { channels: d }));
    let fused = g.then(Op::Act(Act {
        kind: ActKind::Relu,
    }));
    let Some(classes) = head.classes else {
        if train {
            g.push(Op::Cast(Cast { to: DType::F32 }), &[fused]);
            g.then(Op::SquareMean(SquareMean));
            g.train_only_tail = 2;
        }
        g.infer_output = Some(fused);
        return Ok(());
    };
    g.push(Op::Dropout(Dropout { p: 0.1 }), &[fused]);
    g.then(conv_1x1(b, (d, classes), (h0, w0), true));
    let pixels = prod(&[b, s.image.0, s.image.1])?;
    let logits = g.then(Op::Copy(Copy {
        numel: Some(mul(pixels, classes)?),
    }));
    g.infer_output = Some(logits);
    if let (true, Some(labels)) = (train, labels) {
        g.push(
            Op::CrossEntropy(CrossEntropy {
                rows: pixels,
                classes,
                label_copies: Vec::new(),
            }),
            &[logits, labels],
        );
        g.train_only_tail = 1;
    }
    Ok(())
}

/// A 1×1 convolution (`channels` in → out) over `b` maps of h × w.
fn conv_1x1(b: u64, (cin, cout): (u64, u64), (h, w): (u64, u64), bias: bool) -> Op {
    Op::Conv(Conv {
        batch: b,
        in_channels: cin,
        out_channels: cout,
        dims: vec![ConvDim::new(h, 1, 1, 0), ConvDim::new(w, 1, 1, 0)],
        groups: 1,
        bias,
        transposed: false,
        shared_weights: false,
    })
}
