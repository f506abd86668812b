//! The vision towers of the multimodal wrappers: one ViT-style encoder description
//! ([`VisionTower`]) read from a `vision_config`, and its summary rows.
//!
//! Computes: patch embedding (a convolution, kernel = stride = patch), positions
//! (learned tables, or 2D rotary without parameters), an optional norm before the
//! blocks, N pre-norm blocks (norm → attention, norm → MLP), and what follows them (a
//! final norm, SigLIP's attention-pooling head, Qwen2.5-VL's patch merger).
//! Weights per family:
//! - CLIP: bias-free patch conv, `class_embedding`, `patches + 1` positions,
//!   `pre_layrnorm`, biased q/k/v/out_proj and fc1/fc2, LayerNorms, `post_layernorm`;
//! - SigLIP: biased patch conv, `patches` positions, CLIP's blocks, `post_layernorm`,
//!   the pooling head when `vision_use_head` (a probe, `nn.MultiheadAttention`, a
//!   LayerNorm and an MLP);
//! - Pixtral: bias-free patch conv, `ln_pre`, RMSNorm blocks with bias-free q/k/v/o and
//!   a gated bias-free MLP;
//! - Qwen2.5-VL: a bias-free Conv3d over `temporal_patch_size` frames, RMSNorm blocks with
//!   a fused biased `qkv` and a gated biased MLP, and a merger (RMSNorm, then an MLP from
//!   merge² patches to `out_hidden_size`);
//! - llama4: an unfolded bias-free patch `Linear`, `class_embedding` and `patches + 1`
//!   positions on the model, `layernorm_pre` / `layernorm_post`, LayerNorm blocks with
//!   biased q/k/v/o_proj and fc1/fc2, and the pixel-shuffle MLP `vision_adapter`
//!   (bias-free fc1, fc2).
//!
//! Mirrors: `modeling_clip.py` (`CLIPVisionModel`), `modeling_siglip.py`
//! (`SiglipVisionModel`), `modeling_pixtral.py`, `modeling_qwen2_5_vl.py`,
//! `modeling_llama4.py` (`Llama4VisionModel`) of
//! transformers 5.x, and their configuration defaults.
use crate::arch::{Gemma4Tower, NormKind, TowerFamily, VisionTower};
use crate::error::{add, mul, Result};
use crate::weight::{dim, Dim, Weight};

use super::config::Cfg;
use super::modules::{linear, norm, norm_row, Modules};

/// The tower family a `vision_config`'s `model_type` names, where the wrapper lets it
/// choose (llava, gemma3, mistral3; qwen2_5_vl and llama4 fix their own).
pub fn family_of(model_type: &str) -> Option<TowerFamily> {
    match model_type {
        "clip_vision_model" => Some(TowerFamily::Clip),
        "siglip_vision_model" => Some(TowerFamily::Siglip),
        "pixtral" => Some(TowerFamily::Pixtral),
        _ => None,
    }
}

/// The towers a wrapper's `vision_config` may name, for error messages.
pub const TOWER_TYPES: &str = "clip_vision_model, siglip_vision_model, pixtral";

/// Reads a `vision_config` of `family` with that config class's defaults.
pub fn tower(v: &Cfg, family: TowerFamily) -> Result<VisionTower> {
    // (hidden, intermediate, layers, heads, image, patch) of each config class
    let (hidden, inter, layers, heads, image, patch) = match family {
        TowerFamily::Clip => (768, 3072, 12, 12, 224, 32),
        TowerFamily::Siglip => (768, 3072, 12, 12, 224, 16),
        TowerFamily::Pixtral => (1024, 4096, 24, 16, 1024, 16),
        TowerFamily::Qwen25Vl => (3584, 3420, 32, 16, 0, 14),
        TowerFamily::Llama4 => (768, 5632, 34, 16, 448, 14),
        TowerFamily::Gemma4 => (768, 3072, 16, 12, 0, 16),
    };
    let qwen = family == TowerFamily::Qwen25Vl;
    let gemma4 = match family {
        TowerFamily::Gemma4 => Some(gemma4_tower(v, heads)?),
        _ => None,
    };
    let t = VisionTower {
        family,
        hidden_size: v.dim("hidden_size", hidden)?,
        intermediate_size: v.dim("intermediate_size", inter)?,
        num_layers: v.layers(&["depth", "num_hidden_layers"], layers)?,
        num_heads: v.dim_alias(&["num_heads", "num_attention_heads"], heads)?,
        // Gemma 4's patches come cut: `input_proj` reads 3 · patch² values
        num_channels: match gemma4 {
            Some(_) => 3,
            None => v.dim_alias(&["in_channels", "num_channels"], 3)?,
        },
        // Qwen2.5-VL and Gemma 4 take images of any size: no table is sized from it
        image_size: if image == 0 {
            0
        } else {
            v.dim("image_size", image)?
        },
        patch_size: v.dim("patch_size", patch)?,
        temporal_patch: if qwen {
            v.dim("temporal_patch_size", 2)?
        } else {
            1
        },
        pooling_head: family == TowerFamily::Siglip && v.flag("vision_use_head", true)?,
        spatial_merge: if qwen {
            v.dim("spatial_merge_size", 2)?
        } else {
            1
        },
        out_hidden_size: if qwen {
            v.dim("out_hidden_size", 3584)?
        } else {
            0
        },
        pixel_shuffle: match family {
            TowerFamily::Llama4 => Some((
                v.dim("projector_input_dim", 4096)?,
                v.dim("projector_output_dim", 4096)?,
            )),
            _ => None,
        },
        gemma4,
    };
    if gemma4.is_none() {
        v.require_divisible(
            ("vision hidden_size", t.hidden_size),
            ("num_attention_heads", t.num_heads),
        )?;
    }
    if image > 0 && t.image_size < t.patch_size {
        return Err(v.invalid(format!(
            "vision_config patch_size ({}) is larger than image_size ({})",
            t.patch_size, t.image_size
        )));
    }
    Ok(t)
}

/// `Gemma4VisionConfig`'s keys beyond a ViT's. The images are `max_soft_tokens` soft
/// tokens each (the image processor's key; 280, its default, when the config has none).
fn gemma4_tower(v: &Cfg, heads: u64) -> Result<Gemma4Tower> {
    let heads = v.dim("num_attention_heads", heads)?;
    let t = Gemma4Tower {
        kv_heads: v.dim("num_key_value_heads", 12)?,
        head_dim: v.dim("head_dim", 64)?,
        positions: v.dim("position_embedding_size", 10_240)?,
        pooling_kernel: v.dim("pooling_kernel_size", 3)?,
        soft_tokens: v.dim("max_soft_tokens", 280)?,
        clipped: v.flag("use_clipped_linears", false)?,
        standardize: v.flag("standardize", false)?,
    };
    v.require_divisible(
        ("num_attention_heads", heads),
        ("num_key_value_heads", t.kv_heads),
    )?;
    // `apply_multidimensional_rope` rotates head_dim / 4 pairs per axis
    if t.head_dim < 4 {
        return Err(v.invalid(format!(
            "key 'head_dim' ({}) must be at least 4: the 2-D rotary embedding splits each head into two rotated halves",
            t.head_dim
        )));
    }
    Ok(t)
}

/// Patches per image: (image / patch)² (0 for towers without a fixed image size), or
/// Gemma 4's soft tokens times the patches pooled into each.
pub fn patches(t: &VisionTower, loc: &str) -> Result<u64> {
    if let Some(g) = &t.gemma4 {
        let pool = mul(g.pooling_kernel, g.pooling_kernel, loc, "patch count")?;
        return mul(g.soft_tokens, pool, loc, "patch count");
    }
    let side = t.image_size / t.patch_size;
    mul(side, side, loc, "patch count")
}

/// Module names and classes of one family's blocks (`CLIPVisionModel`,
/// `SiglipVisionModel`, `PixtralVisionModel`, `Qwen2_5_VisionTransformerPretrainedModel`).
struct Layout {
    layers: &'static str,
    attention: (&'static str, &'static str),
    mlp: (&'static str, &'static str),
    norms: &'static [&'static str],
    norm_class: &'static str,
    norm: NormKind,
}

fn layout(family: TowerFamily) -> Layout {
    let ln = NormKind::LayerNorm { bias: true };
    match family {
        TowerFamily::Clip => Layout {
            layers: "encoder.layers",
            attention: ("self_attn", "CLIPAttention"),
            mlp: ("mlp", "CLIPMLP"),
            norms: &["layer_norm1", "layer_norm2"],
            norm_class: "LayerNorm",
            norm: ln,
        },
        TowerFamily::Siglip => Layout {
            attention: ("self_attn", "SiglipAttention"),
            mlp: ("mlp", "SiglipMLP"),
            ..layout(TowerFamily::Clip)
        },
        TowerFamily::Pixtral => Layout {
            layers: "transformer.layers",
            attention: ("attention", "PixtralAttention"),
            mlp: ("feed_forward", "PixtralMLP"),
            norms: &["attention_norm", "ffn_norm"],
            norm_class: "PixtralRMSNorm",
            norm: NormKind::RmsNorm,
        },
        TowerFamily::Qwen25Vl => Layout {
            layers: "blocks",
            attention: ("attn", "Qwen2_5_VLVisionAttention"),
            mlp: ("mlp", "Qwen2_5_VLMLP"),
            norms: &["norm1", "norm2"],
            norm_class: "Qwen2_5_VLRMSNorm",
            norm: NormKind::RmsNorm,
        },
        TowerFamily::Llama4 => Layout {
            layers: "model.layers",
            attention: ("self_attn", "Llama4VisionAttention"),
            mlp: ("mlp", "Llama4VisionMLP"),
            norms: &["input_layernorm", "post_attention_layernorm"],
            ..layout(TowerFamily::Clip)
        },
        TowerFamily::Gemma4 => Layout {
            layers: "encoder.layers",
            attention: ("self_attn", "Gemma4VisionAttention"),
            mlp: ("mlp", "Gemma4VisionMLP"),
            norms: &[
                "input_layernorm",
                "post_attention_layernorm",
                "pre_feedforward_layernorm",
                "post_feedforward_layernorm",
            ],
            norm_class: "Gemma4RMSNorm",
            norm: NormKind::RmsNorm,
        },
    }
}

/// `base.name`, or `name` for a tower that is the model itself (`base` empty).
fn path(base: &str, name: &str) -> String {
    match base {
        "" => name.to_string(),
        _ => format!("{base}.{name}"),
    }
}

/// The rows of the tower at module path `base` (empty: the tower is the model).
pub fn tower_rows(t: &VisionTower, base: &str, m: &mut Modules) -> Result<()> {
    let loc = m.location();
    let l = layout(t.family);
    let h = dim(t.hidden_size, "vision_hidden");
    let inter = dim(t.intermediate_size, "vision_intermediate");
    let (c, p) = (dim(t.num_channels, "channels"), dim(t.patch_size, "patch"));
    let conv = vec![h.clone(), c.clone(), p.clone(), p.clone()];
    let n = patches(t, loc)?;
    match t.family {
        TowerFamily::Clip => {
            let rows = dim(add(n, 1, loc, "patch count")?, "patches+1");
            m.add(
                path(base, "embeddings"),
                "CLIPVisionEmbeddings",
                vec![
                    Weight::new("class_embedding", vec![h.clone()]),
                    Weight::new("patch_embedding.weight", conv),
                    Weight::new("position_embedding.weight", vec![rows, h.clone()]),
                ],
            )?;
            norm_row(
                m,
                path(base, "pre_layrnorm"),
                "LayerNorm",
                t.hidden_size,
                l.norm,
            )?;
        }
        TowerFamily::Siglip => m.add(
            path(base, "embeddings"),
            "SiglipVisionEmbeddings",
            vec![
                Weight::new("patch_embedding.weight", conv),
                Weight::new("patch_embedding.bias", vec![h.clone()]),
                Weight::new(
                    "position_embedding.weight",
                    vec![dim(n, "patches"), h.clone()],
                ),
            ],
        )?,
        TowerFamily::Pixtral => {
            m.add(
                path(base, "patch_conv"),
                "Conv2d",
                vec![Weight::new("weight", conv)],
            )?;
            norm_row(m, path(base, "ln_pre"), l.norm_class, t.hidden_size, l.norm)?;
        }
        TowerFamily::Qwen25Vl => {
            let frames = dim(t.temporal_patch, "temporal_patch");
            m.add(
                path(base, "patch_embed"),
                "Qwen2_5_VisionPatchEmbed",
                vec![Weight::new(
                    "proj.weight",
                    vec![h.clone(), c, frames, p.clone(), p],
                )],
            )?;
        }
        TowerFamily::Llama4 => {
            let rows = dim(add(n, 1, loc, "patch count")?, "patches+1");
            m.add(
                base.to_string(),
                "Llama4VisionModel",
                vec![
                    Weight::new("class_embedding", vec![h.clone()]),
                    Weight::new("positional_embedding_vlm", vec![rows, h.clone()]),
                ],
            )?;
            let patch = mul(t.patch_size, t.patch_size, loc, "patch")?;
            let unfolded = dim(mul(t.num_channels, patch, loc, "patch")?, "channels×patch²");
            let mut w = Vec::new();
            linear(&mut w, "linear.", unfolded, h.clone(), false);
            m.add(path(base, "patch_embedding"), "Llama4UnfoldConvolution", w)?;
            for name in ["layernorm_pre", "layernorm_post"] {
                norm_row(m, path(base, name), "LayerNorm", t.hidden_size, l.norm)?;
            }
        }
        TowerFamily::Gemma4 => {
            let positions = t.gemma4.map_or(0, |g| g.positions);
            let patch = mul(t.patch_size, t.patch_size, loc, "patch")?;
            let pixels = dim(mul(3, patch, loc, "patch")?, "3×patch²");
            let mut w = Vec::new();
            linear(&mut w, "input_proj.", pixels, h.clone(), false);
            w.push(Weight::new(
                "position_embedding_table",
                vec![dim(2, "axes"), dim(positions, "positions"), h.clone()],
            ));
            m.add(path(base, "patch_embedder"), "Gemma4VisionPatchEmbedder", w)?;
        }
    }
    encoder_blocks(t, base, ("vision_hidden", "vision_intermediate"), m)?;
    if matches!(t.family, TowerFamily::Clip | TowerFamily::Siglip) {
        norm_row(
            m,
            path(base, "post_layernorm"),
            "LayerNorm",
            t.hidden_size,
            l.norm,
        )?;
    }
    if t.pooling_head {
        m.add(
            path(base, "head"),
            "SiglipMultiheadAttentionPoolingHead",
            pooling_head(t, &h, &inter, loc)?,
        )?;
    }
    if let Some((inner, out)) = t.pixel_shuffle {
        let (inner, out) = (dim(inner, "projector_input"), dim(out, "projector_output"));
        let mut w = Vec::new();
        linear(&mut w, "mlp.fc1.", inter.clone(), inner, false);
        linear(&mut w, "mlp.fc2.", out.clone(), out, false);
        m.add(
            path(base, "vision_adapter"),
            "Llama4VisionPixelShuffleMLP",
            w,
        )?;
    }
    if t.family == TowerFamily::Qwen25Vl {
        let merged = dim(
            mul(
                t.hidden_size,
                mul(t.spatial_merge, t.spatial_merge, loc, "merger width")?,
                loc,
                "merger width",
            )?,
            "hidden×merge²",
        );
        let mut w = Vec::new();
        norm(&mut w, "ln_q.", t.hidden_size, l.norm);
        linear(&mut w, "mlp.0.", merged.clone(), merged.clone(), true);
        linear(
            &mut w,
            "mlp.2.",
            merged,
            dim(t.out_hidden_size, "out_hidden"),
            true,
        );
        m.add(path(base, "merger"), "Qwen2_5_VLPatchMerger", w)?;
    }
    Ok(())
}

/// The tower's N blocks at `base` (`{base}.encoder.layers.{i}.`), its widths labelled
/// `labels` (hidden, intermediate); CLIP's and SigLIP's text encoders are built of the
/// same blocks.
pub fn encoder_blocks(
    t: &VisionTower,
    base: &str,
    labels: (&'static str, &'static str),
    m: &mut Modules,
) -> Result<()> {
    let l = layout(t.family);
    let h = dim(t.hidden_size, labels.0);
    let inter = dim(t.intermediate_size, labels.1);
    let mut block = vec![
        (
            l.attention.0.to_string(),
            l.attention.1,
            attention(t, &h, m.location())?,
        ),
        (l.mlp.0.to_string(), l.mlp.1, mlp(t, &h, &inter)),
    ];
    for &name in l.norms {
        let mut w = Vec::new();
        norm(&mut w, "", t.hidden_size, l.norm);
        block.push((name.to_string(), l.norm_class, w));
    }
    m.add_blocks(
        t.num_layers,
        |i| format!("{}.{i}.", path(base, l.layers)),
        &block,
    )
}

fn attention(t: &VisionTower, h: &Dim, loc: &str) -> Result<Vec<Weight>> {
    let mut w = Vec::new();
    if let Some(g) = &t.gemma4 {
        // `Gemma4ClippableLinear`s (bias-free `linear`), q and k norms of the head dim
        let q = dim(
            mul(t.num_heads, g.head_dim, loc, "q width")?,
            "heads×head_dim",
        );
        let kv = dim(
            mul(g.kv_heads, g.head_dim, loc, "kv width")?,
            "kv_heads×head_dim",
        );
        linear(&mut w, "q_proj.linear.", h.clone(), q.clone(), false);
        linear(&mut w, "k_proj.linear.", h.clone(), kv.clone(), false);
        linear(&mut w, "v_proj.linear.", h.clone(), kv, false);
        linear(&mut w, "o_proj.linear.", q, h.clone(), false);
        for name in ["q_norm.", "k_norm."] {
            norm(&mut w, name, g.head_dim, NormKind::RmsNorm);
        }
        return Ok(w);
    }
    match t.family {
        TowerFamily::Qwen25Vl => {
            let qkv = dim(mul(3, t.hidden_size, loc, "qkv width")?, "3×vision_hidden");
            linear(&mut w, "qkv.", h.clone(), qkv, true);
            linear(&mut w, "proj.", h.clone(), h.clone(), true);
        }
        _ => {
            let bias = t.family != TowerFamily::Pixtral;
            for name in ["q_proj.", "k_proj.", "v_proj."] {
                linear(&mut w, name, h.clone(), h.clone(), bias);
            }
            let o = match t.family {
                TowerFamily::Clip | TowerFamily::Siglip => "out_proj.",
                _ => "o_proj.",
            };
            linear(&mut w, o, h.clone(), h.clone(), bias);
        }
    }
    Ok(w)
}

fn mlp(t: &VisionTower, h: &Dim, inter: &Dim) -> Vec<Weight> {
    let mut w = Vec::new();
    match t.family {
        TowerFamily::Clip | TowerFamily::Siglip | TowerFamily::Llama4 => {
            linear(&mut w, "fc1.", h.clone(), inter.clone(), true);
            linear(&mut w, "fc2.", inter.clone(), h.clone(), true);
        }
        TowerFamily::Pixtral | TowerFamily::Qwen25Vl => {
            let bias = t.family == TowerFamily::Qwen25Vl;
            linear(&mut w, "gate_proj.", h.clone(), inter.clone(), bias);
            linear(&mut w, "up_proj.", h.clone(), inter.clone(), bias);
            linear(&mut w, "down_proj.", inter.clone(), h.clone(), bias);
        }
        TowerFamily::Gemma4 => {
            linear(&mut w, "gate_proj.linear.", h.clone(), inter.clone(), false);
            linear(&mut w, "up_proj.linear.", h.clone(), inter.clone(), false);
            linear(&mut w, "down_proj.linear.", inter.clone(), h.clone(), false);
        }
    }
    w
}

/// SigLIP's `SiglipMultiheadAttentionPoolingHead`: a learned probe attends over the
/// patches through `nn.MultiheadAttention` (one packed in-projection), then LayerNorm
/// and an MLP.
fn pooling_head(t: &VisionTower, h: &Dim, inter: &Dim, loc: &str) -> Result<Vec<Weight>> {
    let three = dim(
        mul(3, t.hidden_size, loc, "in_proj width")?,
        "3×vision_hidden",
    );
    let one = || dim(1, "1");
    let mut w = vec![
        Weight::new("probe", vec![one(), one(), h.clone()]),
        Weight::new("attention.in_proj_weight", vec![three.clone(), h.clone()]),
        Weight::new("attention.in_proj_bias", vec![three]),
    ];
    linear(&mut w, "attention.out_proj.", h.clone(), h.clone(), true);
    norm(
        &mut w,
        "layernorm.",
        t.hidden_size,
        NormKind::LayerNorm { bias: true },
    );
    linear(&mut w, "mlp.fc1.", h.clone(), inter.clone(), true);
    linear(&mut w, "mlp.fc2.", inter.clone(), h.clone(), true);
    Ok(w)
}
