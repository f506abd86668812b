//! depth_anything: a DINOv2 backbone ([`super::dinov2`]) and a DPT-style neck and head,
//! `DepthAnythingForDepthEstimation`.
//!
//! Computes: the backbone's hidden states at `out_indices` (or `out_features`; the
//! embeddings' output is `stem`, block i's `stage{i}`), each through the backbone's
//! `layernorm` when `apply_layernorm`; the neck turns each into a patch grid (its CLS token
//! dropped), projects it by a 1×1 convolution to its `neck_hidden_sizes` width and resizes
//! it by its `reassemble_factors` entry f (f > 1: an f×f transposed convolution of stride
//! f; f < 1: a 3×3 convolution of stride `int(1 / f)`; 1: none), then a 3×3 convolution
//! to `fusion_hidden_size`; the fusion stage runs deepest first, each layer adding a
//! pre-activation residual unit of the next feature (none for the first), a second unit,
//! a bilinear resize to the next feature's size (×2 for the last) and a 1×1 projection;
//! the head takes fusion output `head_in_index`: a 3×3 convolution to half the width, a
//! bilinear resize to the patch grid × `patch_size`, a 3×3 convolution to
//! `head_hidden_size`, ReLU, a 1×1 convolution to one channel, ReLU (relative) or sigmoid
//! (metric), times `max_depth`.
//! Weights: the backbone's (`Dinov2Backbone`: dinov2's embeddings, blocks and layernorm);
//! biased convolutions but the bias-free `neck.convs`; every fusion layer holds both
//! residual units, though the first never runs its `residual_layer1`.
//! Mirrors: `modeling_depth_anything.py` of transformers 5.24 and its config defaults (the
//! backbone of Depth Anything small when `backbone_config` is absent: 518-pixel images,
//! hidden 384, 6 heads, features `[9, 10, 11, 12]`).
use serde_json::{json, Value};

use crate::arch::{BlockDetails, HeadKind, TransformerArch};
use crate::error::{Error, Result};
use crate::weight::{dim, Weight};

use super::config::Cfg;
use super::modules::Modules;

/// The neck and head on the backbone: what counts and the memory lowering read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepthAnything {
    /// The backbone's model_type (dinov2, dinov2_with_registers).
    pub backbone: String,
    /// The backbone's hidden states the neck reads (0: the embeddings' output).
    pub features: Vec<u64>,
    /// The backbone's `layernorm` acts on each feature.
    pub apply_layernorm: bool,
    /// transformers' neck runs only on token features (`reshape_hidden_states` false).
    pub reshape_hidden_states: bool,
    /// `reassemble_hidden_size`: the projections' input width.
    pub reassemble_hidden: u64,
    /// Per feature: `neck_hidden_sizes` width and resize.
    pub neck: Vec<(u64, Resize)>,
    pub fusion: u64,
    pub head_hidden: u64,
    /// `head_in_index`, Python-style (−1: the last fusion output).
    pub head_in_index: i64,
    pub output: DepthOutput,
    /// `patch_size`: the grid the neck reshapes to and the head resizes to, × patch.
    pub patch: u64,
    /// The neck also drops the backbone's register tokens (keras-hub's
    /// `DepthAnythingTokenToImage`); transformers' drops only the CLS token.
    pub drops_registers: bool,
}

/// A reassemble layer's resize.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resize {
    /// `ConvTranspose2d`, kernel = stride = the factor.
    Up(u64),
    None,
    /// A 3×3 `Conv2d` of this stride, padding 1.
    Down(u64),
}

/// What follows the head's last convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepthOutput {
    /// ReLU, × `max_depth`.
    Relative,
    /// Sigmoid, × `max_depth`.
    Metric,
    /// Nothing (keras-hub's DepthAnythingBackbone ends at the convolution).
    Bare,
}

pub fn arch(cfg: &Cfg, config: &Value, head: HeadKind) -> Result<TransformerArch> {
    let default_backbone = json!({
        "model_type": "dinov2", "image_size": 518, "hidden_size": 384,
        "num_attention_heads": 6, "out_indices": [9, 10, 11, 12],
        "reshape_hidden_states": false,
    });
    let backbone = match config.get("backbone_config") {
        None | Some(Value::Null) => &default_backbone,
        Some(v) => v,
    };
    let location = format!("{} backbone_config", cfg.location);
    let b = Cfg::new(backbone, &location)?;
    if b.model_type != "dinov2" && b.model_type != "dinov2_with_registers" {
        return Err(cfg.invalid(format!(
            "depth_anything reads a dinov2 or dinov2_with_registers backbone_config, not '{}'",
            b.model_type
        )));
    }
    let mut a = super::dinov2::arch(&b, HeadKind::Base)?;
    let layers = a.num_layers;
    let features = features(&b, layers)?;
    let sizes = cfg.count_list("neck_hidden_sizes")?;
    let sizes = match sizes.is_empty() {
        true => vec![48, 96, 192, 384],
        false => sizes,
    };
    let factors = cfg
        .floats("reassemble_factors")?
        .unwrap_or(vec![4.0, 2.0, 1.0, 0.5]);
    if factors.len() != sizes.len() || sizes.contains(&0) {
        return Err(cfg.invalid(format!(
            "reassemble_factors ({}) and neck_hidden_sizes ({}) must have one entry per feature, sizes positive",
            factors.len(),
            sizes.len()
        )));
    }
    let neck = sizes
        .into_iter()
        .zip(factors)
        .map(|(n, f)| Ok((n, resize(cfg, f)?)))
        .collect::<Result<Vec<_>>>()?;
    let fusion = cfg.dim("fusion_hidden_size", 64)?;
    if fusion < 2 {
        return Err(cfg.invalid("fusion_hidden_size must be at least 2 (the head halves it)"));
    }
    let output = match cfg.string("depth_estimation_type", "relative")?.as_str() {
        "relative" => DepthOutput::Relative,
        "metric" => DepthOutput::Metric,
        other => {
            return Err(cfg.invalid(format!(
                "depth_estimation_type must be 'relative' or 'metric', got '{other}'"
            )))
        }
    };
    let head_in_index = cfg.float("head_in_index", None, -1.0)? as i64;
    a.model_type = cfg.model_type.to_string();
    a.head = head;
    a.details.depth_anything = Some(Box::new(DepthAnything {
        backbone: b.model_type.to_string(),
        features,
        apply_layernorm: b.flag("apply_layernorm", true)?,
        reshape_hidden_states: b.flag("reshape_hidden_states", true)?,
        reassemble_hidden: cfg.dim("reassemble_hidden_size", 384)?,
        neck,
        fusion,
        head_hidden: cfg.dim("head_hidden_size", 32)?,
        head_in_index,
        output,
        patch: cfg.dim("patch_size", 14)?,
        drops_registers: false,
    }));
    Ok(a)
}

/// The stage indices of `out_indices` (negative ones from the end) or `out_features`
/// (`stem`, `stage{i}`); the last stage when neither is given, as `BackboneMixin` does.
fn features(b: &Cfg, layers: u64) -> Result<Vec<u64>> {
    let stages = layers + 1;
    if let Some(indices) = b.floats("out_indices")? {
        return indices
            .into_iter()
            .map(|i| {
                let at = if i < 0.0 { i + stages as f64 } else { i };
                match at >= 0.0 && at < stages as f64 && at.fract() == 0.0 {
                    true => Ok(at as u64),
                    false => Err(b.invalid(format!(
                        "out_indices entry {i} is not a stage of {stages} (stem and {layers} blocks)"
                    ))),
                }
            })
            .collect();
    }
    match b.strings("out_features")? {
        None => Ok(vec![layers]),
        Some(names) => names
            .into_iter()
            .map(|n| {
                let at = match n {
                    "stem" => Some(0),
                    _ => n.strip_prefix("stage").and_then(|i| i.parse::<u64>().ok()),
                };
                at.filter(|&i| i >= 1 || n == "stem")
                    .filter(|&i| i <= layers)
                    .ok_or_else(|| {
                        b.invalid(format!(
                            "out_features entry '{n}' is not 'stem' or 'stage1' … 'stage{layers}'"
                        ))
                    })
            })
            .collect(),
    }
}

/// The resize a factor builds (transformers' kernel and stride are integers).
fn resize(cfg: &Cfg, f: f64) -> Result<Resize> {
    let bad = || {
        cfg.invalid(format!(
            "reassemble_factors entry {f} must be an integer above 1, 1, or 1/n"
        ))
    };
    if f > 1.0 {
        return match f.fract() == 0.0 {
            true => Ok(Resize::Up(f as u64)),
            false => Err(bad()),
        };
    }
    if f == 1.0 {
        return Ok(Resize::None);
    }
    match f > 0.0 && (1.0 / f) as u64 >= 1 {
        true => Ok(Resize::Down((1.0 / f) as u64)),
        false => Err(bad()),
    }
}

/// The depth head's details, which a depth_anything arch always has.
pub fn of(a: &TransformerArch) -> Result<&DepthAnything> {
    a.details
        .depth_anything
        .as_deref()
        .ok_or_else(|| Error::Internal("depth_anything without its neck".into()))
}

pub fn modules(a: &TransformerArch, m: &mut Modules) -> Result<String> {
    let d = of(a)?;
    let mut backbone = a.clone();
    backbone.model_type = d.backbone.clone();
    backbone.details = BlockDetails {
        dinov2: a.details.dinov2,
        ..Default::default()
    };
    m.set_prefix("backbone.".to_string());
    super::dinov2::modules(&backbone, m)?;
    m.set_prefix(String::new());
    for (i, &(n, resize)) in d.neck.iter().enumerate() {
        let layer = format!("neck.reassemble_stage.layers.{i}.");
        conv(
            m,
            format!("{layer}projection"),
            (d.reassemble_hidden, n),
            1,
            true,
        )?;
        match resize {
            Resize::Up(k) => m.add(
                format!("{layer}resize"),
                "ConvTranspose2d",
                conv_weights((n, n), k, true, true),
            )?,
            Resize::Down(_) => conv(m, format!("{layer}resize"), (n, n), 3, true)?,
            Resize::None => {}
        }
    }
    for (i, &(n, _)) in d.neck.iter().enumerate() {
        conv(m, format!("neck.convs.{i}"), (n, d.fusion), 3, false)?;
    }
    let f = d.fusion;
    for i in 0..d.neck.len() {
        let layer = format!("neck.fusion_stage.layers.{i}.");
        conv(m, format!("{layer}projection"), (f, f), 1, true)?;
        for unit in ["residual_layer1", "residual_layer2"] {
            for c in ["convolution1", "convolution2"] {
                conv(m, format!("{layer}{unit}.{c}"), (f, f), 3, true)?;
            }
        }
    }
    conv(m, "head.conv1".to_string(), (f, f / 2), 3, true)?;
    conv(m, "head.conv2".to_string(), (f / 2, d.head_hidden), 3, true)?;
    conv(m, "head.conv3".to_string(), (d.head_hidden, 1), 1, true)?;
    Ok("DepthAnythingForDepthEstimation".to_string())
}

/// A `Conv2d` row, `k`×`k`.
fn conv(m: &mut Modules, name: String, io: (u64, u64), k: u64, bias: bool) -> Result<()> {
    m.add(name, "Conv2d", conv_weights(io, k, bias, false))
}

/// A convolution's `weight` (`[out, in, k, k]`; transposed: `[in, out, k, k]`) and bias.
fn conv_weights((d_in, d_out): (u64, u64), k: u64, bias: bool, transposed: bool) -> Vec<Weight> {
    let (first, second) = match transposed {
        true => (dim(d_in, "in"), dim(d_out, "out")),
        false => (dim(d_out, "out"), dim(d_in, "in")),
    };
    let mut w = vec![Weight::new(
        "weight",
        vec![first, second, dim(k, "k"), dim(k, "k")],
    )];
    if bias {
        w.push(Weight::new("bias", vec![dim(d_out, "out")]));
    }
    w
}
