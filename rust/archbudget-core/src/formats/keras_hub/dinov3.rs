//! keras-hub's DINOV3Backbone (the DINOv3 ViT).
//!
//! Computes: `DINOV3Embedding` (a biased patch convolution, kernel = stride = patch; a
//! class token and `num_register_tokens` register tokens before the patches, no position
//! table), `DINOV3RopePositionEmbedding` (the patches' 2-D rotary angles, no weights),
//! `DINOV3Encoder` (N pre-norm blocks `layers_{i}`: `norm1` → `attention` → `layer_scale1`
//! → residual, `norm2` → `mlp` → `layer_scale2` → residual; one Keras layer holding them
//! all) and a final `layernorm`.
//! Weights: the embedding holds `cls_token`, `mask_token` (when `use_mask_token`) and
//! `register_tokens` (when any), each `[1, n, hidden]`; each block two LayerNorms, the
//! attention's `q_proj`, `k_proj`, `v_proj`, `o_proj` Dense layers `hidden → hidden` with
//! the biases `use_query_bias`, `use_key_bias`, `use_value_bias`, `use_proj_bias` ask for,
//! two `lambda1` layer scales, and an MLP of `up_proj` and `down_proj` (with
//! `use_gated_mlp`, a `gate_proj` too) biased when `use_mlp_bias`.
//! Mirrors: `keras_hub/src/models/dinov3/` (dinov3_backbone.py, dinov3_layers.py) of
//! keras-hub 0.32.
//!
//! The transformers twin is dinov3_vit (`DINOv3ViTModel`: the same weights, and the same
//! output, the final norm of every token; `apply_layernorm` norms only the pyramid
//! outputs keras-hub keeps beside the model, not what it returns), where it differs from
//! keras-hub: its `mask_token` is always built ([`twin_edit`]).
use serde_json::{json, Value};

use super::blocks::{dense, layer_norm, Args, Row};
use super::vit::ints;
use super::Backbone;
use crate::arch::TransformerArch;
use crate::error::{add, mul, Error, Result};
use crate::shape::Shape;
use crate::summary::OutputShape;
use crate::weight::{dim, Weight};

pub fn backbone(a: &Args) -> Result<Backbone> {
    let patch = a.dim("patch_size")?;
    let layers = a.dim("num_layers")?;
    let hidden = a.dim("hidden_dim")?;
    let heads = a.dim("num_heads")?;
    let inter = a.dim("intermediate_dim")?;
    let registers = a.count_or("num_register_tokens", 4)?;
    let image = match a.config.get("image_shape") {
        None | Some(Value::Null) => vec![518, 518, 3],
        Some(_) => ints(a, "image_shape", 3)?,
    };
    if image[0] < patch || image[1] < patch {
        return Err(Error::invalid(
            a.location,
            format!(
                "{} config: image_shape {image:?} must be at least patch_size ({patch}) on each side",
                a.class_name
            ),
        ));
    }
    // as `DINOV3Embedding.compute_output_shape` gives it: the height's patch count squared,
    // whatever the width (the tensor computed has `(h / p) * (w / p)` patches)
    let side = image[0] / patch;
    let what = "DINOV3Backbone token count";
    let prefix = add(1, registers, a.location, what)?;
    let tokens = add(prefix, mul(side, side, a.location, what)?, a.location, what)?;

    let token = |name: &str, n: u64| {
        Weight::new(
            name,
            vec![dim(1, "1"), dim(n, "tokens"), dim(hidden, "hidden")],
        )
    };
    let mut embed = vec![token("cls_token", 1)];
    if a.flag_or("use_mask_token", true)? {
        embed.push(token("mask_token", 1));
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

    let mut block = Vec::new();
    layer_norm(&mut block, "norm1", hidden);
    let mut hf = json!({
        "model_type": "dinov3_vit",
        "hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
        "intermediate_size": inter, "image_size": [image[0], image[1]], "patch_size": patch,
        "num_channels": image[2], "num_register_tokens": registers,
        "use_gated_mlp": a.flag_or("use_gated_mlp", false)?,
        "mlp_bias": a.flag_or("use_mlp_bias", true)?,
        "hidden_act": a.config.get("hidden_activation").and_then(Value::as_str).unwrap_or("gelu"),
        "attention_dropout": a.float_or("attention_dropout", 0.0)?,
    });
    for (proj, key, twin_key) in [
        ("q_proj", "use_query_bias", "query_bias"),
        ("k_proj", "use_key_bias", "key_bias"),
        ("v_proj", "use_value_bias", "value_bias"),
        ("o_proj", "use_proj_bias", "proj_bias"),
    ] {
        let bias = a.flag_or(key, true)?;
        hf[twin_key] = bias.into();
        dense(
            &mut block,
            &format!("attention/{proj}"),
            hidden,
            hidden,
            bias,
        );
    }
    let scale = |name: &str| Weight::new(format!("{name}/lambda1"), vec![dim(hidden, "hidden")]);
    block.push(scale("layer_scale1"));
    layer_norm(&mut block, "norm2", hidden);
    let mlp_bias = a.flag_or("use_mlp_bias", true)?;
    if a.flag_or("use_gated_mlp", false)? {
        dense(&mut block, "mlp/gate_proj", hidden, inter, mlp_bias);
    }
    dense(&mut block, "mlp/up_proj", hidden, inter, mlp_bias);
    dense(&mut block, "mlp/down_proj", inter, hidden, mlp_bias);
    block.push(scale("layer_scale2"));
    let encoder: Vec<Weight> = (0..layers)
        .flat_map(|i| {
            block.iter().map(move |w| Weight {
                name: format!("layers_{i}/{}", w.name),
                ..w.clone()
            })
        })
        .collect();

    let sequence: Shape = vec![None, Some(tokens), Some(hidden)];
    let input: Shape = std::iter::once(None)
        .chain(image.iter().copied().map(Some))
        .collect();
    // the rotary angles and the encoder's outputs (sequence and pyramid) are lists
    let listed = |name: &str, class: &str, weights: Vec<Weight>| Row {
        output_shape: None::<OutputShape>,
        ..Row::new(name, class, Vec::new(), weights)
    };
    let mut norm = Vec::new();
    layer_norm(&mut norm, "", hidden);
    let rows = vec![
        Row::new("pixel_values", "InputLayer", input, Vec::new()),
        Row::new("embeddings", "DINOV3Embedding", sequence.clone(), embed),
        listed("rope_embedding", "DINOV3RopePositionEmbedding", Vec::new()),
        listed("encoder", "DINOV3Encoder", encoder),
        Row::new("layernorm", "LayerNormalization", sequence, norm),
    ];
    Ok(Backbone::untokenized(
        Some(hf),
        rows,
        hidden,
        &["pixel_values"],
    ))
}

/// The twin's mask token is there when keras-hub's `use_mask_token` (transformers always
/// builds one).
pub fn twin_edit(a: &Args) -> Result<super::TwinEdit> {
    let mask_token = a.flag_or("use_mask_token", true)?;
    Ok(Box::new(move |arch: &mut TransformerArch| {
        if let Some(tokens) = arch.details.dinov2.as_mut() {
            tokens.mask_token = mask_token;
        }
    }))
}
