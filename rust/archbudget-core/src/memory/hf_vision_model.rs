//! A CLIP or SigLIP vision tower alone (clip_vision_model, siglip_vision_model) lowered
//! into the op graph: one step of `model(pixel_values)` on `batch` images, the training
//! loss `last_hidden_state.float().pow(2).mean()` as for every bare model here.
//!
//! Computes the tower as the dual encoders run it ([`super::hf_dual::vision_tower`]):
//! the pooled output (CLIP's `post_layernorm` on the class token, SigLIP's pooling head)
//! is computed by the forward but is off the loss's path, so its parameters get no
//! gradient. The sequence is the patches (and CLIP's class token): `--seq` is not read.
//! Mirrors: `CLIPVisionModel.forward` / `SiglipVisionModel.forward`, transformers 5.x.
use super::graph::{DType, Graph, InputKind};
use super::hf_dual::vision_tower;
use super::ops::*;
use super::{Mode, Result, RunSettings};
use crate::arch::{TransformerArch, VisionTower};

pub fn graph(a: &TransformerArch, t: &VisionTower, run: &RunSettings) -> Result<Graph> {
    let here = a.model_type.as_str();
    if run.lora.is_some() || run.quantize.is_some() {
        return Err(crate::Error::invalid(
            here,
            "LoRA and quantized weights are not lowered for the vision towers (clip_vision_model, siglip_vision_model) yet",
        ));
    }
    if run.mode == Mode::Generate {
        return Err(crate::Error::invalid(
            here,
            format!("'{here}' encodes images; it does not generate (use --mode train or infer)"),
        ));
    }
    let b = run.batch;
    let mut g = Graph::default();
    let pixels = g.input(
        prod(&[b, t.num_channels, t.image_size, t.image_size])?,
        InputKind::Float,
    );
    let eager = run.attn == AttnImpl::Eager;
    let out = vision_tower(&mut g, t, &a.activation, b, pixels, eager)?;
    let h = out.last_hidden;
    let hf = g.push(Op::Cast(Cast { to: DType::F32 }), &[h]);
    g.push(Op::SquareMean(SquareMean), &[hf]);
    g.train_only_tail = 2;
    g.infer_output = Some(h);
    Ok(g)
}
