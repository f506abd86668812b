//! keras-hub's MiTBackbone (the Mix Transformer of SegFormer).
//!
//! Computes, per level i: `patch_and_embed_i` (`OverlappingPatchingAndEmbedding`: zero
//! padding of `patch // 2`, a strided convolution, flattened to tokens, a LayerNorm), the
//! level's `HierarchicalTransformerEncoder` blocks (`norm1` → `SegFormerMultiheadAttention`
//! → residual, `norm2` → `MixFFN` → residual), a LayerNorm and the `output_level_i`
//! Reshape back to `(H / stride, W / stride, width)`.
//! Weights per block: biased q, k, v and proj Dense layers, with `sr_ratio > 1` a biased
//! `sr` convolution (kernel = stride = sr_ratio) and its LayerNorm; two LayerNorms; the
//! MixFFN's biased `fc1` (width → 4·width), 3×3 depthwise convolution and `fc2`.
//! Row names: the level LayerNorms are built without names, so Keras numbers them
//! (`layer_normalization_N`) after every LayerNorm built before them in a fresh session:
//! one per patch embedding, two or three per block, one per level.
//! Mirrors: `keras_hub/src/models/mit/` (mit_backbone.py, mit_layers.py) of keras-hub 0.32,
//! whose MixFFN assumes square feature maps.
//!
//! No transformers twin is read yet (transformers' segformer): memory is not modelled.
use super::blocks::{dense, layer_norm, Args, Row};
use super::swin::list;
use super::vit::ints;
use super::{Backbone, Classifier};
use crate::error::{Error, Result};
use crate::shape::Shape;
use crate::weight::{dim, Weight};

pub fn backbone(a: &Args) -> Result<Backbone> {
    let levels = a.dim("num_layers")? as usize;
    let keys = [
        "layerwise_depths",
        "layerwise_num_heads",
        "layerwise_sr_ratios",
        "layerwise_patch_sizes",
        "layerwise_strides",
        "hidden_dims",
    ];
    let lists = keys
        .iter()
        .map(|k| list(a, k))
        .collect::<Result<Vec<_>>>()?;
    if lists.iter().any(|l| l.len() < levels) {
        return Err(Error::invalid(
            a.location,
            format!(
                "{} config: {} must each hold num_layers ({levels}) values",
                a.class_name,
                keys.join(", ")
            ),
        ));
    }
    let [depths, heads, srs, patches, strides, widths] = [0, 1, 2, 3, 4, 5].map(|i| &lists[i]);
    let image = ints(a, "image_shape", 3)?;
    let (mut height, mut width, mut channels) = (image[0], image[1], image[2]);
    let input: Shape = std::iter::once(None)
        .chain(image.iter().copied().map(Some))
        .collect();
    let mut rows = vec![Row::new("input_layer", "InputLayer", input, Vec::new())];
    let mut norms = 0u64;
    for i in 0..levels {
        let (d, p, s) = (widths[i], patches[i], strides[i]);
        if heads[i] > d {
            return Err(Error::invalid(
                a.location,
                format!(
                    "{} config: level {i} is {d} wide, narrower than its {} heads",
                    a.class_name, heads[i]
                ),
            ));
        }
        let pad = 2 * (p / 2);
        if height + pad < p || width + pad < p {
            return Err(Error::invalid(
                a.location,
                format!(
                    "{} config: level {i}'s {p}x{p} patches do not fit its {height}x{width} input",
                    a.class_name
                ),
            ));
        }
        let (out_h, out_w) = ((height + pad - p) / s + 1, (width + pad - p) / s + 1);
        let tokens: Shape = vec![None, Some(out_h * out_w), Some(d)];
        let mut w = vec![
            Weight::new(
                "conv2d/kernel",
                vec![
                    dim(p, "patch"),
                    dim(p, "patch"),
                    dim(channels, "channels"),
                    dim(d, "width"),
                ],
            ),
            Weight::new("conv2d/bias", vec![dim(d, "width")]),
        ];
        layer_norm(&mut w, "layer_normalization", d);
        norms += 1;
        rows.push(Row::new(
            format!("patch_and_embed_{i}"),
            "OverlappingPatchingAndEmbedding",
            tokens.clone(),
            w,
        ));
        for k in 0..depths[i] {
            rows.push(Row::new(
                format!("hierarchical_encoder_{i}_{k}"),
                "HierarchicalTransformerEncoder",
                tokens.clone(),
                block(d, srs[i]),
            ));
            norms += if srs[i] > 1 { 3 } else { 2 };
        }
        let mut w = Vec::new();
        layer_norm(&mut w, "", d);
        let norm_name = match norms {
            0 => "layer_normalization".to_string(),
            n => format!("layer_normalization_{n}"),
        };
        norms += 1;
        rows.push(Row::new(norm_name, "LayerNormalization", tokens, w));
        // `int(H / stride)`: the Reshape's target, which must hold the tokens
        let (next_h, next_w) = (height / s, width / s);
        if next_h * next_w != out_h * out_w {
            return Err(Error::invalid(
                a.location,
                format!(
                    "{} config: level {i} makes {out_h}x{out_w} tokens of a {height}x{width} input, which output_level_{i} cannot reshape to {next_h}x{next_w} (keras-hub fails too)",
                    a.class_name
                ),
            ));
        }
        rows.push(Row::new(
            format!("output_level_{i}"),
            "Reshape",
            vec![None, Some(next_h), Some(next_w), Some(d)],
            Vec::new(),
        ));
        (height, width, channels) = (next_h, next_w, d);
    }
    Ok(Backbone {
        hf_config: None,
        rows,
        hidden: channels,
        vocab: 0,
        embed_dim: channels,
        token_weights: Vec::new(),
        inputs: &["input_layer"],
        pooled: false,
        classifier: Classifier::None,
        lm_row_shows_vocab: false,
    })
}

/// One `HierarchicalTransformerEncoder` of width `d`.
fn block(d: u64, sr: u64) -> Vec<Weight> {
    let mut w = Vec::new();
    layer_norm(&mut w, "norm1", d);
    for proj in ["q", "k", "v", "proj"] {
        dense(&mut w, &format!("attn/{proj}"), d, d, true);
    }
    if sr > 1 {
        w.push(Weight::new(
            "attn/sr/kernel",
            vec![
                dim(sr, "sr"),
                dim(sr, "sr"),
                dim(d, "width"),
                dim(d, "width"),
            ],
        ));
        w.push(Weight::new("attn/sr/bias", vec![dim(d, "width")]));
        layer_norm(&mut w, "attn/norm", d);
    }
    layer_norm(&mut w, "norm2", d);
    dense(&mut w, "mlp/fc1", d, 4 * d, true);
    w.push(Weight::new(
        "mlp/dwconv/kernel",
        vec![dim(3, "3"), dim(3, "3"), dim(4 * d, "4·width"), dim(1, "1")],
    ));
    w.push(Weight::new("mlp/dwconv/bias", vec![dim(4 * d, "4·width")]));
    dense(&mut w, "mlp/fc2", 4 * d, d, true);
    w
}
