//! dinov3_vit: dinov2's layout (`dinov2.rs`) with what DINOv3 changes.
//!
//! Computes: a biased patch convolution; the CLS token and `num_register_tokens` register
//! tokens joined before the patches, no position table (diff with dinov2: 2-D rotary
//! angles from the patch centres rotate the patches' q and k in every block, the CLS and
//! register tokens unrotated); N blocks (`norm1` → attention → `layer_scale1` →
//! residual, `norm2` → MLP → `layer_scale2` → residual) and a final `norm`.
//! Weights: `cls_token`, `mask_token` (always), `register_tokens` (`1 × n × hidden`, held
//! even empty); q, k, v and o biased each as `query_bias`, `key_bias`, `value_bias`,
//! `proj_bias` say (diff with dinov2: one flag for q, k, v); the MLP `up_proj` /
//! `down_proj` (`use_gated_mlp`: with `gate_proj`, the activation on the gate) of
//! `intermediate_size`, biased when `mlp_bias` (diff with dinov2: a width of its own, not
//! `mlp_ratio`, and the configured activation on the gate, not silu); `lambda1` per layer
//! scale. The rotary `inv_freq` (`head_dim / 4` floats) is a buffer.
//! Mirrors: `modeling_dinov3_vit.py` of transformers 5.24 (`DINOv3ViTModel`) and
//! `DINOv3ViTConfig` defaults.
use crate::arch::{BlockDetails, Dinov2Tokens, HeadKind, Position, TransformerArch};
use crate::error::{add, Result};
use crate::weight::{dim, Weight};

use super::config::Cfg;
use super::modules::{linear, norm_row, Modules};
use super::vit::{self, PatchGrid};

pub fn arch(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let loc = cfg.location;
    let hidden = cfg.dim("hidden_size", 384)?;
    let heads = cfg.dim("num_attention_heads", 6)?;
    cfg.require_divisible(("hidden_size", hidden), ("num_attention_heads", heads))?;
    let grid = PatchGrid::of(cfg, 16)?;
    let registers = cfg.count("num_register_tokens", 0)?;
    let slots = add(
        add(grid.patches, 1, loc, "patch count")?,
        registers,
        loc,
        "patch count",
    )?;
    let biases = [
        cfg.flag("query_bias", true)?,
        cfg.flag("key_bias", false)?,
        cfg.flag("value_bias", true)?,
    ];
    let widths = (
        hidden,
        heads,
        hidden / heads,
        cfg.dim("intermediate_size", 1536)?,
    );
    let mut a = vit::encoder(cfg, head, widths, grid, slots)?;
    a.gated_mlp = cfg.flag("use_gated_mlp", false)?;
    a.activation = cfg.string("hidden_act", "gelu")?;
    a.qkv_bias = biases[0];
    a.o_bias = cfg.flag("proj_bias", true)?;
    a.mlp_bias = cfg.flag("mlp_bias", true)?;
    // 2-D rotary angles on the patches' q and k, no position table
    a.position = Position::Rotary;
    a.details = BlockDetails {
        dinov2: Some(Dinov2Tokens {
            registers,
            mask_token: true,
        }),
        qkv_biases: Some(biases),
        ..Default::default()
    };
    Ok(a)
}

pub fn modules(a: &TransformerArch, m: &mut Modules) -> Result<String> {
    let internal = |what: &str| crate::Error::Internal(format!("dinov3_vit without {what}"));
    let v = a.vision.ok_or_else(|| internal("image geometry"))?;
    let tokens = a.details.dinov2.ok_or_else(|| internal("its tokens"))?;
    let h = dim(a.hidden_size, "hidden");
    let one = || dim(1, "1");
    let mut w = vec![Weight::new("cls_token", vec![one(), one(), h.clone()])];
    if tokens.mask_token {
        w.push(Weight::new("mask_token", vec![one(), one(), h.clone()]));
    }
    if tokens.registers > 0 {
        w.push(Weight::new(
            "register_tokens",
            vec![one(), dim(tokens.registers, "registers"), h.clone()],
        ));
    }
    w.extend([
        Weight::new(
            "patch_embeddings.weight",
            vec![
                h.clone(),
                dim(v.num_channels, "channels"),
                dim(v.patch_size.0, "patch_h"),
                dim(v.patch_size.1, "patch_w"),
            ],
        ),
        Weight::new("patch_embeddings.bias", vec![h.clone()]),
    ]);
    m.add("embeddings".to_string(), "DINOv3ViTEmbeddings", w)?;
    let [q_bias, k_bias, v_bias] = qkv_biases(a);
    let mut attn = Vec::new();
    linear(&mut attn, "q_proj.", h.clone(), h.clone(), q_bias);
    linear(&mut attn, "k_proj.", h.clone(), h.clone(), k_bias);
    linear(&mut attn, "v_proj.", h.clone(), h.clone(), v_bias);
    linear(&mut attn, "o_proj.", h.clone(), h.clone(), a.o_bias);
    let inter = dim(a.intermediate_size, "intermediate");
    let mut mlp = Vec::new();
    if a.gated_mlp {
        linear(&mut mlp, "gate_proj.", h.clone(), inter.clone(), a.mlp_bias);
    }
    linear(&mut mlp, "up_proj.", h.clone(), inter.clone(), a.mlp_bias);
    linear(&mut mlp, "down_proj.", inter, h.clone(), a.mlp_bias);
    let mlp_class = match a.gated_mlp {
        true => "DINOv3ViTGatedMLP",
        false => "DINOv3ViTMLP",
    };
    let mut norm = Vec::new();
    super::modules::norm(&mut norm, "", a.hidden_size, a.norm);
    let scale = vec![Weight::new("lambda1", vec![h])];
    let block = [
        ("norm1".to_string(), "LayerNorm", norm.clone()),
        ("attention".to_string(), "DINOv3ViTAttention", attn),
        (
            "layer_scale1".to_string(),
            "DINOv3ViTLayerScale",
            scale.clone(),
        ),
        ("norm2".to_string(), "LayerNorm", norm),
        ("mlp".to_string(), mlp_class, mlp),
        ("layer_scale2".to_string(), "DINOv3ViTLayerScale", scale),
    ];
    m.add_blocks(a.num_layers, |i| format!("model.layer.{i}."), &block)?;
    norm_row(m, "norm".to_string(), "LayerNorm", a.hidden_size, a.norm)?;
    Ok("DINOv3ViTModel".to_string())
}

/// Whether q, k and v are biased: each as its own flag says where the type has three
/// (dinov3_vit), else all as `qkv_bias`.
pub fn qkv_biases(a: &TransformerArch) -> [bool; 3] {
    a.details.qkv_biases.unwrap_or([a.qkv_bias; 3])
}
