//! segformer: the Mix Transformer (MiT) encoder, `SegformerModel`.
//!
//! Computes, per stage i (`num_encoder_blocks` of them): an overlapping patch embedding
//! (a convolution of kernel `patch_sizes[i]`, stride `strides[i]`, padding half the
//! kernel, then a LayerNorm), pre-norm blocks (LayerNorm → efficient attention →
//! residual, LayerNorm → Mix-FFN → residual) and a LayerNorm; the map is reshaped back to
//! `(batch, width, H, W)` for the next stage. Efficient attention: queries on every token,
//! keys and values on the map reduced by a `sr_ratios[i]` strided convolution and a
//! LayerNorm where the ratio exceeds 1. Mix-FFN: `fc1` (width → `mlp_ratios[i]`·width), a
//! 3×3 depthwise convolution, the activation, `fc2`.
//! Weights per block: biased q, k, v and o_proj of `heads · (width // heads)`, the
//! reduction's biased convolution and LayerNorm, two LayerNorms, the biased Mix-FFN.
//! segformer has no language-model head.
//! Mirrors: `modeling_segformer.py` (`SegformerModel`) of transformers 5.24. The model
//! takes images of any size; memory reads the config's `image_size` (an int or an `[h, w]`
//! pair, which transformers keeps but ignores; 224 when absent).
use crate::arch::{HeadKind, NormKind, TransformerArch, Vision};
use crate::error::{mul, Result};
use crate::weight::{dim, Weight};

use super::config::Cfg;
use super::modules::{linear, norm, norm_row, Modules};

/// One stage of the encoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    pub depth: u64,
    pub width: u64,
    pub heads: u64,
    /// Spatial reduction of keys and values (1: none).
    pub sr: u64,
    pub patch: u64,
    pub stride: u64,
    /// The Mix-FFN's inner width, `int(width · mlp_ratio)`.
    pub mlp: u64,
}

/// The stages of a segformer encoder: what its counts and memory lowering read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segformer {
    pub image: (u64, u64),
    pub channels: u64,
    pub stages: Vec<Stage>,
    /// `drop_path_rate > 0`: every block but the first drops paths (block k's rate is
    /// `rate · k / (blocks − 1)`; a zero rate builds `nn.Identity`).
    pub drop_path: bool,
    /// The all-MLP decode head on the stages' maps (`SegformerDecodeHead`), which
    /// `SegformerModel` lacks: set by keras-hub's SegFormer models.
    pub decode_head: Option<DecodeHead>,
}

/// `SegformerDecodeHead`: each stage's map projected by a biased Linear to `width`,
/// resized to the first stage's map, joined (deepest first) and fused by a bias-free 1×1
/// convolution, BatchNorm and ReLU; with `classes`, dropout, a biased 1×1 convolution to
/// the classes and, for the loss, the logits resized to the image
/// (`SegformerForSemanticSegmentation`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeHead {
    /// `decoder_hidden_size` (keras-hub's `projection_filters`).
    pub width: u64,
    /// `num_labels`; `None`: the fused map is the output (keras-hub's SegFormerBackbone).
    pub classes: Option<u64>,
}

impl Segformer {
    /// Each stage's output map, checked: its patches and reduction must fit the image
    /// (the forward fails otherwise; the counts do not depend on it).
    pub fn maps(&self, location: &str) -> Result<Vec<(u64, u64)>> {
        let mut size = self.image;
        let mut maps = Vec::with_capacity(self.stages.len());
        for (i, st) in self.stages.iter().enumerate() {
            let pad = 2 * (st.patch / 2);
            if size.0.saturating_add(pad) < st.patch || size.1.saturating_add(pad) < st.patch {
                return Err(crate::Error::invalid(
                    location,
                    format!(
                        "stage {i}'s {0}x{0} patches do not fit its {1}x{2} input (image_size {3:?})",
                        st.patch, size.0, size.1, self.image
                    ),
                ));
            }
            size = Self::conv_out(st, size);
            if st.sr > size.0.min(size.1) {
                return Err(crate::Error::invalid(
                    location,
                    format!(
                        "stage {i}'s sr_ratio ({}) is larger than its {}x{} map (image_size {:?})",
                        st.sr, size.0, size.1, self.image
                    ),
                ));
            }
            maps.push(size);
        }
        Ok(maps)
    }

    /// The (height, width) a stage's patch convolution makes of `(h, w)` (one row or
    /// column where the patch does not fit: [`Segformer::maps`] refuses that).
    fn conv_out(st: &Stage, (h, w): (u64, u64)) -> (u64, u64) {
        let pad = 2 * (st.patch / 2);
        (
            h.saturating_add(pad).saturating_sub(st.patch) / st.stride + 1,
            w.saturating_add(pad).saturating_sub(st.patch) / st.stride + 1,
        )
    }
}

pub fn arch(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let loc = cfg.location;
    let n = cfg.dim("num_encoder_blocks", 4)? as usize;
    let list = |key: &str, default: &[u64]| -> Result<Vec<u64>> {
        let items = if cfg.has(key) {
            cfg.count_list(key)?
        } else {
            default.to_vec()
        };
        if items.len() < n || items.contains(&0) {
            return Err(cfg.invalid(format!(
                "key '{key}' must hold num_encoder_blocks ({n}) positive integers, got {items:?}"
            )));
        }
        Ok(items)
    };
    let depths = list("depths", &[2, 2, 2, 2])?;
    let srs = list("sr_ratios", &[8, 4, 2, 1])?;
    let widths = list("hidden_sizes", &[32, 64, 160, 256])?;
    let patches = list("patch_sizes", &[7, 3, 3, 3])?;
    let strides = list("strides", &[4, 2, 2, 2])?;
    let heads = list("num_attention_heads", &[1, 2, 5, 8])?;
    let ratios = list("mlp_ratios", &[4, 4, 4, 4])?;
    let mut stages = Vec::with_capacity(n);
    for i in 0..n {
        if heads[i] > widths[i] {
            return Err(cfg.invalid(format!(
                "stage {i}'s hidden size ({}) is smaller than its {} attention heads",
                widths[i], heads[i]
            )));
        }
        stages.push(Stage {
            depth: depths[i],
            width: widths[i],
            heads: heads[i],
            sr: srs[i],
            patch: patches[i],
            stride: strides[i],
            mlp: mul(widths[i], ratios[i], loc, "mlp width")?,
        });
    }
    let s = Segformer {
        image: cfg.dim_pair("image_size", 224)?,
        channels: cfg.dim("num_channels", 3)?,
        drop_path: cfg.float("drop_path_rate", None, 0.1)? > 0.0,
        stages,
        decode_head: None,
    };
    let last = &s.stages[n - 1];
    let first = &s.stages[0];
    let grid = Segformer::conv_out(first, s.image);
    let mut arch = TransformerArch {
        head,
        embed_dim: first.width,
        activation: cfg.string("hidden_act", "gelu")?,
        vision: Some(Vision {
            image_size: s.image,
            patch_size: (first.patch, first.patch),
            num_channels: s.channels,
            num_patches: mul(grid.0, grid.1, loc, "patch count")?,
            class_tokens: 0,
            patch_bias: true,
        }),
        ..TransformerArch::encoder(
            cfg.model_type,
            last.width,
            s.stages.iter().map(|st| st.depth).sum(),
            last.heads,
            last.mlp,
        )
    };
    arch.details.segformer = Some(Box::new(s));
    Ok(arch)
}

pub fn modules(a: &TransformerArch, m: &mut Modules) -> Result<String> {
    let s = a
        .details
        .segformer
        .as_deref()
        .ok_or_else(|| crate::Error::Internal("segformer without its stages".into()))?;
    let ln = NormKind::LayerNorm { bias: true };
    let mut channels = s.channels;
    for (i, st) in s.stages.iter().enumerate() {
        let d = st.width;
        let width = || dim(d, "width");
        let stage = format!("stages.{i}.");
        let mut w = vec![
            Weight::new(
                "proj.weight",
                vec![
                    width(),
                    dim(channels, "in_channels"),
                    dim(st.patch, "patch"),
                    dim(st.patch, "patch"),
                ],
            ),
            Weight::new("proj.bias", vec![width()]),
        ];
        norm(&mut w, "layer_norm.", d, ln);
        m.add(
            format!("{stage}patch_embeddings"),
            "SegformerOverlapPatchEmbeddings",
            w,
        )?;
        let inner = dim(st.heads * (d / st.heads), "heads·head_dim");
        let mut attn = Vec::new();
        for name in ["q_proj.", "k_proj.", "v_proj."] {
            linear(&mut attn, name, width(), inner.clone(), true);
        }
        linear(&mut attn, "o_proj.", inner, width(), true);
        if st.sr > 1 {
            attn.push(Weight::new(
                "sequence_reduction.sequence_reduction.weight",
                vec![width(), width(), dim(st.sr, "sr"), dim(st.sr, "sr")],
            ));
            attn.push(Weight::new(
                "sequence_reduction.sequence_reduction.bias",
                vec![width()],
            ));
            norm(&mut attn, "sequence_reduction.layer_norm.", d, ln);
        }
        let hidden = dim(st.mlp, "mlp_ratio·width");
        let mut mlp = Vec::new();
        linear(&mut mlp, "fc1.", width(), hidden.clone(), true);
        mlp.push(Weight::new(
            "dwconv.dwconv.weight",
            vec![hidden.clone(), dim(1, "1"), dim(3, "3"), dim(3, "3")],
        ));
        mlp.push(Weight::new("dwconv.dwconv.bias", vec![hidden.clone()]));
        linear(&mut mlp, "fc2.", hidden, width(), true);
        let mut before = Vec::new();
        norm(&mut before, "", d, ln);
        let rows = [
            ("layernorm_before".to_string(), "LayerNorm", before.clone()),
            ("attention".to_string(), "SegformerAttention", attn),
            ("layernorm_after".to_string(), "LayerNorm", before),
            ("mlp".to_string(), "SegformerMixMLP", mlp),
        ];
        m.add_blocks(st.depth, |j| format!("{stage}blocks.{j}."), &rows)?;
        norm_row(m, format!("{stage}layer_norm"), "LayerNorm", d, ln)?;
        channels = d;
    }
    Ok("SegformerModel".to_string())
}
