//! A CLIP or SigLIP vision tower alone (clip_vision_model, siglip_vision_model; Gemma 4's,
//! gemma4_vision, in [`super::hf_gemma4_vision`]) lowered
//! into the op graph: one step of `model(pixel_values)` on `batch` images, the training
//! loss `output.float().pow(2).mean()` as for every bare model here.
//!
//! Computes the tower as the dual encoders run it ([`super::hf_dual::vision_tower`]).
//! transformers' output is `last_hidden_state`: the pooled output (CLIP's
//! `post_layernorm` on the class token, SigLIP's pooling head) is computed by the forward
//! but is off the loss's path, so its parameters get no gradient. The sequence is the
//! patches (and CLIP's class token): `--seq` is not read. keras-hub's encoders return
//! something else ([`VisionOutput`]): CLIP's final norm on every token, MetaCLIP2's last
//! block (no final norm), SigLIP's pooled head, or Gemma3's projector after the tower: `transpose(1, 2).reshape(...)
//! .contiguous()` (a copy), `AvgPool2d` over the patch grid, `flatten(2).transpose(1, 2)`
//! (a view), `Gemma3RMSNorm` and the bias-free `mm_input_projection_weight` matmul.
//! Mirrors: `CLIPVisionModel.forward` / `SiglipVisionModel.forward` and
//! `Gemma3MultiModalProjector.forward`, transformers 5.x.
use super::graph::{DType, Graph, InputKind, ValueId};
use super::hf::Dropouts;
use super::hf_decoder::norm_op;
use super::hf_dual::vision_tower;
use super::ops::*;
use super::{mul, Result, RunSettings};
use crate::arch::{NormKind, TransformerArch, VisionModel, VisionOutput, VisionTower};

/// The graph of an image model lowered on its own (a tower alone, dinov2), if `a` is one.
pub fn image_model(
    a: &TransformerArch,
    drop: &Dropouts,
    run: &RunSettings,
) -> Option<Result<Graph>> {
    if let Some(vm) = &a.details.vision_model {
        return Some(graph(a, vm, run));
    }
    let tokens = a.details.dinov2.as_ref()?;
    Some(super::hf_dinov2::graph(a, tokens, drop, run))
}

fn graph(a: &TransformerArch, vm: &VisionModel, run: &RunSettings) -> Result<Graph> {
    let t = &vm.tower;
    let here = a.model_type.as_str();
    run.refuse_for_encoder(
        here,
        "the vision towers (clip_vision_model, siglip_vision_model, gemma4_vision)",
        "images",
    )?;
    if t.gemma4.is_some() {
        return super::hf_gemma4_vision::graph(t, &a.activation, vm.output, run);
    }
    let b = run.batch;
    let mut g = Graph::default();
    let pixels = g.input(
        prod(&[b, t.num_channels, t.image_size, t.image_size])?,
        InputKind::Float,
    );
    let eager = run.attn == AttnImpl::Eager;
    let out = vision_tower(&mut g, t, &a.activation, (b, pixels), eager, vm.output)?;
    let h = match vm.output {
        VisionOutput::LastHidden
        | VisionOutput::EveryTokenNormed
        | VisionOutput::LastHiddenUnpooled => out.last_hidden,
        VisionOutput::Pooled => out.pooled.ok_or_else(|| {
            crate::Error::invalid(
                here,
                "the pooled output needs the pooling head (vision_use_head)",
            )
        })?,
        VisionOutput::Gemma3Projector { tokens, width } => {
            gemma3_projector(&mut g, t, b, (tokens, width), out.last_hidden)?
        }
        VisionOutput::Gemma4Embedder { .. } => {
            return Err(crate::Error::Internal(
                "gemma4's embedder after another tower".into(),
            ))
        }
    };
    let hf = g.push(Op::Cast(Cast { to: DType::F32 }), &[h]);
    g.push(Op::SquareMean(SquareMean), &[hf]);
    g.train_only_tail = 2;
    g.infer_output = Some(h);
    Ok(g)
}

/// `Gemma3MultiModalProjector` on the tower's `last_hidden_state` `x`: `tokens` per image,
/// `width` wide.
fn gemma3_projector(
    g: &mut Graph,
    t: &VisionTower,
    b: u64,
    (tokens, width): (u64, u64),
    x: ValueId,
) -> Result<ValueId> {
    let side = t.image_size / t.patch_size;
    // `int(mm_tokens_per_image ** 0.5)`
    let per_side = (1..=tokens)
        .take_while(|n| n * n <= tokens)
        .last()
        .unwrap_or(1);
    let kernel = (side / per_side).max(1);
    let grid = g.push(Op::Copy(Copy::default()), &[x]);
    let pooled = g.push(
        Op::Pool(Pool {
            kind: PoolKind::Avg,
            batch: b,
            channels: t.hidden_size,
            dims: vec![ConvDim::new(side, kernel, kernel, 0); 2],
        }),
        &[grid],
    );
    let rows = mul(b, tokens)?;
    let tokens = g.push(Op::View(View), &[pooled]);
    let normed = g.push(norm_op(NormKind::RmsNorm, rows, t.hidden_size), &[tokens]);
    Ok(g.push(
        Op::Linear(Linear {
            rows,
            in_features: t.hidden_size,
            out_features: width,
            bias: false,
            tied_weight: false,
        }),
        &[normed],
    ))
}
