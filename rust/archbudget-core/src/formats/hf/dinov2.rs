//! dinov2 and dinov2_with_registers: vit's patch embedding and pre-norm blocks with a
//! learned per-channel scale on each branch.
//!
//! Computes: a biased patch convolution, a CLS token and `patches + 1` learned positions
//! (the table is sized from `image_size`, so an image of that size reads it without
//! interpolation), the registers' `num_register_tokens` tokens put after the CLS token,
//! N blocks (`norm1` → attention → `layer_scale1` → residual, `norm2` → MLP →
//! `layer_scale2` → residual) and a final `layernorm`.
//! Weights: `cls_token`, `mask_token` (dinov2: when `use_mask_token`; always with
//! registers), `position_embeddings`, `register_tokens`; q/k/v biased when `qkv_bias`, o
//! always; the MLP `fc1`/`fc2` `int(hidden × mlp_ratio)` wide, or with `use_swiglu_ffn`
//! biased `gate_proj`/`up_proj`/`down_proj` `(int(int(hidden × mlp_ratio) × 2 / 3) + 7)
//! // 8 × 8` wide; `lambda1` per layer scale.
//! Mirrors: `modeling_dinov2.py` and `modeling_dinov2_with_registers.py` of transformers
//! 5.x (`Dinov2Model`, `Dinov2WithRegistersModel`) and their config defaults (patch 14 and
//! 16).
use crate::arch::{BlockDetails, Dinov2Tokens, HeadKind, TransformerArch};
use crate::error::{add, Result};
use crate::weight::{dim, Weight};

use super::config::Cfg;
use super::modules::{heads_dim, linear, norm_row, Modules};
use super::vit::{self, PatchGrid};

pub fn arch(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let registers = cfg.model_type == "dinov2_with_registers";
    let hidden = cfg.dim("hidden_size", 768)?;
    let heads = cfg.dim("num_attention_heads", 12)?;
    cfg.require_divisible(("hidden_size", hidden), ("num_attention_heads", heads))?;
    let grid = PatchGrid::of(cfg, if registers { 16 } else { 14 })?;
    // `int(hidden_size * mlp_ratio)`, as the MLP sizes itself
    let mlp = (hidden as f64 * cfg.float("mlp_ratio", None, 4.0)?) as u64;
    let swiglu = cfg.flag("use_swiglu_ffn", false)?;
    let inter = match swiglu {
        true => (mlp * 2 / 3).div_ceil(8) * 8,
        false => mlp,
    };
    if inter == 0 {
        return Err(cfg.invalid("mlp_ratio leaves the MLP no width".to_string()));
    }
    let slots = add(grid.patches, 1, cfg.location, "patch count")?;
    let widths = (hidden, heads, hidden / heads, inter);
    let mut a = vit::encoder(cfg, head, widths, grid, slots)?;
    a.gated_mlp = swiglu;
    a.activation = match swiglu {
        true => "silu".to_string(),
        false => cfg.string("hidden_act", "gelu")?,
    };
    a.qkv_bias = cfg.flag("qkv_bias", true)?;
    a.details = BlockDetails {
        dinov2: Some(Dinov2Tokens {
            registers: match registers {
                true => cfg.count("num_register_tokens", 4)?,
                false => 0,
            },
            mask_token: registers || cfg.flag("use_mask_token", true)?,
        }),
        ..Default::default()
    };
    Ok(a)
}

pub fn modules(a: &TransformerArch, m: &mut Modules) -> Result<String> {
    let loc = m.location();
    let internal = |what: &str| crate::Error::Internal(format!("dinov2 without {what}"));
    let v = a.vision.ok_or_else(|| internal("image geometry"))?;
    let tokens = a.details.dinov2.ok_or_else(|| internal("its tokens"))?;
    let prefix = match a.model_type.as_str() {
        "dinov2_with_registers" => "Dinov2WithRegisters",
        _ => "Dinov2",
    };
    let h = dim(a.hidden_size, "hidden");
    let one = || dim(1, "1");
    let mut w = vec![Weight::new("cls_token", vec![one(), one(), h.clone()])];
    if tokens.mask_token {
        w.push(Weight::new("mask_token", vec![one(), h.clone()]));
    }
    w.push(Weight::new(
        "position_embeddings",
        vec![one(), dim(a.max_positions, "patches+1"), h.clone()],
    ));
    if tokens.registers > 0 {
        w.push(Weight::new(
            "register_tokens",
            vec![one(), dim(tokens.registers, "registers"), h.clone()],
        ));
    }
    w.extend([
        Weight::new(
            "patch_embeddings.projection.weight",
            vec![
                h.clone(),
                dim(v.num_channels, "channels"),
                dim(v.patch_size.0, "patch_h"),
                dim(v.patch_size.1, "patch_w"),
            ],
        ),
        Weight::new("patch_embeddings.projection.bias", vec![h.clone()]),
    ]);
    m.add("embeddings".to_string(), &format!("{prefix}Embeddings"), w)?;
    let qkv = heads_dim(a.num_heads, a.head_dim, "heads×head_dim", loc)?;
    let inter = dim(a.intermediate_size, "intermediate");
    for i in 0..a.num_layers {
        let layer = format!("encoder.layer.{i}.");
        norm_row(
            m,
            format!("{layer}norm1"),
            "LayerNorm",
            a.hidden_size,
            a.norm,
        )?;
        let mut w = Vec::new();
        for name in ["q_proj.", "k_proj.", "v_proj."] {
            linear(&mut w, name, h.clone(), qkv.clone(), a.qkv_bias);
        }
        linear(&mut w, "o_proj.", qkv.clone(), h.clone(), true);
        m.add(
            format!("{layer}attention"),
            &format!("{prefix}Attention"),
            w,
        )?;
        let scale = || vec![Weight::new("lambda1", vec![h.clone()])];
        m.add(
            format!("{layer}layer_scale1"),
            &format!("{prefix}LayerScale"),
            scale(),
        )?;
        norm_row(
            m,
            format!("{layer}norm2"),
            "LayerNorm",
            a.hidden_size,
            a.norm,
        )?;
        let mut w = Vec::new();
        let class = match a.gated_mlp {
            true => {
                linear(&mut w, "gate_proj.", h.clone(), inter.clone(), true);
                linear(&mut w, "up_proj.", h.clone(), inter.clone(), true);
                linear(&mut w, "down_proj.", inter.clone(), h.clone(), true);
                "SwiGLUFFN"
            }
            false => {
                linear(&mut w, "fc1.", h.clone(), inter.clone(), true);
                linear(&mut w, "fc2.", inter.clone(), h.clone(), true);
                "MLP"
            }
        };
        m.add(format!("{layer}mlp"), &format!("{prefix}{class}"), w)?;
        m.add(
            format!("{layer}layer_scale2"),
            &format!("{prefix}LayerScale"),
            scale(),
        )?;
    }
    norm_row(
        m,
        "layernorm".to_string(),
        "LayerNorm",
        a.hidden_size,
        a.norm,
    )?;
    Ok(format!("{prefix}Model"))
}
