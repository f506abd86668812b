//! keras-hub's MiTBackbone (the Mix Transformer), SegFormerBackbone and
//! SegFormerImageSegmenter.
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
//!
//! SegFormerBackbone calls a functional model of the MiT's levels (`functional`, one row)
//! on a new input, projects each level with a biased `linear_{width}` Dense to
//! `projection_filters` (rows deepest level first), resizes them to the first level's size
//! (one shared `resizing`), concatenates them (deepest first) and fuses them with a
//! Sequential of a bias-free 1×1 convolution, a BatchNormalization and a relu. The
//! segmenter adds a dropout, a biased 1×1 convolution to `num_classes` and a resizing to
//! the image; those layers are unnamed, so their names count the Dropout and Conv2D
//! layers the MiT built before them (two dropouts per block; a convolution per level and
//! per block with `sr_ratio > 1`, and the fusing one).
//! Mirrors: `keras_hub/src/models/mit/` (mit_backbone.py, mit_layers.py) and
//! `keras_hub/src/models/segformer/` of keras-hub 0.32, whose MixFFN assumes square
//! feature maps.
//!
//!
//! A MiTBackbone's memory runs as the transformers twin (`segformer`, `SegformerModel`:
//! the same weights, `mlp_ratios` 4), where it differs from keras-hub: keras-hub computes
//! attention eagerly, which the twin runs as SDPA unless `--attn eager`; the twin's
//! stages end in a `(batch, width, H, W)` copy where keras-hub reshapes to channels-last.
//! SegFormerBackbone and SegFormerImageSegmenter add the all-MLP decoder: the twin's
//! encoder with transformers' `SegformerDecodeHead` (the same weights; BatchNorm's
//! moving statistics are buffers), up to the fused map the backbone returns, or with the
//! classifier, the logits resized to the image and the cross-entropy over the pixels
//! that `SegformerForSemanticSegmentation` computes for the segmenter.
use serde_json::{json, Value};

use super::blocks::{dense, layer_norm, Args, Row};
use super::swin::list;
use super::vit::ints;
use super::{config_of, registered_class, Backbone};
use crate::arch::TransformerArch;
use crate::error::{Error, Result};
use crate::formats::hf::segformer::DecodeHead;
use crate::shape::Shape;
use crate::summary::OutputShape;
use crate::weight::{dim, Weight};

/// A MiT's rows and what a SegFormer built on it needs.
struct Mit {
    rows: Vec<Row>,
    image: Vec<u64>,
    /// Each level's output: height, width, channels.
    levels: Vec<[u64; 3]>,
    /// The Dropout and Conv2D layers it builds (for the segmenter's automatic names).
    dropouts: u64,
    convs: u64,
    /// The transformers `segformer` config of the same encoder.
    hf_config: Value,
}

pub fn backbone(a: &Args) -> Result<Backbone> {
    let mit = mit(a)?;
    let hidden = mit.levels.last().map_or(0, |l| l[2]);
    Ok(Backbone::untokenized(
        Some(mit.hf_config),
        mit.rows,
        hidden,
        &["input_layer"],
    ))
}

fn mit(a: &Args) -> Result<Mit> {
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
    let mut out = Mit {
        rows: Vec::new(),
        image: image.clone(),
        levels: Vec::new(),
        dropouts: 0,
        convs: 0,
        hf_config: json!({
            "model_type": "segformer",
            "image_size": [image[0], image[1]],
            "num_channels": image[2],
            "num_encoder_blocks": levels,
            "depths": depths[..levels],
            "sr_ratios": srs[..levels],
            "hidden_sizes": widths[..levels],
            "patch_sizes": patches[..levels],
            "strides": strides[..levels],
            "num_attention_heads": heads[..levels],
            "mlp_ratios": vec![4; levels],
            "drop_path_rate": a.float_or("max_drop_path_rate", 0.1)?,
            "hidden_act": "gelu",
        }),
    };
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
            out.dropouts += 2;
            out.convs += u64::from(srs[i] > 1);
        }
        out.convs += 1;
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
        out.levels.push([next_h, next_w, d]);
    }
    out.rows = rows;
    Ok(out)
}

/// SegFormerBackbone: its rows and the MiT it was built on.
fn segformer(a: &Args) -> Result<(Vec<Row>, Mit)> {
    let encoder = a.config.get("image_encoder").unwrap_or(&Value::Null);
    if registered_class(encoder) != Some("MiTBackbone") {
        return Err(Error::invalid(
            a.location,
            format!(
                "{} config key 'image_encoder' must be a serialized keras-hub MiTBackbone",
                a.class_name
            ),
        ));
    }
    let mit = mit(&Args {
        config: config_of(encoder, "MiTBackbone", a.location)?,
        class_name: "MiTBackbone",
        location: a.location,
    })?;
    let filters = a.dim("projection_filters")?;
    let image: Shape = std::iter::once(None)
        .chain(mit.image.iter().copied().map(Some))
        .collect();
    let mut rows = vec![
        Row::new("input_layer_1", "InputLayer", image, Vec::new()),
        Row {
            name: "functional".to_string(),
            class_name: "Functional".to_string(),
            // a dict of every level's output
            output_shape: None,
            weights: mit.rows.iter().flat_map(|r| r.weights.clone()).collect(),
            nested: true,
        },
    ];
    for &[h, w, d] in mit.levels.iter().rev() {
        let mut weights = Vec::new();
        dense(&mut weights, "", d, filters, true);
        rows.push(Row::new(
            format!("linear_{d}"),
            "Dense",
            vec![None, Some(h), Some(w), Some(filters)],
            weights,
        ));
    }
    let [h, w, _] = mit.levels[0];
    let map = |c: u64| -> Shape { vec![None, Some(h), Some(w), Some(c)] };
    let levels = mit.levels.len() as u64;
    rows.push(Row::new("resizing", "Resizing", map(filters), Vec::new()));
    rows.push(Row::new(
        "concatenate",
        "Concatenate",
        map(filters * levels),
        Vec::new(),
    ));
    let mut fuse = vec![Weight::new(
        "conv2d/kernel",
        vec![
            dim(1, "1"),
            dim(1, "1"),
            dim(filters * levels, "levels·filters"),
            dim(filters, "filters"),
        ],
    )];
    for (name, frozen) in [
        ("gamma", false),
        ("beta", false),
        ("moving_mean", true),
        ("moving_variance", true),
    ] {
        let w = Weight::new(
            format!("batch_normalization/{name}"),
            vec![dim(filters, "filters")],
        );
        fuse.push(if frozen { w.frozen() } else { w });
    }
    rows.push(Row::new("sequential", "Sequential", map(filters), fuse));
    Ok((rows, mit))
}

pub fn segformer_backbone(a: &Args) -> Result<Backbone> {
    let (rows, mit) = segformer(a)?;
    let hidden = a.dim("projection_filters")?;
    Ok(Backbone::untokenized(
        Some(mit.hf_config),
        rows,
        hidden,
        &["input_layer"],
    ))
}

/// SegFormerBackbone's decoder on the twin's encoder: transformers' decode head up to its
/// fused map (what the backbone returns).
pub fn segformer_twin_edit(a: &Args) -> Result<super::TwinEdit> {
    decode_head_edit(a.dim("projection_filters")?, None)
}

/// SegFormerImageSegmenter (`a`, its backbone's serialized `backbone`): the whole decode
/// head, `SegformerForSemanticSegmentation`'s.
pub fn segmenter_twin_edit(a: &Args, backbone: &Value) -> Result<super::TwinEdit> {
    let classes = a.dim("num_classes")?;
    let b = Args {
        config: config_of(backbone, "SegFormerBackbone", a.location)?,
        class_name: "SegFormerBackbone",
        location: a.location,
    };
    decode_head_edit(b.dim("projection_filters")?, Some(classes))
}

fn decode_head_edit(width: u64, classes: Option<u64>) -> Result<super::TwinEdit> {
    Ok(Box::new(move |arch: &mut TransformerArch| {
        if let Some(s) = arch.details.segformer.as_mut() {
            s.decode_head = Some(DecodeHead { width, classes });
        }
    }))
}

/// SegFormerImageSegmenter's rows: the backbone's input, the backbone as one row, a
/// dropout, the 1×1 classifying convolution and the resizing to the image.
/// MiTImageClassifier's rows (keras-hub's ImageClassifier): the backbone's input, the
/// backbone as one row, then `pooler` (avg or max over the last stage's map),
/// `output_dropout` and `predictions`.
pub fn classifier_rows(b: &Backbone, name: &str, a: &Args) -> Result<Vec<Row>> {
    let classes = a.dim("num_classes")?;
    let pooler = match a.config.get("pooling").and_then(Value::as_str) {
        None | Some("avg") => "GlobalAveragePooling2D",
        Some("max") => "GlobalMaxPooling2D",
        Some(other) => {
            return Err(Error::invalid(
                a.location,
                format!(
                    "MiTImageClassifier config key 'pooling' must be avg or max, got '{other}'"
                ),
            ))
        }
    };
    a.float_or("dropout", 0.0)?;
    let mut rows = b.rows.clone();
    let features = rows.split_off(1);
    let output_shape = features.last().and_then(|r| r.output_shape.clone());
    rows.push(Row {
        name: name.to_string(),
        class_name: "MiTBackbone".to_string(),
        output_shape,
        weights: features.into_iter().flat_map(|r| r.weights).collect(),
        nested: true,
    });
    let pooled = |width: u64| Some(OutputShape::Single(vec![None, Some(width)]));
    for (row, class) in [("pooler", pooler), ("output_dropout", "Dropout")] {
        rows.push(Row {
            output_shape: pooled(b.hidden),
            ..Row::new(row, class, Vec::new(), Vec::new())
        });
    }
    let mut w = Vec::new();
    dense(&mut w, "", b.hidden, classes, true);
    rows.push(Row {
        output_shape: pooled(classes),
        ..Row::new("predictions", "Dense", Vec::new(), w)
    });
    Ok(rows)
}

pub fn segmenter_rows(name: &str, backbone: &Value, a: &Args) -> Result<Vec<Row>> {
    let classes = a.dim("num_classes")?;
    let b = Args {
        config: config_of(backbone, "SegFormerBackbone", a.location)?,
        class_name: "SegFormerBackbone",
        location: a.location,
    };
    let (mut rows, mit) = segformer(&b)?;
    let filters = b.dim("projection_filters")?;
    let features = rows.split_off(1);
    let [h, w, _] = mit.levels[0];
    let map =
        |h: u64, w: u64, c: u64| Some(OutputShape::Single(vec![None, Some(h), Some(w), Some(c)]));
    rows.push(Row {
        name: name.to_string(),
        class_name: "SegFormerBackbone".to_string(),
        output_shape: map(h, w, filters),
        weights: features.into_iter().flat_map(|r| r.weights).collect(),
        nested: true,
    });
    rows.push(Row {
        output_shape: map(h, w, filters),
        ..Row::new(
            format!("dropout_{}", mit.dropouts),
            "Dropout",
            Vec::new(),
            Vec::new(),
        )
    });
    let mut conv = vec![Weight::new(
        "kernel",
        vec![
            dim(1, "1"),
            dim(1, "1"),
            dim(filters, "filters"),
            dim(classes, "classes"),
        ],
    )];
    conv.push(Weight::new("bias", vec![dim(classes, "classes")]));
    rows.push(Row {
        output_shape: map(h, w, classes),
        ..Row::new(
            format!("conv2d_{}", mit.convs + 1),
            "Conv2D",
            Vec::new(),
            conv,
        )
    });
    rows.push(Row {
        output_shape: map(mit.image[0], mit.image[1], classes),
        ..Row::new("resizing_1", "Resizing", Vec::new(), Vec::new())
    });
    Ok(rows)
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
