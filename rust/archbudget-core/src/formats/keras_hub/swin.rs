//! keras-hub's SwinTransformerBackbone and SwinTransformerImageClassifier.
//!
//! Computes: `PatchEmbedding` (a patch convolution, kernel = stride = patch, flattened to
//! tokens, a LayerNorm when `patch_norm`), a `pos_drop` dropout, then one
//! `SwinTransformerStage` per entry of `depths` (`embed_dim · 2^i` wide: blocks of
//! windowed attention, alternate ones shifted by half a window, each `norm1` → `attn` →
//! residual, `norm2` → `mlp` → residual; every stage but the last ends in `PatchMerging`,
//! which halves the resolution (rounding up) and doubles the width), and a final `norm`.
//! The classifier averages the tokens, then `output_dropout` and `predictions`.
//! Weights per block: `WindowAttention`'s `attention_qkv` Dense (hidden → 3·heads·head_dim,
//! biased when `qkv_bias`), `attention_projection` (biased) and a
//! `relative_position_bias_table` of (2·window − 1)² × heads rows (the window as given,
//! even where a stage's resolution is smaller and the block shrinks its windows), two
//! LayerNorms and a biased gelu MLP of `int(dim · mlp_ratio)`; `PatchMerging` a LayerNorm
//! over 4·dim and a bias-free `reduction` Dense (4·dim → 2·dim).
//! Mirrors: `keras_hub/src/models/swin_transformer/` of keras-hub 0.32.
//!
//!
//! Memory runs as the transformers twin (`swin`, `SwinModel`: the same weights), where it
//! differs from keras-hub: keras-hub fuses q, k and v into one `attention_qkv` Dense
//! (transformers' three Linears hold the same weights) and computes attention eagerly
//! (matmul, bias and mask added, softmax), which the twin runs as SDPA unless `--attn
//! eager`; keras-hub's `dropout_rate` also drops the MLP's inner activation, the twin's
//! `hidden_dropout_prob` only its output; keras-hub builds each stage for the resolution
//! halved rounding down where transformers pads odd maps (an odd map fails keras-hub's
//! reshape, so no model built differs). Without `patch_norm` the twin leaves out the
//! patch embeddings' `norm`, which transformers always builds ([`twin_edit`]).
use serde_json::{json, Value};

use super::blocks::{dense, layer_norm, Args, Row};
use super::vit::ints;
use super::Backbone;
use crate::arch::TransformerArch;
use crate::error::{Error, Result};
use crate::shape::Shape;
use crate::summary::OutputShape;
use crate::weight::{dim, Weight};

pub fn backbone(a: &Args) -> Result<Backbone> {
    let image = ints(a, "image_shape", 3)?;
    let patch = a.dim_or("patch_size", 4)?;
    let embed = a.dim("embed_dim")?;
    let depths = list(a, "depths")?;
    let heads = list(a, "num_heads")?;
    let window = a.dim("window_size")?;
    let mlp_ratio = a.float_or("mlp_ratio", 4.0)?;
    let qkv_bias = a.flag_or("qkv_bias", true)?;
    let patch_norm = a.flag_or("patch_norm", true)?;
    let dropout = a.float_or("dropout_rate", 0.0)?;
    let attention_dropout = a.float_or("attention_dropout", 0.0)?;
    let drop_path = a.float_or("drop_path", 0.1)?;
    if depths.len() != heads.len() || depths.is_empty() {
        return Err(Error::invalid(
            a.location,
            format!(
                "{} config keys 'depths' and 'num_heads' must be non-empty lists of one length",
                a.class_name
            ),
        ));
    }
    match a.config.get("data_format").and_then(Value::as_str) {
        None | Some("channels_last") => {}
        Some(other) => {
            return Err(Error::invalid(
                a.location,
                format!(
                    "{} config key 'data_format' is '{other}': keras-hub sizes the stages from image_shape[0] and [1], which only channels_last gives",
                    a.class_name
                ),
            ))
        }
    }
    let (mut height, mut width) = (image[0] / patch, image[1] / patch);
    if height == 0 || width == 0 {
        return Err(Error::invalid(
            a.location,
            format!(
                "{} config: patch_size ({patch}) is larger than the image {image:?}",
                a.class_name
            ),
        ));
    }
    let input: Shape = std::iter::once(None)
        .chain(image.iter().copied().map(Some))
        .collect();
    let tokens = |n: u64, w: u64| -> Shape { vec![None, Some(n), Some(w)] };
    let mut w = vec![
        Weight::new(
            "conv_projection/kernel",
            vec![
                dim(patch, "patch"),
                dim(patch, "patch"),
                dim(image[2], "channels"),
                dim(embed, "embed"),
            ],
        ),
        Weight::new("conv_projection/bias", vec![dim(embed, "embed")]),
    ];
    if patch_norm {
        layer_norm(&mut w, "norm", embed);
    }
    let mut shape = tokens(height * width, embed);
    let mut rows = vec![
        Row::new("input_layer", "InputLayer", input, Vec::new()),
        Row::new("patch_embedding", "PatchEmbedding", shape.clone(), w),
        Row::new("pos_drop", "Dropout", shape.clone(), Vec::new()),
    ];
    let table = (2 * window - 1) * (2 * window - 1);
    let mut width_now = embed;
    for (i, (&depth, &n)) in depths.iter().zip(&heads).enumerate() {
        let d = embed << i;
        let head_dim = d / n;
        if head_dim == 0 {
            return Err(Error::invalid(
                a.location,
                format!(
                    "{} config: stage {i} is {d} wide, narrower than its num_heads ({n})",
                    a.class_name
                ),
            ));
        }
        // Python's int(dim * mlp_ratio)
        let hidden = (d as f64 * mlp_ratio) as u64;
        let mut w = Vec::new();
        for b in 0..depth {
            let block = format!("blocks_{b}");
            layer_norm(&mut w, &format!("{block}/norm1"), d);
            dense(
                &mut w,
                &format!("{block}/attn/attention_qkv"),
                d,
                3 * head_dim * n,
                qkv_bias,
            );
            dense(
                &mut w,
                &format!("{block}/attn/attention_projection"),
                head_dim * n,
                d,
                true,
            );
            w.push(Weight::new(
                format!("{block}/attn/relative_position_bias_table"),
                vec![dim(table, "(2·window-1)²"), dim(n, "heads")],
            ));
            layer_norm(&mut w, &format!("{block}/norm2"), d);
            dense(&mut w, &format!("{block}/mlp/fc1"), d, hidden, true);
            dense(&mut w, &format!("{block}/mlp/fc2"), hidden, d, true);
        }
        if i + 1 < depths.len() {
            layer_norm(&mut w, "downsample/norm", 4 * d);
            dense(&mut w, "downsample/reduction", 4 * d, 2 * d, false);
            // the row shows `compute_output_shape` (rounding up); the next stage is built
            // for the resolution halved rounding down
            shape = tokens(height.div_ceil(2) * width.div_ceil(2), 2 * d);
            height /= 2;
            width /= 2;
            width_now = 2 * d;
        }
        rows.push(Row::new(
            format!("stage_{i}"),
            "SwinTransformerStage",
            shape.clone(),
            w,
        ));
    }
    let mut norm = Vec::new();
    layer_norm(&mut norm, "", width_now);
    rows.push(Row::new("norm", "LayerNormalization", shape, norm));
    let hf_config = Some(json!({
            "model_type": "swin",
            "image_size": [image[0], image[1]],
            "patch_size": patch,
            "num_channels": image[2],
            "embed_dim": embed,
            "depths": depths,
            "num_heads": heads,
            "window_size": window,
            "mlp_ratio": mlp_ratio,
            "qkv_bias": qkv_bias,
            "hidden_dropout_prob": dropout,
            "attention_probs_dropout_prob": attention_dropout,
            "drop_path_rate": drop_path,
            "hidden_act": "gelu",
    }));
    Ok(Backbone {
        embed_dim: embed,
        ..Backbone::untokenized(hf_config, rows, width_now, &["input_layer"])
    })
}

/// keras-hub's `patch_norm=False`: no norm on the patch embeddings.
pub fn twin_edit(a: &Args) -> Result<super::TwinEdit> {
    let patch_norm = a.flag_or("patch_norm", true)?;
    Ok(Box::new(move |arch: &mut TransformerArch| {
        if let Some(s) = arch.details.swin.as_mut() {
            s.patch_norm = patch_norm;
        }
    }))
}

/// SwinTransformerImageClassifier's rows: the backbone's input, the backbone as one row,
/// then `output_dropout` and `predictions` on the mean of the tokens.
pub fn classifier_rows(b: &Backbone, name: &str, a: &Args) -> Result<Vec<Row>> {
    let classes = a.dim("num_classes")?;
    let mut rows = b.rows.clone();
    let features = rows.split_off(1);
    let output_shape = features.last().and_then(|r| r.output_shape.clone());
    rows.push(Row {
        name: name.to_string(),
        class_name: "SwinTransformerBackbone".to_string(),
        output_shape,
        weights: features.into_iter().flat_map(|r| r.weights).collect(),
        nested: true,
    });
    let pooled = |width: u64| Some(OutputShape::Single(vec![None, Some(width)]));
    rows.push(Row {
        output_shape: pooled(b.hidden),
        ..Row::new("output_dropout", "Dropout", Vec::new(), Vec::new())
    });
    let mut w = Vec::new();
    dense(&mut w, "", b.hidden, classes, true);
    rows.push(Row {
        output_shape: pooled(classes),
        ..Row::new("predictions", "Dense", Vec::new(), w)
    });
    Ok(rows)
}

/// A list of positive integers under `key`.
pub(super) fn list(a: &Args, key: &str) -> Result<Vec<u64>> {
    let v = a.config.get(key).unwrap_or(&Value::Null);
    v.as_array()
        .and_then(|items| {
            items
                .iter()
                .map(crate::layers::positive_int)
                .collect::<Option<Vec<u64>>>()
        })
        .ok_or_else(|| {
            Error::invalid(
                a.location,
                format!(
                    "{} config key '{key}' must be a list of positive integers, got {v}",
                    a.class_name
                ),
            )
        })
}
