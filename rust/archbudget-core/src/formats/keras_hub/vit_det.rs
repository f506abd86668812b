//! keras-hub's ViTDetBackbone (the windowed ViT image encoder of Segment Anything).
//!
//! Computes: the image normalised by ImageNet's mean and deviation (ops, no layer; a grey
//! image broadcasts to three channels),
//! `ViTDetPatchingAndEmbedding` (a biased patch convolution, kernel = stride = patch, on a
//! square image of side `img`: `s = img // patch` patches a side), `AddPositionalEmbedding`
//! (when `use_abs_pos`), N `WindowedTransformerEncoder` blocks (pre-norm attention over
//! windows of `window_size`², or over the whole grid for the layers in
//! `global_attention_layer_indices` or when `window_size` is 0, then a pre-norm GELU MLP) and
//! the `neck`, a Sequential of a 1×1 convolution, a LayerNorm, a 3×3 convolution and a
//! LayerNorm, `num_output_channels` wide, both convolutions without bias.
//! Weights: the patch convolution's kernel and bias; `pos_embed` `[1, s, s, hidden]`; each
//! block two LayerNorms, `MultiHeadAttentionWithRelativePE` (a fused `qkv` Dense
//! `hidden → 3·hidden` biased when `use_bias`, a biased `projection`, and with
//! `use_rel_pos` the tables `rel_pos_h` and `rel_pos_w` `[2·side − 1, hidden // heads]`,
//! side = the window or, for a global layer, `s`) and a biased two-Dense MLP.
//! Output shape: `[None, s, s, num_output_channels]`.
//! Mirrors: `keras_hub/src/models/vit_det/` (vit_det_backbone.py, vit_layers.py) of
//! keras-hub 0.32. Layer names are those of a model built in a fresh session (the MLPs'
//! Sequentials take `sequential` … `sequential_{N-1}`, the neck `sequential_{N}`).
//!
//! Memory: the model runs as its transformers twin `sam_vision_model` (`SamVisionModel`,
//! the same blocks, windows, global layers and neck; transformers' `vitdet` holds a class
//! position for a pretraining geometry and no neck, so it is no twin). What differs is left
//! out: keras-hub normalises the image inside the model (two elementwise ops on the pixels,
//! no weights; transformers' image processor does it before the model), so a grey image is
//! counted as the three-channel one the patch convolution reads.
use serde_json::{json, Value};

use super::blocks::{dense, layer_norm, Args, Row};
use super::vit::ints;
use super::Backbone;
use crate::error::{Error, Result};
use crate::shape::Shape;
use crate::weight::{dim, Weight};

pub fn backbone(a: &Args) -> Result<Backbone> {
    let parts = image_encoder(a)?;
    Ok(Backbone::untokenized(
        Some(parts.twin),
        parts.rows,
        parts.channels,
        &["images"],
    ))
}

/// The rows of a ViTDet image encoder and the width of its output.
pub(super) struct Encoder {
    pub rows: Vec<Row>,
    pub channels: u64,
    /// The transformers config of the same encoder (`sam_vision_model`).
    pub twin: Value,
}

pub(super) fn image_encoder(a: &Args) -> Result<Encoder> {
    let image = ints(a, "image_shape", 3)?;
    if image[0] != image[1] {
        return Err(Error::invalid(
            a.location,
            format!(
                "{} config: image_shape {image:?} must be square (keras-hub requires it)",
                a.class_name
            ),
        ));
    }
    let patch = a.dim_or("patch_size", 16)?;
    let hidden = a.dim("hidden_size")?;
    let layers = a.dim("num_layers")?;
    let inter = a.dim("intermediate_dim")?;
    let heads = a.dim("num_heads")?;
    let channels = a.dim_or("num_output_channels", 256)?;
    let window = a.count_or("window_size", 14)?;
    let global = a.count_list("global_attention_layer_indices")?;
    let qkv_bias = a.flag_or("use_bias", true)?;
    let rel_pos = a.flag_or("use_rel_pos", true)?;
    let key_dim = a.per_head(("hidden_size", hidden), ("num_heads", heads))?;
    let side = image[0] / patch;
    if side == 0 {
        return Err(Error::invalid(
            a.location,
            format!(
                "{} config: patch_size ({patch}) is larger than the image side ({})",
                a.class_name, image[0]
            ),
        ));
    }
    // the ImageNet normalisation broadcasts a grey image to three channels; other counts
    // do not broadcast and keras-hub cannot build them
    let colours = match image[2] {
        1 | 3 => 3,
        c => {
            return Err(Error::invalid(
                a.location,
                format!(
                "{} config: image_shape has {c} channels; the ImageNet normalisation takes 1 or 3",
                a.class_name
            ),
            ))
        }
    };
    let grid = |width: u64| -> Shape { vec![None, Some(side), Some(side), Some(width)] };

    let mut rows = vec![Row::new(
        "images",
        "InputLayer",
        std::iter::once(None)
            .chain(image.iter().map(|&n| Some(n)))
            .collect(),
        Vec::new(),
    )];
    let patches = vec![
        Weight::new(
            "projection/kernel",
            vec![
                dim(patch, "patch"),
                dim(patch, "patch"),
                dim(colours, "channels"),
                dim(hidden, "hidden"),
            ],
        ),
        Weight::new("projection/bias", vec![dim(hidden, "hidden")]),
    ];
    rows.push(Row::new(
        "vi_t_det_patching_and_embedding",
        "ViTDetPatchingAndEmbedding",
        grid(hidden),
        patches,
    ));
    if a.flag_or("use_abs_pos", true)? {
        let table = Weight::new(
            "pos_embed",
            vec![
                dim(1, "1"),
                dim(side, "side"),
                dim(side, "side"),
                dim(hidden, "hidden"),
            ],
        );
        rows.push(Row::new(
            "add_positional_embedding",
            "AddPositionalEmbedding",
            grid(hidden),
            vec![table],
        ));
    }
    for i in 0..layers {
        let mut w = Vec::new();
        layer_norm(&mut w, "layer_norm1", hidden);
        layer_norm(&mut w, "layer_norm2", hidden);
        dense(&mut w, "attention/qkv", hidden, 3 * hidden, qkv_bias);
        dense(&mut w, "attention/projection", hidden, hidden, true);
        if rel_pos {
            let attended = match window {
                0 => side,
                _ if global.contains(&i) => side,
                w => w,
            };
            for table in ["rel_pos_h", "rel_pos_w"] {
                w.push(Weight::new(
                    format!("attention/{table}"),
                    vec![dim(2 * attended - 1, "positions"), dim(key_dim, "key_dim")],
                ));
            }
        }
        dense(&mut w, "mlp/dense_0", hidden, inter, true);
        dense(&mut w, "mlp/dense_1", inter, hidden, true);
        let name = match i {
            0 => "windowed_transformer_encoder".to_string(),
            i => format!("windowed_transformer_encoder_{i}"),
        };
        rows.push(Row::new(
            name,
            "WindowedTransformerEncoder",
            grid(hidden),
            w,
        ));
    }
    let mut neck = vec![Weight::new(
        "conv_1x1/kernel",
        vec![
            dim(1, "1"),
            dim(1, "1"),
            dim(hidden, "hidden"),
            dim(channels, "channels"),
        ],
    )];
    layer_norm(&mut neck, "norm_1", channels);
    neck.push(Weight::new(
        "conv_3x3/kernel",
        vec![
            dim(3, "3"),
            dim(3, "3"),
            dim(channels, "channels"),
            dim(channels, "channels"),
        ],
    ));
    layer_norm(&mut neck, "norm_2", channels);
    rows.push(Row::new(
        format!("sequential_{layers}"),
        "Sequential",
        grid(channels),
        neck,
    ));
    let twin = json!({
        "model_type": "sam_vision_model",
        "image_size": image[0],
        "patch_size": patch,
        "num_channels": colours,
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "mlp_dim": inter,
        "num_attention_heads": heads,
        "output_channels": channels,
        "qkv_bias": qkv_bias,
        "use_abs_pos": a.flag_or("use_abs_pos", true)?,
        "use_rel_pos": rel_pos,
        "window_size": window,
        "global_attn_indexes": global,
        "hidden_act": "gelu",
    });
    Ok(Encoder {
        rows,
        channels,
        twin,
    })
}
