//! vit and deit.
//!
//! Computes: a patch convolution (`num_channels → hidden`, kernel = stride = patch), a CLS
//! token and learned positions for `patches + 1` slots, N × pre-norm blocks (LayerNorm →
//! attention, LayerNorm → MLP), a final LayerNorm and the `AutoModel` pooler
//! (`hidden → pooler_output_size` + tanh). vit has no language-model head.
//! Weights: q/k/v biased when `qkv_bias` (default true), o and the MLP always biased.
//! Mirrors: `modeling_vit.py` (`ViTModel(add_pooling_layer=True, use_mask_token=False)`)
//! of transformers 5.x, `image_size` / `patch_size` as an int or an `[h, w]` pair.
//!
//! deit (`modeling_deit.py`, `DeiTModel`) is vit with a `distillation_token` beside the
//! CLS token: positions for `patches + 2` slots, the same blocks, pooler and defaults.
use crate::arch::{HeadKind, Position, TransformerArch, Vision};
use crate::error::{add, mul, Result};
use crate::weight::{dim, Weight};

use super::config::Cfg;
use super::modules::{heads_dim, linear, norm_row, Modules};

pub fn arch(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let loc = cfg.location;
    let hidden = cfg.dim("hidden_size", 768)?;
    let heads = cfg.dim("num_attention_heads", 12)?;
    let head_dim = cfg.dim_opt("head_dim")?.unwrap_or(hidden / heads);
    if head_dim == 0 {
        return Err(cfg.invalid(format!(
            "hidden_size ({hidden}) is smaller than num_attention_heads ({heads})"
        )));
    }
    let grid = PatchGrid::of(cfg, 16)?;
    let class_tokens = if cfg.model_type == "deit" { 2 } else { 1 };
    let slots = add(grid.patches, class_tokens, loc, "patch count")?;
    let widths = (hidden, heads, head_dim, cfg.dim("intermediate_size", 3072)?);
    let mut a = encoder(cfg, head, widths, grid, slots)?;
    a.qkv_bias = cfg.flag("qkv_bias", true)?;
    a.activation = cfg.string("hidden_act", "gelu")?;
    a.pooler = match cfg.count("pooler_output_size", 0)? {
        0 => Some(hidden),
        n => Some(n),
    };
    if let Some(v) = a.vision.as_mut() {
        v.class_tokens = class_tokens;
    }
    Ok(a)
}

/// An image's patches: `image_size`, `patch_size` (`default_patch` where unset) and
/// their count.
#[derive(Clone, Copy)]
pub(super) struct PatchGrid {
    pub image: (u64, u64),
    pub patch: (u64, u64),
    pub patches: u64,
}

impl PatchGrid {
    pub fn of(cfg: &Cfg, default_patch: u64) -> Result<PatchGrid> {
        let image = cfg.dim_pair("image_size", 224)?;
        let patch = cfg.dim_pair("patch_size", default_patch)?;
        let patches = mul(
            image.0 / patch.0,
            image.1 / patch.1,
            cfg.location,
            "patch count",
        )?;
        if patches == 0 {
            return Err(cfg.invalid(format!(
                "patch_size {patch:?} is larger than image_size {image:?}"
            )));
        }
        Ok(PatchGrid {
            image,
            patch,
            patches,
        })
    }
}

/// The ViT-style encoder vit, dinov2 and dinov3_vit share: a biased patch convolution,
/// one CLS token, learned positions for `slots`, pre-norm LayerNorm blocks of
/// `(hidden, heads, head_dim, intermediate)` with biased attention and MLP, a final
/// LayerNorm, no pooler. Each type sets what it changes (its activation and q/k/v
/// biases among them, read from its own keys).
pub(super) fn encoder(
    cfg: &Cfg,
    head: HeadKind,
    (hidden, heads, head_dim, inter): (u64, u64, u64, u64),
    grid: PatchGrid,
    slots: u64,
) -> Result<TransformerArch> {
    let layers = cfg.layers(&["num_hidden_layers"], 12)?;
    Ok(TransformerArch {
        head,
        head_dim,
        position: Position::Learned { rows: slots },
        max_positions: slots,
        vision: Some(Vision {
            image_size: grid.image,
            patch_size: grid.patch,
            num_channels: cfg.dim("num_channels", 3)?,
            num_patches: grid.patches,
            class_tokens: 1,
            patch_bias: true,
        }),
        ..TransformerArch::encoder(cfg.model_type, hidden, layers, heads, inter)
    })
}

pub fn modules(a: &TransformerArch, m: &mut Modules) -> Result<String> {
    let loc = m.location();
    let hidden = dim(a.hidden_size, "hidden");
    let vision = a
        .vision
        .ok_or_else(|| crate::Error::Internal("vit without image geometry".into()))?;
    let Position::Learned { rows } = a.position else {
        return Err(crate::Error::Internal(
            "vit without learned positions".into(),
        ));
    };
    let token = || Weight::new("", vec![dim(1, "1"), dim(1, "1"), hidden.clone()]);
    let mut w = vec![Weight {
        name: "cls_token".into(),
        ..token()
    }];
    let prefix = if vision.class_tokens == 2 {
        w.push(Weight {
            name: "distillation_token".into(),
            ..token()
        });
        "DeiT"
    } else {
        "ViT"
    };
    w.extend([
        Weight::new(
            "position_embeddings",
            vec![dim(1, "1"), dim(rows, "patches+tokens"), hidden.clone()],
        ),
        Weight::new(
            "patch_embeddings.projection.weight",
            vec![
                hidden.clone(),
                dim(vision.num_channels, "channels"),
                dim(vision.patch_size.0, "patch_h"),
                dim(vision.patch_size.1, "patch_w"),
            ],
        ),
        Weight::new("patch_embeddings.projection.bias", vec![hidden.clone()]),
    ]);
    m.add("embeddings".to_string(), &format!("{prefix}Embeddings"), w)?;
    let qkv = heads_dim(a.num_heads, a.head_dim, "heads×head_dim", loc)?;
    for i in 0..a.num_layers {
        let layer = format!("layers.{i}.");
        norm_row(
            m,
            format!("{layer}layernorm_before"),
            "LayerNorm",
            a.hidden_size,
            a.norm,
        )?;
        let mut w = Vec::new();
        for name in ["q_proj.", "k_proj.", "v_proj."] {
            linear(&mut w, name, hidden.clone(), qkv.clone(), a.qkv_bias);
        }
        linear(&mut w, "o_proj.", qkv.clone(), hidden.clone(), a.o_bias);
        m.add(
            format!("{layer}attention"),
            &format!("{prefix}Attention"),
            w,
        )?;
        norm_row(
            m,
            format!("{layer}layernorm_after"),
            "LayerNorm",
            a.hidden_size,
            a.norm,
        )?;
        let inter = dim(a.intermediate_size, "intermediate");
        let mut w = Vec::new();
        linear(&mut w, "fc1.", hidden.clone(), inter.clone(), true);
        linear(&mut w, "fc2.", inter, hidden.clone(), true);
        m.add(format!("{layer}mlp"), &format!("{prefix}MLP"), w)?;
    }
    norm_row(
        m,
        "layernorm".to_string(),
        "LayerNorm",
        a.hidden_size,
        a.norm,
    )?;
    if let Some(out) = a.pooler {
        let mut w = Vec::new();
        linear(
            &mut w,
            "dense.",
            hidden,
            dim(out, "pooler_output_size"),
            true,
        );
        m.add("pooler".to_string(), &format!("{prefix}Pooler"), w)?;
    }
    Ok(format!("{prefix}Model"))
}
