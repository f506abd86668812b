//! keras-hub's MetaCLIP 2: `MetaCLIP2Backbone` (a vision encoder and a text encoder, each a
//! nested model, joined by a contrastive head) and the encoders on their own
//! (`MetaCLIP2VisionEncoder`, `MetaCLIP2TextEncoder`).
//!
//! Computes: CLIP's architecture (see `clip`), with its differences: the vision encoder
//! ends at its last block (the backbone's `vision_post_layer_norm` normalises the pooled
//! class token, as transformers' CLIP does), and the vision embedding holds no
//! `position_ids` weight. Weights: per block `layers.MultiHeadAttention` (biased), two
//! LayerNorms and a biased two-Dense MLP; the projections have no bias; the head holds
//! `logit_scale`.
//! Mirrors: `keras_hub/src/models/metaclip_2/` of keras-hub 0.32 (layer names of encoders
//! built without a `name`, the fixture's).
//!
//! The transformers twin of the backbone is clip (`CLIPModel`, the architecture
//! transformers' metaclip_2 keeps): same weights, same counts; the encoders on their own
//! are CLIP's towers alone ([`standalone`]).
use serde_json::{json, Value};

use super::blocks::{attention, dense, embedding, layer_norm, seq_shape, Args, Heads, Row};
use super::clip::{self, Encoder};
use super::vit::ints;
use super::Backbone;
use crate::error::{Error, Result};
use crate::shape::Shape;
use crate::weight::{dim, Weight};

pub fn backbone(a: &Args) -> Result<Backbone> {
    let (vision_name, vision) = nested(a, "vision_encoder", "MetaCLIP2VisionEncoder")?;
    let (text_name, text) = nested(a, "text_encoder", "MetaCLIP2TextEncoder")?;
    let projection = a.dim("projection_dim")?;
    let (vision_hidden, text_hidden) = (vision.width(), text.width());
    let pooled = |w: u64| vec![None, Some(w)];
    let mut norm = Vec::new();
    layer_norm(&mut norm, "", vision_hidden);
    let mut rows = vec![
        vision.rows[0].clone(),
        vision.nested_row(&vision_name, "MetaCLIP2VisionEncoder"),
        text.rows[0].clone(),
        Row::new(
            "vision_pooler",
            "MetaCLIP2VisionPooler",
            pooled(vision_hidden),
            Vec::new(),
        ),
        text.nested_row(&text_name, "MetaCLIP2TextEncoder"),
        Row::new(
            "vision_post_layer_norm",
            "LayerNormalization",
            pooled(vision_hidden),
            norm,
        ),
        Row::new(
            "text_pooler",
            "MetaCLIP2TextPooler",
            pooled(text_hidden),
            Vec::new(),
        ),
    ];
    clip::projections(&mut rows, vision_hidden, text_hidden, projection);
    rows.push(Row {
        output_shape: None,
        ..Row::new(
            "metaclip_2_head",
            "MetaCLIP2Head",
            Vec::new(),
            vec![Weight::new("logit_scale", Vec::new())],
        )
    });
    let hf = json!({"model_type": "clip", "projection_dim": projection,
                    "vision_config": vision.hf, "text_config": text.hf});
    let mut b = Backbone::untokenized(Some(hf), rows, projection, &["images", "token_ids"]);
    b.vocab = text.hf["vocab_size"].as_u64().unwrap_or(0);
    b.embed_dim = text_hidden;
    Ok(b)
}

/// An encoder on its own: its twin is CLIP's tower alone (`clip_vision_model`,
/// `clip_text_model`, the architecture transformers' metaclip_2 keeps); the vision
/// encoder returns its last block's output, with no final norm ([`clip::twin_edit`]).
pub fn standalone(a: &Args) -> Result<Backbone> {
    let vision = a.class_name.contains("Vision");
    let model_type = match vision {
        true => "clip_vision_model",
        false => "clip_text_model",
    };
    Ok(clip::alone(encoder(a, vision)?, model_type, vision))
}

/// The serialized encoder under `key` of a backbone: its name and what it builds.
fn nested(a: &Args, key: &str, class: &'static str) -> Result<(String, Encoder)> {
    let (name, args) = clip::nested_args(a, key, class)?;
    Ok((name, encoder(&args, class.contains("Vision"))?))
}

fn encoder(a: &Args, vision: bool) -> Result<Encoder> {
    let hidden = a.dim("hidden_dim")?;
    let heads = a.dim("num_heads")?;
    let layers = a.dim("num_layers")?;
    let inter = a.dim("intermediate_dim")?;
    let head_dim = a.per_head(("hidden_dim", hidden), ("num_heads", heads))?;
    let h = Heads {
        hidden,
        q: heads,
        kv: heads,
        head_dim,
    };
    let activation = match a.config.get("intermediate_activation") {
        None | Some(Value::Null) => "quick_gelu",
        Some(v) => match v.as_str() {
            Some(name @ ("quick_gelu" | "gelu")) => name,
            _ => {
                return Err(Error::invalid(
                    a.location,
                    format!(
                    "{} config key 'intermediate_activation' must be quick_gelu or gelu, got {v}",
                    a.class_name
                ),
                ))
            }
        },
    };
    let (mut rows, tokens, mut hf) = match vision {
        true => vision_embedding(a, hidden)?,
        false => text_embedding(a, hidden)?,
    };
    if vision {
        rows.push(norm_row("pre_layer_norm", tokens.clone(), hidden));
    }
    let mut block = Vec::new();
    layer_norm(&mut block, "layer_norm_1", hidden);
    attention(&mut block, "attention", h, true, true);
    layer_norm(&mut block, "layer_norm_2", hidden);
    dense(&mut block, "dense_1", hidden, inter, true);
    dense(&mut block, "dense_2", inter, hidden, true);
    for i in 0..layers {
        rows.push(Row::new(
            format!("encoder_block_{i}"),
            "MetaCLIP2EncoderLayer",
            tokens.clone(),
            block.clone(),
        ));
    }
    if !vision {
        rows.push(norm_row("layer_norm", tokens.clone(), hidden));
    }
    for (k, v) in [
        ("hidden_size", hidden),
        ("num_attention_heads", heads),
        ("num_hidden_layers", layers),
        ("intermediate_size", inter),
    ] {
        hf[k] = v.into();
    }
    hf["hidden_act"] = activation.into();
    // with an intermediate output the encoder returns a dict: no single shape
    let output = match a.config.get("intermediate_output_index") {
        None | Some(Value::Null) => Some(tokens),
        Some(_) => None,
    };
    Ok(Encoder { rows, output, hf })
}

fn norm_row(name: &str, shape: Shape, width: u64) -> Row {
    let mut w = Vec::new();
    layer_norm(&mut w, "", width);
    Row::new(name, "LayerNormalization", shape, w)
}

/// The image input and patch embedding (class embedding, a bias-free patch convolution,
/// learned positions): rows, the token shape, the twin's vision config.
fn vision_embedding(a: &Args, hidden: u64) -> Result<(Vec<Row>, Shape, Value)> {
    let image = match a.config.get("image_shape") {
        None | Some(Value::Null) => vec![224, 224, 3],
        Some(_) => ints(a, "image_shape", 3)?,
    };
    let patch = a.dim("patch_size")?;
    if image[0] != image[1] || image[0] < patch {
        return Err(Error::invalid(
            a.location,
            format!(
                "{} config: image_shape {image:?} must be square and at least patch_size ({patch}) wide",
                a.class_name
            ),
        ));
    }
    let side = image[0] / patch;
    let slots = side * side + 1;
    let mut w = vec![
        Weight::new("class_embedding", vec![dim(hidden, "hidden")]),
        Weight::new(
            "patch_embedding/kernel",
            vec![
                dim(patch, "patch"),
                dim(patch, "patch"),
                dim(image[2], "channels"),
                dim(hidden, "hidden"),
            ],
        ),
    ];
    embedding(&mut w, "position_embedding", slots, hidden);
    let tokens: Shape = vec![None, Some(slots), Some(hidden)];
    let input: Shape = std::iter::once(None)
        .chain(image.iter().copied().map(Some))
        .collect();
    let rows = vec![
        Row::new("images", "InputLayer", input, Vec::new()),
        Row::new("embedding", "MetaCLIP2VisionEmbedding", tokens.clone(), w),
    ];
    let hf = json!({"image_size": image[0], "patch_size": patch, "num_channels": image[2]});
    Ok((rows, tokens, hf))
}

/// The token input and embeddings: rows, the token shape, the twin's text config.
fn text_embedding(a: &Args, hidden: u64) -> Result<(Vec<Row>, Shape, Value)> {
    let vocab = a.dim("vocabulary_size")?;
    let embed = a.dim("embedding_dim")?;
    if embed != hidden {
        return Err(Error::invalid(
            a.location,
            format!(
                "{} config: embedding_dim ({embed}) must equal hidden_dim ({hidden}): the blocks add their output to the embeddings",
                a.class_name
            ),
        ));
    }
    let length = a.dim_or("max_sequence_length", 77)?;
    let mut w = Vec::new();
    embedding(&mut w, "token_embedding", vocab, embed);
    embedding(&mut w, "position_embedding", length, embed);
    let tokens = seq_shape(Some(hidden));
    let rows = vec![
        Row::input("token_ids"),
        Row::new("embedding", "TokenAndPositionEmbedding", tokens.clone(), w),
    ];
    let hf = json!({"vocab_size": vocab, "max_position_embeddings": length});
    Ok((rows, tokens, hf))
}
