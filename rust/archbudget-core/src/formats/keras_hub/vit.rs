//! keras-hub's ViTBackbone and ViTImageClassifier.
//!
//! Computes: `ViTPatchingAndEmbedding` (a patch convolution, kernel = stride = patch, a
//! class token when `use_class_token`, learned positions for every slot), then
//! `ViTEncoder` (a dropout, N pre-norm blocks `transformer_block_{i}`: `ln_1` → `mha` →
//! dropout, `ln_2` → `mlp`, and a final `ln`). The classifier takes the class token
//! (`pooling="token"`) or the mean of the slots (`"gap"`), an optional tanh `pre_logits`
//! Dense, a dropout and `predictions`.
//! Weights: `mha` is `keras.layers.MultiHeadAttention` with `key_dim = hidden // heads`
//! (biases when `use_mha_bias`), the MLP's two Dense biased when `use_mlp_bias`, the patch
//! convolution biased when `use_patch_bias`.
//! Mirrors: `keras_hub/src/models/vit/` (vit_backbone.py, vit_layers.py,
//! vit_image_classifier.py) of keras-hub 0.32.
//!
//! The transformers twin is vit (`ViTModel` without its pooler, as
//! `ViTForImageClassification` builds it), edited where keras-hub's options go beyond it
//! ([`twin_edit`]): no class token (`use_class_token=False`: positions are added to the
//! patches, no cat), unbiased patch convolution, attention or MLP, and a head count that
//! does not divide the width (keras-hub floors the key width; q/k/v are `heads × key_dim`
//! wide). What the memory model takes from transformers' block: keras-hub's MLP applies
//! its dropout after `dense_1`'s activation too, where transformers has none.
use serde_json::{json, Value};

use super::blocks::{attention, dense, layer_norm, Args, Heads, Row};
use super::Backbone;
use crate::arch::{Position, TransformerArch};
use crate::error::{Error, Result};
use crate::shape::Shape;
use crate::summary::OutputShape;
use crate::weight::{dim, Weight};

pub fn backbone(a: &Args) -> Result<Backbone> {
    let layers = a.dim("num_layers")?;
    let heads = a.dim("num_heads")?;
    let hidden = a.dim("hidden_dim")?;
    let mlp = a.dim("mlp_dim")?;
    let PatchGrid {
        height,
        width,
        channels,
        patch,
    } = PatchGrid::read(a)?;
    let class_token = a.flag_or("use_class_token", true)?;
    let patch_bias = a.flag_or("use_patch_bias", true)?;
    let mha_bias = a.flag_or("use_mha_bias", true)?;
    let mlp_bias = a.flag_or("use_mlp_bias", true)?;
    let patches = (height / patch.0) * (width / patch.1);
    let slots = patches + u64::from(class_token);

    let mut embed = Vec::new();
    if class_token {
        embed.push(Weight::new(
            "class_token",
            vec![dim(1, "1"), dim(1, "1"), dim(hidden, "hidden")],
        ));
    }
    embed.push(Weight::new(
        "patch_embedding/kernel",
        vec![
            dim(patch.0, "patch_h"),
            dim(patch.1, "patch_w"),
            dim(channels, "channels"),
            dim(hidden, "hidden"),
        ],
    ));
    if patch_bias {
        embed.push(Weight::new(
            "patch_embedding/bias",
            vec![dim(hidden, "hidden")],
        ));
    }
    embed.push(Weight::new(
        "position_embedding/embeddings",
        vec![dim(slots, "slots"), dim(hidden, "hidden")],
    ));

    // keras-hub floors the key width; transformers requires an exact split
    let head_dim = hidden / heads;
    if head_dim == 0 {
        return Err(Error::invalid(
            a.location,
            format!(
                "{} config: hidden_dim ({hidden}) is smaller than num_heads ({heads})",
                a.class_name
            ),
        ));
    }
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
            &format!("{block}/mlp/dense_1"),
            hidden,
            mlp,
            mlp_bias,
        );
        dense(
            &mut encoder,
            &format!("{block}/mlp/dense_2"),
            mlp,
            hidden,
            mlp_bias,
        );
    }
    layer_norm(&mut encoder, "ln", hidden);

    let tokens: Shape = vec![None, Some(slots), Some(hidden)];
    let rows = vec![
        Row::new(
            "images",
            "InputLayer",
            std::iter::once(None)
                .chain([height, width, channels].map(Some))
                .collect(),
            Vec::new(),
        ),
        Row::new(
            "vit_patching_and_embedding",
            "ViTPatchingAndEmbedding",
            tokens.clone(),
            embed,
        ),
        Row::new("vit_encoder", "ViTEncoder", tokens, encoder),
    ];
    let dropout = a.float_or("dropout_rate", 0.0)?;
    let attention_dropout = a.float_or("attention_dropout", 0.0)?;
    let hf_config = Some(json!({
            "model_type": "vit",
            "hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
            "intermediate_size": mlp, "hidden_act": "gelu",
            "image_size": [height, width], "patch_size": [patch.0, patch.1],
            "num_channels": channels, "qkv_bias": mha_bias,
            "hidden_dropout_prob": dropout, "attention_probs_dropout_prob": attention_dropout,
    }));
    Ok(Backbone::untokenized(hf_config, rows, hidden, &["images"]))
}

/// The twin `ViTModel(add_pooling_layer=False)` with keras-hub's options: the class
/// token, the patch, attention output (q/k/v's follow `qkv_bias`) and MLP biases.
pub fn twin_edit(a: &Args) -> Result<super::TwinEdit> {
    let class_token = a.flag_or("use_class_token", true)?;
    let patch_bias = a.flag_or("use_patch_bias", true)?;
    let mha_bias = a.flag_or("use_mha_bias", true)?;
    let mlp_bias = a.flag_or("use_mlp_bias", true)?;
    Ok(Box::new(move |arch: &mut TransformerArch| {
        without_pooler(arch);
        if let Some(v) = arch.vision.as_mut() {
            v.class_tokens = u64::from(class_token);
            v.patch_bias = patch_bias;
            arch.max_positions = v.num_patches + v.class_tokens;
            arch.position = Position::Learned {
                rows: arch.max_positions,
            };
        }
        arch.o_bias = mha_bias;
        arch.mlp_bias = mlp_bias;
    }))
}

/// keras-hub's ViT and DeiT have no pooler: the twin is `add_pooling_layer=False`.
pub fn without_pooler(a: &mut TransformerArch) {
    a.pooler = None;
}

/// ViTImageClassifier's rows: the backbone's input, the backbone as one row, then the
/// head its constructor builds.
pub fn classifier_rows(b: &Backbone, class: &str, name: &str, a: &Args) -> Result<Vec<Row>> {
    let classes = a.dim("num_classes")?;
    match a.config.get("pooling").and_then(Value::as_str) {
        None | Some("token" | "gap") => {}
        Some(other) => {
            return Err(Error::invalid(
                a.location,
                format!("{class} config key 'pooling' must be token or gap, got '{other}'"),
            ))
        }
    }
    a.float_or("dropout", 0.0)?;
    let mut rows = b.rows.clone();
    let features = rows.split_off(1);
    let output_shape = features.last().and_then(|r| r.output_shape.clone());
    rows.push(Row {
        name: name.to_string(),
        class_name: "ViTBackbone".to_string(),
        output_shape,
        weights: features.into_iter().flat_map(|r| r.weights).collect(),
        nested: true,
    });
    let pooled = |width: u64| Some(OutputShape::Single(vec![None, Some(width)]));
    let mut width = b.hidden;
    if let Some(inter) = a.dim_opt("intermediate_dim")? {
        let mut w = Vec::new();
        dense(&mut w, "", width, inter, true);
        rows.push(Row {
            output_shape: pooled(inter),
            ..Row::new("pre_logits", "Dense", Vec::new(), w)
        });
        width = inter;
    }
    rows.push(Row {
        output_shape: pooled(width),
        ..Row::new("output_dropout", "Dropout", Vec::new(), Vec::new())
    });
    let mut w = Vec::new();
    dense(&mut w, "", width, classes, true);
    rows.push(Row {
        output_shape: pooled(classes),
        ..Row::new("predictions", "Dense", Vec::new(), w)
    });
    Ok(rows)
}

/// A list of `n` positive integers under `key`.
/// A ViT-style image and its patch grid as keras-hub checks them: `image_shape` channels
/// last (`get_config` does not keep `data_format`, so a JSON rebuilds as that) and a
/// square or `[h, w]` `patch_size` that divides it.
pub(super) struct PatchGrid {
    pub height: u64,
    pub width: u64,
    pub channels: u64,
    pub patch: (u64, u64),
}

impl PatchGrid {
    pub(super) fn read(a: &Args) -> Result<PatchGrid> {
        let image = ints(a, "image_shape", 3)?;
        let (height, width, channels) = (image[0], image[1], image[2]);
        let patch = match a.config.get("patch_size") {
            Some(Value::Array(_)) => {
                let p = ints(a, "patch_size", 2)?;
                (p[0], p[1])
            }
            _ => {
                let p = a.dim("patch_size")?;
                (p, p)
            }
        };
        if height % patch.0 != 0 || width % patch.1 != 0 {
            return Err(Error::invalid(
                a.location,
                format!(
                    "{} config: image {height}x{width} does not split into {}x{} patches (keras-hub requires it)",
                    a.class_name, patch.0, patch.1
                ),
            ));
        }
        Ok(PatchGrid {
            height,
            width,
            channels,
            patch,
        })
    }
}

pub(super) fn ints(a: &Args, key: &str, n: usize) -> Result<Vec<u64>> {
    let v = a.config.get(key).unwrap_or(&Value::Null);
    let items = v.as_array().filter(|items| items.len() == n).map(|items| {
        items
            .iter()
            .map(crate::layers::positive_int)
            .collect::<Option<Vec<u64>>>()
    });
    items.flatten().ok_or_else(|| {
        Error::invalid(
            a.location,
            format!(
                "{} config key '{key}' must be a list of {n} positive integers, got {v}",
                a.class_name
            ),
        )
    })
}
