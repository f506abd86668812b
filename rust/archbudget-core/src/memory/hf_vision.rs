//! A multimodal wrapper (gemma3, llava, mistral3, qwen2_5_vl, llama4) on a text-only
//! prompt: its forward never enters the vision tower or the projector, so their
//! parameters are held (weights, and bytes at construction) but get no gradient and no
//! optimizer state, and their buffers are held; no activation of theirs exists. The
//! text model is lowered as its own type.
//! Mirrors: `<Type>Model.forward` of transformers 5.x with `pixel_values=None`.
use super::graph::{DType, Graph};
use super::ops::{Fill, Op, UnusedParam};
use super::{mul, Result, RunSettings};
use crate::arch::{TowerFamily, TransformerArch, VisionTower};

/// Declares the idle tower's parameters and buffers; nothing for a text model.
pub fn idle_vision(a: &TransformerArch, run: &RunSettings, g: &mut Graph) -> Result<()> {
    let Some(vl) = &a.details.vision_language else {
        return Ok(());
    };
    if run.lora.is_some() || run.quantize.is_some() {
        return Err(crate::Error::invalid(
            vl.model_type.as_str(),
            "LoRA and quantized weights are not lowered for multimodal models yet (their \
             vision tower's linears would be adapted or quantized too)",
        ));
    }
    let numel = crate::formats::hf::vision_params(a, vl)?;
    g.push(Op::UnusedParam(UnusedParam { numel }), &[]);
    for buffer in buffers(&vl.tower)? {
        // a buffer the forward does not read: held, nothing made from it
        g.push(
            Op::Fill(Fill {
                numel: 0,
                dtype: Some(buffer.1),
                buffer: Some(buffer),
            }),
            &[],
        );
    }
    Ok(())
}

/// The tower's buffers (elements, dtype).
fn buffers(t: &VisionTower) -> Result<Vec<(u64, DType)>> {
    if let Some(g4) = &t.gemma4 {
        return super::hf_gemma4_vision::buffers(t, g4);
    }
    let side = t.image_size / t.patch_size;
    let patches = mul(side, side)?;
    let head_dim = t.hidden_size / t.num_heads;
    Ok(match t.family {
        // `position_ids`: one int64 per position
        TowerFamily::Clip => vec![(super::add(patches, 1)?, DType::I64)],
        TowerFamily::Siglip => vec![(patches, DType::I64)],
        // 2D rotary `inv_freq` and `original_inv_freq`: half the head for height and
        // width together (Pixtral), a quarter (Qwen2.5-VL's per-axis table)
        TowerFamily::Pixtral => vec![(head_dim / 2, DType::F32); 2],
        TowerFamily::Qwen25Vl => vec![(head_dim / 4, DType::F32); 2],
        // `freqs_ci`: complex64 (8 bytes an element, as int64) per position and rotary pair
        TowerFamily::Llama4 => vec![(mul(super::add(patches, 1)?, head_dim / 2)?, DType::I64)],
        TowerFamily::Gemma4 => Vec::new(),
    })
}
