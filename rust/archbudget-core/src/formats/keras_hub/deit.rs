//! keras-hub's DeiTBackbone and DeiTImageClassifier.
//!
//! Computes: `DeiTEmbeddings` (a patch convolution, kernel = stride = patch, a class token
//! and a distillation token before the patches, learned positions for every slot, a
//! dropout), then `DeiTEncoder` (N pre-norm blocks `transformer_block_{i}`: `ln_1` →
//! `mha` → residual, `ln_2` → `mlp` (gelu Dense) → `output_layer` (Dense, dropout,
//! residual), and a final `ln`). The classifier takes the class token (`pooling="token"`)
//! or the mean of the slots (`"gap"`) into `predictions`; its `output_dropout` is made
//! but never called, so it is no layer of the model.
//! Weights: `mha` is `keras.layers.MultiHeadAttention` with `key_dim = hidden // heads`
//! (biases, the output's included, when `use_mha_bias`); the patch convolution and the
//! MLP's Dense layers are always biased.
//! Mirrors: `keras_hub/src/models/deit/` (deit_backbone.py, deit_layers.py,
//! deit_image_classifier.py) of keras-hub 0.32.
//!
//! The transformers twin is deit (`DeiTModel` without its pooler, as
//! `DeiTForImageClassification` builds it); without `use_mha_bias` its output projection
//! loses its bias too ([`twin_edit`]), which transformers' `qkv_bias` leaves biased. What
//! the memory model takes from transformers' block: its dropout after the attention
//! output, which keras-hub's block does not apply (with `dropout_rate` > 0).
use serde_json::{json, Value};

use super::blocks::{attention, dense, layer_norm, Args, Heads, Row};
use super::vit::PatchGrid;
use super::Backbone;
use crate::arch::TransformerArch;
use crate::error::{Error, Result};
use crate::shape::Shape;
use crate::summary::OutputShape;
use crate::weight::{dim, Weight};

pub fn backbone(a: &Args) -> Result<Backbone> {
    let layers = a.dim("num_layers")?;
    let heads = a.dim("num_heads")?;
    let hidden = a.dim("hidden_dim")?;
    let inter = a.dim("intermediate_dim")?;
    let PatchGrid {
        height,
        width,
        channels,
        patch,
    } = PatchGrid::read(a)?;
    let mha_bias = a.flag_or("use_mha_bias", true)?;
    let slots = (height / patch.0) * (width / patch.1) + 2;
    let token =
        |name: &str| Weight::new(name, vec![dim(1, "1"), dim(1, "1"), dim(hidden, "hidden")]);
    let embed = vec![
        token("class_token"),
        token("distillation_token"),
        Weight::new(
            "patch_embedding/kernel",
            vec![
                dim(patch.0, "patch_h"),
                dim(patch.1, "patch_w"),
                dim(channels, "channels"),
                dim(hidden, "hidden"),
            ],
        ),
        Weight::new("patch_embedding/bias", vec![dim(hidden, "hidden")]),
        Weight::new(
            "position_embedding",
            vec![dim(1, "1"), dim(slots, "slots"), dim(hidden, "hidden")],
        ),
    ];
    let head_dim = a.per_head(("hidden_dim", hidden), ("num_heads", heads))?;
    let h = Heads {
        hidden,
        q: heads,
        kv: heads,
        head_dim,
    };
    let mut encoder = Vec::new();
    for i in 1..=layers {
        let block = format!("transformer_block_{i}");
        layer_norm(&mut encoder, &format!("{block}/ln_1"), hidden);
        attention(&mut encoder, &format!("{block}/mha"), h, mha_bias, mha_bias);
        layer_norm(&mut encoder, &format!("{block}/ln_2"), hidden);
        dense(
            &mut encoder,
            &format!("{block}/mlp/dense"),
            hidden,
            inter,
            true,
        );
        dense(
            &mut encoder,
            &format!("{block}/output_layer/output"),
            inter,
            hidden,
            true,
        );
    }
    layer_norm(&mut encoder, "ln", hidden);

    let tokens: Shape = vec![None, Some(slots), Some(hidden)];
    let input: Shape = std::iter::once(None)
        .chain([height, width, channels].map(Some))
        .collect();
    let rows = vec![
        Row::new("input_layer", "InputLayer", input, Vec::new()),
        Row::new(
            "deit_patching_and_embedding",
            "DeiTEmbeddings",
            tokens,
            embed,
        ),
        // the encoder returns (sequence, hidden states, scores): no single shape
        Row {
            output_shape: None,
            ..Row::new("deit_encoder", "DeiTEncoder", Vec::new(), encoder)
        },
    ];
    let dropout = a.float_or("dropout_rate", 0.0)?;
    let attention_dropout = a.float_or("attention_dropout", 0.0)?;
    let hf_config = Some(json!({
            "model_type": "deit",
            "hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
            "intermediate_size": inter, "hidden_act": "gelu",
            "image_size": [height, width], "patch_size": [patch.0, patch.1],
            "num_channels": channels, "qkv_bias": mha_bias,
            "hidden_dropout_prob": dropout, "attention_probs_dropout_prob": attention_dropout,
    }));
    Ok(Backbone::untokenized(
        hf_config,
        rows,
        hidden,
        &["input_layer"],
    ))
}

/// DeiTImageClassifier's rows: the backbone's input, the backbone as one row (its output
/// the token sequence), then `predictions`.
pub fn classifier_rows(b: &Backbone, name: &str, a: &Args) -> Result<Vec<Row>> {
    let classes = a.dim("num_classes")?;
    match a.config.get("pooling").and_then(Value::as_str) {
        None | Some("token" | "gap") => {}
        Some(other) => {
            return Err(Error::invalid(
                a.location,
                format!(
                    "{} config key 'pooling' must be token or gap, got '{other}'",
                    a.class_name
                ),
            ))
        }
    }
    let mut rows = b.rows.clone();
    let features = rows.split_off(1);
    let output_shape = features.first().and_then(|r| r.output_shape.clone());
    rows.push(Row {
        name: name.to_string(),
        class_name: "DeiTBackbone".to_string(),
        output_shape,
        weights: features.into_iter().flat_map(|r| r.weights).collect(),
        nested: true,
    });
    let mut w = Vec::new();
    dense(&mut w, "", b.hidden, classes, true);
    rows.push(Row {
        output_shape: Some(OutputShape::Single(vec![None, Some(classes)])),
        ..Row::new("predictions", "Dense", Vec::new(), w)
    });
    Ok(rows)
}

/// The twin `DeiTModel(add_pooling_layer=False)`; keras-hub's `use_mha_bias=False` drops
/// the attention output's bias with q/k/v's.
pub fn twin_edit(a: &Args) -> Result<super::TwinEdit> {
    let mha_bias = a.flag_or("use_mha_bias", true)?;
    Ok(Box::new(move |arch: &mut TransformerArch| {
        super::vit::without_pooler(arch);
        arch.o_bias = mha_bias;
    }))
}
