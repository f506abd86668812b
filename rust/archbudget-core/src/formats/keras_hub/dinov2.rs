//! keras-hub's DINOV2Backbone (DINOv2, with or without register tokens).
//!
//! Computes: `DINOV2Embedding` (a patch convolution, kernel = stride = patch; a class
//! token before the patches, learned positions added, register tokens put after the
//! class token, a dropout), `DINOV2Encoder` (N pre-norm blocks `layers_{i}`: `norm1` →
//! `attention` → `layer_scale1` → drop-path residual, `norm2` → `mlp` → `layer_scale2` →
//! residual) and a final `layernorm`.
//! Weights: the embedding holds `cls_token`, `mask_token` (when `use_mask_token`),
//! `register_tokens`, the biased patch convolution, the position table of the pretrained
//! geometry (`position_embedding_shape`, non-trainable) and the table interpolated from it
//! to `image_shape` (trainable); each block two LayerNorms, a biased
//! `keras.layers.MultiHeadAttention` (`key_dim = hidden // heads`), two `lambda1` layer
//! scales and a biased MLP: `fc1`, `fc2`, or with `use_swiglu_ffn` `weights_in` (hidden →
//! 2a) and `weights_out` (a → hidden), a = `(int(intermediate * 2 / 3) + 7) // 8 * 8`.
//! Mirrors: `keras_hub/src/models/dinov2/` (dinov2_backbone.py, dinov2_layers.py) of
//! keras-hub 0.32. Layer names are those of a model built without a `name` (keras-hub
//! prefixes them with the name when it is given one), as the CLIP encoders' are.
//!
//! The transformers twin is dinov2 (dinov2_with_registers with register tokens) at
//! `image_size` = the image side, whose one position table is keras-hub's interpolated
//! one ([`twin_edit`] sets keras-hub's MLP width and mask token where transformers'
//! `mlp_ratio` and registers config cannot say them). What the memory model takes from
//! the twin: keras-hub's frozen table of the pretrained geometry is not held (it is no
//! parameter of the PyTorch model: `memory`'s params are the trainable ones), and
//! `apply_layernorm` (a norm on the intermediate outputs only) and drop-path are left out.
use serde_json::json;

use super::blocks::{attention, dense, layer_norm, Args, Heads, Row};
use super::vit::ints;
use super::Backbone;
use crate::arch::TransformerArch;
use crate::error::{Error, Result};
use crate::shape::Shape;
use crate::weight::{dim, Weight};

pub fn backbone(a: &Args) -> Result<Backbone> {
    let patch = a.dim("patch_size")?;
    let layers = a.dim("num_layers")?;
    let hidden = a.dim("hidden_dim")?;
    let heads = a.dim("num_heads")?;
    let inter = a.dim("intermediate_dim")?;
    let registers = a.count_or("num_register_tokens", 0)?;
    let mask_token = a.flag_or("use_mask_token", true)?;
    let image = shape_or(a, "image_shape", [224, 224, 3])?;
    let pretrained = shape_or(a, "position_embedding_shape", [518, 518, 3])?;
    if image[0] != image[1] {
        return Err(Error::invalid(
            a.location,
            format!(
                "{} config: image_shape {image:?} must be square (keras-hub requires it)",
                a.class_name
            ),
        ));
    }
    let table = |shape: &[u64]| (shape[0] / patch) * (shape[1] / patch) + 1;
    let token = |name: &str, n: u64| {
        Weight::new(
            name,
            vec![dim(1, "1"), dim(n, "tokens"), dim(hidden, "hidden")],
        )
    };
    let mut embed = vec![token("cls_token", 1)];
    if mask_token {
        embed.push(Weight::new(
            "mask_token",
            vec![dim(1, "1"), dim(hidden, "hidden")],
        ));
    }
    if registers > 0 {
        embed.push(token("register_tokens", registers));
    }
    embed.push(Weight::new(
        "patch_embeddings/projection/kernel",
        vec![
            dim(patch, "patch"),
            dim(patch, "patch"),
            dim(image[2], "channels"),
            dim(hidden, "hidden"),
        ],
    ));
    embed.push(Weight::new(
        "patch_embeddings/projection/bias",
        vec![dim(hidden, "hidden")],
    ));
    embed.push(token("position_embeddings", table(&pretrained)).frozen());
    embed.push(token("interpolated_position_embeddings", table(&image)));

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
    let swiglu = a.flag_or("use_swiglu_ffn", false)?;
    let mut encoder = Vec::new();
    for i in 0..layers {
        let block = format!("layers_{i}");
        layer_norm(&mut encoder, &format!("{block}/norm1"), hidden);
        attention(
            &mut encoder,
            &format!("{block}/attention/attention"),
            h,
            true,
            true,
        );
        layer_norm(&mut encoder, &format!("{block}/norm2"), hidden);
        if swiglu {
            let actual = swiglu_width(inter);
            dense(
                &mut encoder,
                &format!("{block}/mlp/weights_in"),
                hidden,
                2 * actual,
                true,
            );
            dense(
                &mut encoder,
                &format!("{block}/mlp/weights_out"),
                actual,
                hidden,
                true,
            );
        } else {
            dense(
                &mut encoder,
                &format!("{block}/mlp/fc1"),
                hidden,
                inter,
                true,
            );
            dense(
                &mut encoder,
                &format!("{block}/mlp/fc2"),
                inter,
                hidden,
                true,
            );
        }
        for scale in ["layer_scale1", "layer_scale2"] {
            encoder.push(Weight::new(
                format!("{block}/{scale}/lambda1"),
                vec![dim(hidden, "hidden")],
            ));
        }
    }
    // 1 + registers + (side / patch)², as `compute_output_shape` squares the height's count
    let slots = Some(1 + registers + (image[0] / patch) * (image[0] / patch));
    let tokens: Shape = vec![None, slots, Some(hidden)];
    let input: Shape = std::iter::once(None)
        .chain(image.iter().copied().map(Some))
        .collect();
    let mut final_norm = Vec::new();
    layer_norm(&mut final_norm, "", hidden);
    let rows = vec![
        Row::new("images", "InputLayer", input, Vec::new()),
        Row::new("embeddings", "DINOV2Embedding", tokens.clone(), embed),
        // the encoder returns the sequence and a dict of every block's output
        Row {
            output_shape: None,
            ..Row::new("encoder", "DINOV2Encoder", Vec::new(), encoder)
        },
        Row::new("layernorm", "LayerNormalization", tokens, final_norm),
    ];
    let mut hf = json!({
        "model_type": if registers > 0 { "dinov2_with_registers" } else { "dinov2" },
        "hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
        "mlp_ratio": (inter / hidden).max(1), "image_size": image[0], "patch_size": patch,
        "num_channels": image[2], "use_swiglu_ffn": swiglu,
        "hidden_dropout_prob": a.float_or("dropout_rate", 0.0)?,
    });
    match registers {
        0 => hf["use_mask_token"] = mask_token.into(),
        n => hf["num_register_tokens"] = n.into(),
    }
    Ok(Backbone::untokenized(Some(hf), rows, hidden, &["images"]))
}

/// The twin's MLP width is keras-hub's `intermediate_dim` (transformers sizes it from an
/// integer `mlp_ratio`) and its mask token is there when `use_mask_token` (transformers'
/// registers model always holds one).
pub fn twin_edit(a: &Args) -> Result<super::TwinEdit> {
    let inter = a.dim("intermediate_dim")?;
    let swiglu = a.flag_or("use_swiglu_ffn", false)?;
    let mask_token = a.flag_or("use_mask_token", true)?;
    Ok(Box::new(move |arch: &mut TransformerArch| {
        arch.intermediate_size = match swiglu {
            true => swiglu_width(inter),
            false => inter,
        };
        if let Some(tokens) = arch.details.dinov2.as_mut() {
            tokens.mask_token = mask_token;
        }
    }))
}

/// The SwiGLU MLP's width, as keras-hub and transformers size it from `inter`.
fn swiglu_width(inter: u64) -> u64 {
    (inter * 2 / 3).div_ceil(8) * 8
}

/// `[height, width, channels]` under `key`, or keras-hub's default.
pub(super) fn shape_or(a: &Args, key: &str, default: [u64; 3]) -> Result<Vec<u64>> {
    match a.config.get(key) {
        None | Some(serde_json::Value::Null) => Ok(default.to_vec()),
        Some(_) => ints(a, key, 3),
    }
}
