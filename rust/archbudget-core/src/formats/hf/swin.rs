//! swin: a hierarchical vision transformer.
//!
//! Computes: a patch convolution (`num_channels → embed_dim`, kernel = stride = patch),
//! a LayerNorm, then one stage per entry of `depths`, stage i `embed_dim · 2^i` wide:
//! pre-norm blocks (LayerNorm → windowed attention → residual, LayerNorm → MLP →
//! residual) whose attention runs inside non-overlapping `window_size`² windows, odd
//! blocks on windows shifted by half a window; every stage but the last ends in a patch
//! merging (the 2×2 neighbours concatenated, a LayerNorm over 4·dim, a bias-free Linear to
//! 2·dim) that halves the resolution; a final LayerNorm and the parameter-free
//! `AdaptiveAvgPool1d` pooler.
//! Weights per block: q, k, v (biased when `qkv_bias`) and a biased o_proj, a
//! `relative_position_bias_table` of (2·window − 1)² × heads (the configured window, even
//! where a stage is smaller than it and the block shrinks its windows), two LayerNorms and
//! a biased MLP of `int(mlp_ratio · dim)`. swin has no language-model head.
//! Mirrors: `modeling_swin.py` (`SwinModel(add_pooling_layer=True,
//! use_mask_token=False)`) of transformers 5.24, `image_size` / `patch_size` as an int or
//! an `[h, w]` pair; `use_absolute_embeddings` adds a `(patches × embed_dim)` table.
use crate::arch::{HeadKind, NormKind, Position, TransformerArch, Vision};
use crate::error::{mul, Result};
use crate::weight::{dim, Weight};

use super::config::Cfg;
use super::modules::{linear, norm, norm_row, Modules};

/// The stages of a swin model: what its counts and memory lowering read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Swin {
    pub image: (u64, u64),
    pub patch: (u64, u64),
    pub channels: u64,
    pub embed_dim: u64,
    /// Blocks per stage.
    pub depths: Vec<u64>,
    /// Attention heads per stage.
    pub heads: Vec<u64>,
    /// `window_size` as configured.
    pub window: u64,
    /// Rows of each block's `relative_position_bias_table`: (2·window − 1)².
    pub bias_rows: u64,
    /// The MLP's inner width per stage, `int(mlp_ratio · dim)`.
    pub mlp: Vec<u64>,
    pub qkv_bias: bool,
    /// A learned `(patches × embed_dim)` position table (`use_absolute_embeddings`).
    pub absolute_positions: bool,
    /// `drop_path_rate > 0`: every block but the first has a `SwinDropPath` (block k's rate
    /// is `rate · k / (blocks − 1)`; a zero rate builds `nn.Identity`).
    pub drop_path: bool,
    /// `embeddings.norm` after the patch convolution: transformers always builds it;
    /// keras-hub's `patch_norm=False` leaves it out (its twin's only difference).
    pub patch_norm: bool,
}

impl Swin {
    /// Width of stage `i`.
    pub fn width(&self, i: usize) -> u64 {
        self.embed_dim << i
    }

    /// The patch grid the stages start from: `ceil(image / patch)`, as the forward pads
    /// the pixels to a multiple of the patch.
    pub fn grid(&self) -> (u64, u64) {
        (
            self.image.0.div_ceil(self.patch.0),
            self.image.1.div_ceil(self.patch.1),
        )
    }
}

pub fn arch(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let loc = cfg.location;
    let image = cfg.dim_pair("image_size", 224)?;
    let patch = cfg.dim_pair("patch_size", 4)?;
    let embed_dim = cfg.dim("embed_dim", 96)?;
    let depths = list_or(cfg, "depths", &[2, 2, 6, 2])?;
    let heads = list_or(cfg, "num_heads", &[3, 6, 12, 24])?;
    if depths.is_empty() || depths.len() != heads.len() {
        return Err(cfg.invalid(format!(
            "'depths' ({}) and 'num_heads' ({}) must be non-empty lists of one length",
            depths.len(),
            heads.len()
        )));
    }
    // every stage's width, and patch merging's 4 · width, must fit
    let shift = depths.len() as u32 + 1;
    if embed_dim
        .checked_shl(shift)
        .is_none_or(|x| x >> shift != embed_dim)
    {
        return Err(cfg.invalid(format!(
            "embed_dim ({embed_dim}) · 2^{} stages overflows",
            depths.len()
        )));
    }
    let mlp_ratio = cfg.float("mlp_ratio", None, 4.0)?;
    let mut mlp = Vec::with_capacity(depths.len());
    for i in 0..depths.len() {
        let d = embed_dim << i;
        // Python's int(mlp_ratio * dim)
        let inner = (mlp_ratio * d as f64) as u64;
        if inner == 0 {
            return Err(cfg.invalid(format!(
                "mlp_ratio ({mlp_ratio}) leaves stage {i}'s MLP empty"
            )));
        }
        mlp.push(inner);
    }
    if image.0 < patch.0 || image.1 < patch.1 {
        return Err(cfg.invalid(format!(
            "patch_size {patch:?} is larger than image_size {image:?}"
        )));
    }
    let window = cfg.dim("window_size", 7)?;
    let bias_rows = window
        .checked_mul(2)
        .map(|side| side - 1)
        .and_then(|side| side.checked_mul(side))
        .ok_or_else(|| cfg.invalid(format!("window_size ({window}) is too large")))?;
    let swin = Swin {
        image,
        patch,
        channels: cfg.dim("num_channels", 3)?,
        embed_dim,
        window,
        bias_rows,
        qkv_bias: cfg.flag("qkv_bias", true)?,
        absolute_positions: cfg.flag("use_absolute_embeddings", false)?,
        drop_path: cfg.float("drop_path_rate", None, 0.1)? > 0.0,
        patch_norm: true,
        depths,
        heads,
        mlp,
    };
    let last = swin.depths.len() - 1;
    let hidden = swin.width(last);
    // the position table's rows: transformers sizes it from the floored grid
    let num_patches = mul(image.0 / patch.0, image.1 / patch.1, loc, "patch count")?;
    let (gh, gw) = swin.grid();
    let mut arch = TransformerArch {
        head,
        embed_dim,
        activation: cfg.string("hidden_act", "gelu")?,
        qkv_bias: swin.qkv_bias,
        position: match swin.absolute_positions {
            true => Position::Learned { rows: num_patches },
            false => Position::None,
        },
        vision: Some(Vision {
            image_size: image,
            patch_size: patch,
            num_channels: swin.channels,
            num_patches: mul(gh, gw, loc, "patch count")?,
            class_tokens: 0,
            patch_bias: true,
        }),
        ..TransformerArch::encoder(
            cfg.model_type,
            hidden,
            swin.depths.iter().sum(),
            swin.heads[last],
            swin.mlp[last],
        )
    };
    arch.details.swin = Some(Box::new(swin));
    Ok(arch)
}

/// A list of positive integers, `default` when absent.
fn list_or(cfg: &Cfg, key: &str, default: &[u64]) -> Result<Vec<u64>> {
    if !cfg.has(key) {
        return Ok(default.to_vec());
    }
    let items = cfg.count_list(key)?;
    if items.contains(&0) {
        return Err(cfg.invalid(format!(
            "key '{key}' must hold positive integers, got {items:?}"
        )));
    }
    Ok(items)
}

pub fn modules(a: &TransformerArch, m: &mut Modules) -> Result<String> {
    let s = a
        .details
        .swin
        .as_deref()
        .ok_or_else(|| crate::Error::Internal("swin without its stages".into()))?;
    let ln = NormKind::LayerNorm { bias: true };
    let embed = dim(s.embed_dim, "embed_dim");
    let mut w = Vec::new();
    if let Position::Learned { rows } = a.position {
        w.push(Weight::new(
            "position_embeddings",
            vec![dim(1, "1"), dim(rows, "patches"), embed.clone()],
        ));
    }
    w.extend([
        Weight::new(
            "patch_embeddings.projection.weight",
            vec![
                embed.clone(),
                dim(s.channels, "channels"),
                dim(s.patch.0, "patch_h"),
                dim(s.patch.1, "patch_w"),
            ],
        ),
        Weight::new("patch_embeddings.projection.bias", vec![embed]),
    ]);
    if s.patch_norm {
        norm(&mut w, "norm.", s.embed_dim, ln);
    }
    m.add("embeddings".to_string(), "SwinEmbeddings", w)?;
    for (i, (&depth, &heads)) in s.depths.iter().zip(&s.heads).enumerate() {
        let d = s.width(i);
        let width = || dim(d, "dim");
        let stage = format!("encoder.layers.{i}.");
        let block_rows = || -> Vec<(String, &str, Vec<Weight>)> {
            let mut attn = Vec::new();
            for name in ["q_proj.", "k_proj.", "v_proj."] {
                linear(&mut attn, name, width(), width(), s.qkv_bias);
            }
            linear(&mut attn, "o_proj.", width(), width(), true);
            attn.push(Weight::new(
                "relative_position_bias.relative_position_bias_table",
                vec![dim(s.bias_rows, "(2·window-1)²"), dim(heads, "heads")],
            ));
            let mut mlp = Vec::new();
            let inner = dim(s.mlp[i], "mlp_ratio·dim");
            linear(&mut mlp, "fc1.", width(), inner.clone(), true);
            linear(&mut mlp, "fc2.", inner, width(), true);
            let mut before = Vec::new();
            norm(&mut before, "", d, ln);
            let after = before.clone();
            vec![
                ("layernorm_before".to_string(), "LayerNorm", before),
                ("attention".to_string(), "SwinAttention", attn),
                ("layernorm_after".to_string(), "LayerNorm", after),
                ("mlp".to_string(), "SwinMLP", mlp),
            ]
        };
        m.add_blocks(depth, |j| format!("{stage}blocks.{j}."), &block_rows())?;
        if i + 1 < s.depths.len() {
            let mut w = Vec::new();
            linear(
                &mut w,
                "reduction.",
                dim(4 * d, "4·dim"),
                dim(2 * d, "2·dim"),
                false,
            );
            norm(&mut w, "norm.", 4 * d, ln);
            m.add(format!("{stage}downsample"), "SwinPatchMerging", w)?;
        }
    }
    norm_row(m, "layernorm".to_string(), "LayerNorm", a.hidden_size, ln)?;
    Ok("SwinModel".to_string())
}
