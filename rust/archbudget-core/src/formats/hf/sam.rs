//! sam_vision_model: Segment Anything's image encoder alone (`SamVisionModel`, a ViTDet).
//!
//! Computes: a biased patch convolution (`num_channels → hidden`, kernel = stride = patch)
//! on a square image, `s = image_size // patch_size` patches a side, laid out `[B, s, s,
//! hidden]`; `pos_embed` added when `use_abs_pos`; N pre-norm blocks whose attention runs
//! inside non-overlapping `window_size`² windows (the map padded to a multiple), or over
//! the whole grid for the layers in `global_attn_indexes` (and every layer when
//! `window_size` is 0), with decomposed relative positions (`use_rel_pos`: one table per
//! axis, added to the scores); a biased two-Linear MLP; then the `neck` (a bias-free 1×1
//! convolution to `output_channels`, a channels-first LayerNorm, a bias-free 3×3
//! convolution, a LayerNorm).
//! Weights: `patch_embed.projection`; `pos_embed` `[1, s, s, hidden]`; per layer two
//! LayerNorms, `attn.qkv` (`hidden → 3·hidden`, biased when `qkv_bias`), a biased
//! `attn.proj`, `rel_pos_h` and `rel_pos_w` `[2·side − 1, hidden // heads]` (side = the
//! window, or `s` for a global layer), `mlp.lin1` / `mlp.lin2` of `mlp_dim` (default
//! `int(mlp_ratio · hidden)`); the neck's two convolutions and two LayerNorms.
//! Mirrors: `modeling_sam.py` / `configuration_sam.py` (`SamVisionModel`,
//! `SamVisionConfig`) of transformers 5.24. keras-hub's ViTDetBackbone is the same model
//! (`formats/keras_hub/vit_det.rs`). sam_vision_model has no language-model head.
use crate::arch::{HeadKind, NormKind, TransformerArch, Vision};
use crate::error::{mul, Result};
use crate::weight::{dim, Weight};

use super::config::Cfg;
use super::modules::{linear, norm, Modules};

/// What a SAM image encoder's counts and memory lowering read beyond the arch's widths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamVision {
    pub image: u64,
    pub patch: u64,
    pub channels: u64,
    /// Patches a side, `image // patch`.
    pub side: u64,
    /// `window_size`: 0 runs every layer over the whole grid.
    pub window: u64,
    /// The layers that attend over the whole grid (`global_attn_indexes`).
    pub global: Vec<u64>,
    pub abs_pos: bool,
    pub rel_pos: bool,
    /// The neck's width (`output_channels`).
    pub output_channels: u64,
}

impl SamVision {
    /// The window layer `i` attends within; 0 for a global layer.
    pub fn window_of(&self, i: u64) -> u64 {
        match self.global.contains(&i) {
            true => 0,
            false => self.window,
        }
    }

    /// The side of layer `i`'s relative-position tables: its window, or the grid.
    fn attended_side(&self, i: u64) -> u64 {
        match self.window_of(i) {
            0 => self.side,
            w => w,
        }
    }
}

pub fn arch(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let loc = cfg.location;
    let hidden = cfg.dim("hidden_size", 768)?;
    // the fused qkv is 3·hidden wide
    if hidden.checked_mul(3).is_none() {
        return Err(cfg.invalid(format!("hidden_size ({hidden}) is too large")));
    }
    let heads = cfg.dim("num_attention_heads", 12)?;
    cfg.require_divisible(("hidden_size", hidden), ("num_attention_heads", heads))?;
    // `image_size // patch_size` sizes `pos_embed`: transformers takes ints here
    let image = cfg.dim("image_size", 1024)?;
    let patch = cfg.dim("patch_size", 16)?;
    let side = image / patch;
    if side == 0 {
        return Err(cfg.invalid(format!(
            "patch_size ({patch}) is larger than image_size ({image})"
        )));
    }
    let mlp_dim = match cfg.dim_opt("mlp_dim")? {
        Some(d) => d,
        // Python's int(hidden_size * mlp_ratio)
        None => (hidden as f64 * cfg.float("mlp_ratio", None, 4.0)?) as u64,
    };
    if mlp_dim == 0 {
        return Err(cfg.invalid("mlp_dim (or mlp_ratio · hidden_size) leaves the MLP empty"));
    }
    let global = match cfg.has("global_attn_indexes") {
        true => cfg.count_list("global_attn_indexes")?,
        false => vec![2, 5, 8, 11],
    };
    let window = cfg.count("window_size", 14)?;
    // the relative tables hold 2·side − 1 positions
    if window.max(side).checked_mul(2).is_none() {
        return Err(cfg.invalid(format!("window_size ({window}) is too large")));
    }
    let sam = SamVision {
        image,
        patch,
        channels: cfg.dim("num_channels", 3)?,
        side,
        window,
        global,
        abs_pos: cfg.flag("use_abs_pos", true)?,
        rel_pos: cfg.flag("use_rel_pos", true)?,
        output_channels: cfg.dim("output_channels", 256)?,
    };
    let layers = cfg.count("num_hidden_layers", 12)?;
    let mut arch = TransformerArch {
        head,
        activation: cfg.string("hidden_act", "gelu")?,
        final_norm: false,
        qkv_bias: cfg.flag("qkv_bias", true)?,
        fused_qkv: true,
        vision: Some(Vision {
            image_size: (image, image),
            patch_size: (patch, patch),
            num_channels: sam.channels,
            num_patches: mul(side, side, loc, "patch count")?,
            class_tokens: 0,
            patch_bias: true,
        }),
        ..TransformerArch::encoder(cfg.model_type, hidden, layers, heads, mlp_dim)
    };
    arch.details.sam_vision = Some(Box::new(sam));
    Ok(arch)
}

pub fn modules(a: &TransformerArch, m: &mut Modules) -> Result<String> {
    let s =
        a.details.sam_vision.as_deref().ok_or_else(|| {
            crate::Error::Internal("sam_vision_model without its geometry".into())
        })?;
    let ln = NormKind::LayerNorm { bias: true };
    let d = a.hidden_size;
    let hidden = || dim(d, "hidden");
    let mut pos = Vec::new();
    if s.abs_pos {
        pos.push(Weight::new(
            "pos_embed",
            vec![
                dim(1, "1"),
                dim(s.side, "side"),
                dim(s.side, "side"),
                hidden(),
            ],
        ));
    }
    m.add("vision_encoder".to_string(), "SamVisionEncoder", pos)?;
    let patches = vec![
        Weight::new(
            "projection.weight",
            vec![
                hidden(),
                dim(s.channels, "channels"),
                dim(s.patch, "patch"),
                dim(s.patch, "patch"),
            ],
        ),
        Weight::new("projection.bias", vec![hidden()]),
    ];
    m.add(
        "vision_encoder.patch_embed".to_string(),
        "SamPatchEmbeddings",
        patches,
    )?;
    let mut layer_norm = Vec::new();
    norm(&mut layer_norm, "", d, ln);
    let mut mlp = Vec::new();
    let inner = || dim(a.intermediate_size, "mlp_dim");
    linear(&mut mlp, "lin1.", hidden(), inner(), true);
    linear(&mut mlp, "lin2.", inner(), hidden(), true);
    for i in 0..a.num_layers {
        let layer = format!("vision_encoder.layers.{i}.");
        let mut attn = Vec::new();
        linear(
            &mut attn,
            "qkv.",
            hidden(),
            dim(3 * d, "3·hidden"),
            a.qkv_bias,
        );
        linear(&mut attn, "proj.", hidden(), hidden(), true);
        if s.rel_pos {
            let positions = 2 * s.attended_side(i) - 1;
            for table in ["rel_pos_h", "rel_pos_w"] {
                attn.push(Weight::new(
                    table,
                    vec![dim(positions, "2·side-1"), dim(a.head_dim, "head_dim")],
                ));
            }
        }
        m.add(
            format!("{layer}layer_norm1"),
            "LayerNorm",
            layer_norm.clone(),
        )?;
        // AutoModel runs SDPA by default: the attention module is its SDPA class
        m.add(format!("{layer}attn"), "SamVisionSdpaAttention", attn)?;
        m.add(
            format!("{layer}layer_norm2"),
            "LayerNorm",
            layer_norm.clone(),
        )?;
        m.add(format!("{layer}mlp"), "SamMLPBlock", mlp.clone())?;
    }
    let c = s.output_channels;
    let channels = || dim(c, "output_channels");
    let mut neck = vec![Weight::new(
        "conv1.weight",
        vec![channels(), hidden(), dim(1, "1"), dim(1, "1")],
    )];
    norm(&mut neck, "layer_norm1.", c, ln);
    neck.push(Weight::new(
        "conv2.weight",
        vec![channels(), channels(), dim(3, "3"), dim(3, "3")],
    ));
    norm(&mut neck, "layer_norm2.", c, ln);
    m.add("vision_encoder.neck".to_string(), "SamVisionNeck", neck)?;
    Ok("SamVisionModel".to_string())
}
