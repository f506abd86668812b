//! depth_anything lowered into the op graph: one step of
//! `DepthAnythingForDepthEstimation(pixel_values)` on `batch` images of the backbone's
//! `image_size`, the training loss `predicted_depth.float().pow(2).mean()` (transformers
//! defines no depth loss: it raises on `labels`).
//!
//! Computes, as `modeling_depth_anything.py` of transformers 5.24 runs it: the DINOv2
//! backbone's embeddings and blocks ([`super::hf_dinov2::encoder`]; blocks after the last
//! feature run but get no gradient); per feature the backbone's `layernorm` (one module
//! applied to each: its weights shared), `hidden_state[:, 1:]` (a slice whose backward
//! makes a whole-size gradient), `reshape` (a view) and `permute(...).contiguous()` (a
//! copy), the projection, the resize and the neck's convolution; the fusion layers deepest
//! first: the residual resized (bilinear, a new tensor) when its grid differs, each
//! residual unit ReLU → conv → ReLU → conv → add (ReLU is not in place: each output is
//! kept for its convolution), the bilinear resize and the projection; the head: conv1,
//! the bilinear resize to the image's patch-covered size, conv2, ReLU, conv3, the output
//! activation and `* max_depth` (a scalar product: saves nothing), `squeeze` (a view).
//! The first fusion layer's `residual_layer1` never runs: held, no gradient. Without
//! `apply_layernorm` the backbone's norm is held unread too.
//!
//! keras-hub's DepthAnything models run the same layers; what this leaves out of them:
//! the `ZeroPadding2D` before each neck convolution (a padded copy of that feature) and
//! its interpolation, which sizes the fusion maps from the factors (equal to the
//! features' grids whenever the factors divide the patch grid); the backbone alone ends
//! at conv3 ([`DepthOutput::Bare`]), and its neck drops the register tokens too.
use super::graph::{DType, Graph, ValueId};
use super::hf::Dropouts;
use super::hf_decoder::norm_op;
use super::hf_dinov2::{encoder, sequence};
use super::hf_dual::LN;
use super::ops::*;
use super::{mul, Result, RunSettings};
use crate::arch::TransformerArch;
use crate::formats::hf::depth_anything::{DepthAnything, DepthOutput, Resize};

pub fn graph(
    a: &TransformerArch,
    d: &DepthAnything,
    drop: &Dropouts,
    run: &RunSettings,
) -> Result<Graph> {
    let here = a.model_type.as_str();
    run.refuse_for_encoder(here, "depth_anything", "images")?;
    let refuse = |why: String| Err(crate::Error::invalid(here, why));
    let tokens = a
        .details
        .dinov2
        .ok_or_else(|| crate::Error::Internal("depth_anything without dinov2 tokens".into()))?;
    let v = a
        .vision
        .ok_or_else(|| crate::Error::Internal("depth_anything without image geometry".into()))?;
    if d.reshape_hidden_states {
        return refuse(
            "transformers' depth_anything neck reads token features: set backbone_config reshape_hidden_states to false".into(),
        );
    }
    if tokens.registers > 0 && !d.drops_registers {
        return refuse("transformers' depth_anything neck drops only the CLS token, so a backbone with register tokens does not run; use a dinov2 backbone".into());
    }
    if d.features.len() != d.neck.len() {
        return refuse(format!(
            "the backbone gives {} features but neck_hidden_sizes has {} entries: make them equal",
            d.features.len(),
            d.neck.len()
        ));
    }
    if d.reassemble_hidden != a.hidden_size || v.patch_size != (d.patch, d.patch) {
        return refuse(format!(
            "reassemble_hidden_size ({}) and patch_size ({}) must equal the backbone's hidden_size ({}) and patch_size ({:?})",
            d.reassemble_hidden, d.patch, a.hidden_size, v.patch_size
        ));
    }
    let b = run.batch;
    let h = a.hidden_size;
    let rows = mul(b, sequence(a, &tokens)?)?;
    let grid = (v.image_size.0 / d.patch, v.image_size.1 / d.patch);
    let mut g = Graph::default();
    let states = encoder(&mut g, a, &tokens, drop, b)?;
    if !d.apply_layernorm {
        g.push(Op::UnusedParam(UnusedParam { numel: 2 * h }), &[]);
    }
    let conv = |cin, cout, (hh, ww): (u64, u64), (k, stride, pad), bias, transposed| {
        Op::Conv(Conv {
            batch: b,
            in_channels: cin,
            out_channels: cout,
            dims: vec![
                ConvDim::new(hh, k, stride, pad),
                ConvDim::new(ww, k, stride, pad),
            ],
            groups: 1,
            bias,
            transposed,
            shared_weights: false,
        })
    };
    let mut features = Vec::with_capacity(d.features.len());
    for (i, (&at, &(n, resize))) in d.features.iter().zip(&d.neck).enumerate() {
        let mut x = states[at as usize];
        if d.apply_layernorm {
            let norm = norm_op(LN, rows, h);
            let op = match i {
                0 => norm,
                _ => Op::Reused(Box::new(norm)),
            };
            x = g.push(op, &[x]);
        }
        g.push(
            Op::SelectLast(SelectLast {
                out_numel: prod(&[b, v.num_patches, h])?,
            }),
            &[x],
        );
        g.then(Op::View(View));
        g.then(Op::Copy(Copy::default()));
        g.then(conv(h, n, grid, (1, 1, 0), true, false));
        let size = match resize {
            Resize::Up(k) => {
                g.then(conv(n, n, grid, (k, k, 0), true, true));
                (grid.0 * k, grid.1 * k)
            }
            Resize::Down(s) => {
                g.then(conv(n, n, grid, (3, s, 1), true, false));
                let out = |side| ConvDim::new(side, 3, s, 1).out(false);
                (out(grid.0)?, out(grid.1)?)
            }
            Resize::None => grid,
        };
        let x = g.then(conv(n, d.fusion, size, (3, 1, 1), false, false));
        features.push((x, size));
    }
    let f = d.fusion;
    let map = |(hh, ww): (u64, u64)| prod(&[b, f, hh, ww]);
    let unit = |g: &mut Graph, x: ValueId, size| {
        g.push(
            Op::Act(Act {
                kind: ActKind::Relu,
            }),
            &[x],
        );
        g.then(conv(f, f, size, (3, 1, 1), true, false));
        g.then(Op::Act(Act {
            kind: ActKind::Relu,
        }));
        let y = g.then(conv(f, f, size, (3, 1, 1), true, false));
        g.push(Op::Add(Add), &[y, x])
    };
    features.reverse();
    let mut fused: Vec<ValueId> = Vec::with_capacity(features.len());
    let mut state: Option<(ValueId, (u64, u64))> = None;
    for (i, &(feature, size)) in features.iter().enumerate() {
        let (mut x, at) = match state {
            None => {
                // `residual_layer1` of the first layer: built, never run
                g.push(
                    Op::UnusedParam(UnusedParam {
                        numel: 2 * (9 * f * f + f),
                    }),
                    &[],
                );
                (feature, size)
            }
            Some((prev, at)) => {
                let residual = match at == size {
                    true => feature,
                    false => g.push(
                        Op::Copy(Copy {
                            numel: Some(map(at)?),
                        }),
                        &[feature],
                    ),
                };
                let r = unit(&mut g, residual, at);
                (g.push(Op::Add(Add), &[prev, r]), at)
            }
        };
        x = unit(&mut g, x, at);
        let next = match features.get(i + 1) {
            Some(&(_, next)) => next,
            None => (at.0 * 2, at.1 * 2),
        };
        g.push(
            Op::Copy(Copy {
                numel: Some(map(next)?),
            }),
            &[x],
        );
        let out = g.then(conv(f, f, next, (1, 1, 0), true, false));
        fused.push(out);
        state = Some((out, next));
    }
    let pick = match d.head_in_index {
        i if i < 0 => fused.len().checked_sub(i.unsigned_abs() as usize),
        i => Some(i as usize).filter(|&i| i < fused.len()),
    };
    let Some(pick) = pick else {
        return refuse(format!(
            "head_in_index {} is not one of the {} fusion outputs",
            d.head_in_index,
            fused.len()
        ));
    };
    let (x, at) = (
        fused[pick],
        if pick + 1 == fused.len() {
            state.map(|s| s.1).unwrap_or(grid)
        } else {
            features[pick + 1].1
        },
    );
    let image = (grid.0 * d.patch, grid.1 * d.patch);
    g.push(conv(f, f / 2, at, (3, 1, 1), true, false), &[x]);
    g.then(Op::Copy(Copy {
        numel: Some(prod(&[b, f / 2, image.0, image.1])?),
    }));
    g.then(conv(f / 2, d.head_hidden, image, (3, 1, 1), true, false));
    g.then(Op::Act(Act {
        kind: ActKind::Relu,
    }));
    let mut depth = g.then(conv(d.head_hidden, 1, image, (1, 1, 0), true, false));
    let kind = match d.output {
        DepthOutput::Relative => Some(ActKind::Relu),
        DepthOutput::Metric => Some(ActKind::Sigmoid),
        DepthOutput::Bare => None,
    };
    if let Some(kind) = kind {
        g.then(Op::Act(Act { kind }));
        // `* self.max_depth`, a Python number: as `x / c`, a new tensor saving nothing
        g.then(Op::Add(Add));
        depth = g.then(Op::View(View));
    }
    g.push(Op::Cast(Cast { to: DType::F32 }), &[depth]);
    g.then(Op::SquareMean(SquareMean));
    g.train_only_tail = 2;
    g.infer_output = Some(depth);
    Ok(g)
}
