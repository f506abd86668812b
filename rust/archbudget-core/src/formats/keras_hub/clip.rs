//! keras-hub's CLIP and SigLIP: `CLIPBackbone` / `SigLIPBackbone` (a vision encoder and a
//! text encoder, each a nested model, joined by a contrastive head) and the encoders on
//! their own (`CLIPVisionEncoder`, `CLIPTextEncoder`, `SigLIPVisionEncoder`,
//! `SigLIPTextEncoder`).
//!
//! Computes: vision: a patch embedding (convolution, kernel = stride = patch; CLIP adds a
//! class embedding), learned positions, CLIP's `pre_layer_norm`, N pre-norm encoder
//! blocks, a final LayerNorm, SigLIP's attention-pooling `head`; text: token and position
//! embeddings, N blocks, a final LayerNorm, SigLIP's `head` Dense on the last token. CLIP
//! pools (first token, EOS token) and projects both sides to `projection_dim` without
//! bias; the heads hold `logit_scale` (and SigLIP's `logit_bias`).
//! Weights: each block is `layers.MultiHeadAttention` (key width `hidden // heads`,
//! biased), two LayerNorms and a biased two-Dense MLP; the vision and SigLIP text
//! embeddings also hold `position_ids`, a non-trainable int weight of one row per
//! position, which `count_params()` counts.
//! Mirrors: `keras_hub/src/models/clip/` and `siglip/` of keras-hub 0.32. An encoder's
//! layer names are those of a model built without a `name` (the fixture's): keras-hub
//! prefixes them with the model's name when it is given one.
//!
//! The transformers twins are clip (`CLIPModel`) and siglip (`SiglipModel`), whose counts
//! are the trainable weights here; a vision encoder alone is `clip_vision_model` /
//! `siglip_vision_model`, a text encoder alone `clip_text_model` / `siglip_text_model`
//! (see [`standalone`]).
use serde_json::{json, Map, Value};

use super::blocks::{attention, dense, embedding, layer_norm, seq_shape, Args, Heads, Row};
use super::vit::ints;
use super::{config_of, registered_class, Backbone, Classifier};
use crate::arch::{TransformerArch, VisionOutput};
use crate::error::{Error, Result};
use crate::shape::Shape;
use crate::summary::OutputShape;
use crate::weight::{dim, Weight};

#[derive(Clone, Copy, PartialEq)]
enum Family {
    Clip,
    Siglip,
}

/// One encoder's rows, its output shape in a backbone, and its transformers sub-config.
pub(super) struct Encoder {
    pub rows: Vec<Row>,
    pub output: Option<Shape>,
    pub hf: Value,
}

impl Encoder {
    pub(super) fn width(&self) -> u64 {
        self.hf["hidden_size"].as_u64().unwrap_or(0)
    }

    /// The encoder as a backbone's row `name` of class `class`: a nested model whose
    /// weights stand under its name (the two encoders' layers share names).
    pub(super) fn nested_row(&self, name: &str, class: &str) -> Row {
        Row {
            name: name.to_string(),
            class_name: class.to_string(),
            output_shape: self.output.clone().map(OutputShape::Single),
            weights: (self.rows.iter())
                .flat_map(|r| &r.weights)
                .map(|w| Weight {
                    name: format!("{name}/{}", w.name),
                    ..w.clone()
                })
                .collect(),
            nested: true,
        }
    }
}

/// The two unbiased projections of the pooled vision and text features to `projection`.
pub(super) fn projections(
    rows: &mut Vec<Row>,
    vision_hidden: u64,
    text_hidden: u64,
    projection: u64,
) {
    for (name, d_in) in [
        ("vision_projection", vision_hidden),
        ("text_projection", text_hidden),
    ] {
        let mut w = Vec::new();
        dense(&mut w, "", d_in, projection, false);
        rows.push(Row::new(name, "Dense", vec![None, Some(projection)], w));
    }
}

pub fn backbone(a: &Args) -> Result<Backbone> {
    let (family, vision_class, text_class) = match a.class_name {
        "CLIPBackbone" => (Family::Clip, "CLIPVisionEncoder", "CLIPTextEncoder"),
        _ => (Family::Siglip, "SigLIPVisionEncoder", "SigLIPTextEncoder"),
    };
    let (vision_name, vision) = nested(a, "vision_encoder", vision_class)?;
    let (text_name, text) = nested(a, "text_encoder", text_class)?;
    let mut rows = vec![vision.rows[0].clone(), text.rows[0].clone()];
    rows.push(vision.nested_row(&vision_name, vision_class));
    rows.push(text.nested_row(&text_name, text_class));
    let (vision_hidden, text_hidden) = (vision.width(), text.width());
    let scalar = |name: &str| Weight::new(name, Vec::new());
    let (hf, width) = match family {
        Family::Clip => {
            let projection = a.dim("projection_dim")?;
            let pooled = |w: u64| vec![None, Some(w)];
            rows.push(Row::new(
                "vision_pooler",
                "CLIPVisionPooler",
                pooled(vision_hidden),
                Vec::new(),
            ));
            rows.push(Row::new(
                "text_pooler",
                "CLIPTextPooler",
                pooled(text_hidden),
                Vec::new(),
            ));
            projections(&mut rows, vision_hidden, text_hidden, projection);
            rows.push(Row {
                output_shape: None,
                ..Row::new(
                    "clip_head",
                    "CLIPHead",
                    Vec::new(),
                    vec![scalar("logit_scale")],
                )
            });
            let hf = json!({"model_type": "clip", "projection_dim": projection,
                            "vision_config": vision.hf, "text_config": text.hf});
            (hf, projection)
        }
        Family::Siglip => {
            rows.push(Row {
                output_shape: None,
                ..Row::new(
                    "siglip_head",
                    "SigLIPHead",
                    Vec::new(),
                    vec![scalar("logit_scale"), scalar("logit_bias")],
                )
            });
            let hf = json!({"model_type": "siglip", "vision_config": vision.hf,
                            "text_config": text.hf});
            (hf, vision_hidden)
        }
    };
    Ok(Backbone {
        hf_config: Some(hf),
        rows,
        hidden: width,
        vocab: text.hf["vocab_size"].as_u64().unwrap_or(0),
        embed_dim: text_hidden,
        token_weights: Vec::new(),
        inputs: &["images", "token_ids"],
        pooled: false,
        classifier: Classifier::None,
        lm_row_shows_vocab: false,
    })
}

/// An encoder on its own. Its twin is transformers' tower of the family alone, whose
/// trainable weights are these: the vision model (`clip_vision_model`,
/// `siglip_vision_model`), which differs in what it returns ([`twin_edit`]), or the text
/// model (`clip_text_model`, `siglip_text_model`: the pair's `text_config` as its own).
pub fn standalone(a: &Args) -> Result<Backbone> {
    let model_type = match a.class_name {
        "CLIPVisionEncoder" => "clip_vision_model",
        "SigLIPVisionEncoder" => "siglip_vision_model",
        "CLIPTextEncoder" => "clip_text_model",
        _ => "siglip_text_model",
    };
    Ok(alone(
        encoder(a)?,
        model_type,
        a.class_name.contains("Vision"),
    ))
}

/// An encoder `e` as a model of its own, its twin transformers' tower `model_type` alone
/// (MetaCLIP2's encoders too: CLIP's towers).
pub(super) fn alone(e: Encoder, model_type: &str, vision: bool) -> Backbone {
    let hidden = e.hf["hidden_size"].as_u64().unwrap_or(0);
    let vocab = e.hf["vocab_size"].as_u64().unwrap_or(0);
    let mut hf_config = e.hf;
    hf_config["model_type"] = model_type.into();
    Backbone {
        hf_config: Some(hf_config),
        rows: e.rows,
        hidden,
        vocab,
        embed_dim: hidden,
        token_weights: Vec::new(),
        inputs: if vision { &["images"] } else { &["token_ids"] },
        pooled: false,
        classifier: Classifier::None,
        lm_row_shows_vocab: false,
    }
}

/// The serialized encoder under `key` of a backbone: its name and what it builds.
pub(super) fn nested(a: &Args, key: &str, class: &str) -> Result<(String, Encoder)> {
    let (name, args) = nested_args(a, key, class)?;
    Ok((name, encoder(&args)?))
}

/// The serialized keras-hub `class` under `key` of a backbone: its name and its
/// constructor's arguments.
pub(super) fn nested_args<'v>(
    a: &Args<'v>,
    key: &str,
    class: &'v str,
) -> Result<(String, Args<'v>)> {
    let value = a.config.get(key).unwrap_or(&Value::Null);
    if registered_class(value) != Some(class) {
        return Err(Error::invalid(
            a.location,
            format!(
                "{} config key '{key}' must be a serialized keras-hub {class}",
                a.class_name
            ),
        ));
    }
    let config = config_of(value, class, a.location)?;
    let name = config
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or(class)
        .to_string();
    let args = Args {
        config,
        class_name: class,
        location: a.location,
    };
    Ok((name, args))
}

fn encoder(a: &Args) -> Result<Encoder> {
    let family = match a.class_name.starts_with("CLIP") {
        true => Family::Clip,
        false => Family::Siglip,
    };
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
    let activation = activation(a, family)?;
    let vision = a.class_name.contains("Vision");
    let (mut rows, tokens, mut hf) = match vision {
        true => vision_embedding(a, family, hidden)?,
        false => text_embedding(a, family, hidden)?,
    };
    if vision && family == Family::Clip {
        rows.push(norm_row("pre_layer_norm", tokens.clone(), hidden));
    }
    let names = match family {
        Family::Clip => [
            "layer_norm_1",
            "attention",
            "layer_norm_2",
            "dense_1",
            "dense_2",
        ],
        Family::Siglip => [
            "layer_norm1",
            "self_attn",
            "layer_norm2",
            "mlp/fc1",
            "mlp/fc2",
        ],
    };
    let mut block = Vec::new();
    layer_norm(&mut block, names[0], hidden);
    attention(&mut block, names[1], h, true, true);
    layer_norm(&mut block, names[2], hidden);
    dense(&mut block, names[3], hidden, inter, true);
    dense(&mut block, names[4], inter, hidden, true);
    let block_class = match family {
        Family::Clip => "CLIPEncoderLayer",
        Family::Siglip => "SigLIPEncoderLayer",
    };
    for i in 0..layers {
        rows.push(Row::new(
            format!("encoder_block_{i}"),
            block_class,
            tokens.clone(),
            block.clone(),
        ));
    }
    let final_norm = match family {
        Family::Clip => "layer_norm",
        Family::Siglip => "post_layer_norm",
    };
    rows.push(norm_row(final_norm, tokens.clone(), hidden));
    let mut output = tokens;
    if family == Family::Siglip {
        let mut w = Vec::new();
        let (class, width) = match vision {
            true => {
                // SigLIPMultiHeadAttentionPooling: a probe attends over the patches
                w.push(Weight::new(
                    "probe",
                    vec![dim(1, "1"), dim(1, "1"), dim(hidden, "hidden")],
                ));
                attention(&mut w, "attention", h, true, true);
                layer_norm(&mut w, "layernorm", hidden);
                dense(&mut w, "mlp/fc1", hidden, inter, true);
                dense(&mut w, "mlp/fc2", inter, hidden, true);
                ("SigLIPMultiHeadAttentionPooling", hidden)
            }
            false => {
                let projection = a.dim_opt("projection_dim")?.unwrap_or(hidden);
                dense(&mut w, "", hidden, projection, true);
                hf["projection_size"] = projection.into();
                ("Dense", projection)
            }
        };
        output = vec![None, Some(width)];
        rows.push(Row::new("head", class, output.clone(), w));
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
        None | Some(Value::Null) => Some(output),
        Some(_) => None,
    };
    Ok(Encoder { rows, output, hf })
}

/// keras-hub's activation as transformers names it.
fn activation(a: &Args, family: Family) -> Result<&'static str> {
    let default = match family {
        Family::Clip => "quick_gelu",
        Family::Siglip => "gelu_approximate",
    };
    let name = match a.config.get("intermediate_activation") {
        None | Some(Value::Null) => default,
        Some(v) => v.as_str().unwrap_or(""),
    };
    Ok(match name {
        "quick_gelu" => "quick_gelu",
        "gelu" => "gelu",
        "gelu_approximate" => "gelu_pytorch_tanh",
        other => {
            return Err(Error::invalid(
                a.location,
                format!(
                    "{} config key 'intermediate_activation' must be quick_gelu, gelu or gelu_approximate, got '{other}'",
                    a.class_name
                ),
            ))
        }
    })
}

fn norm_row(name: &str, shape: Shape, width: u64) -> Row {
    let mut w = Vec::new();
    layer_norm(&mut w, "", width);
    Row::new(name, "LayerNormalization", shape, w)
}

/// `position_ids`: the non-trainable int weight of one row per position.
fn position_ids(positions: u64) -> Weight {
    Weight::new(
        "position_ids",
        vec![dim(1, "1"), dim(positions, "positions")],
    )
    .frozen()
}

/// The image input and patch embedding: rows, the token shape, the twin's vision config.
fn vision_embedding(a: &Args, family: Family, hidden: u64) -> Result<(Vec<Row>, Shape, Value)> {
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
    let patches = side * side;
    let mut w = Vec::new();
    let (class, slots) = match family {
        Family::Clip => {
            w.push(Weight::new("class_embedding", vec![dim(hidden, "hidden")]));
            ("CLIPVisionEmbedding", patches + 1)
        }
        Family::Siglip => ("SigLIPVisionEmbedding", patches),
    };
    w.push(Weight::new(
        "patch_embedding/kernel",
        vec![
            dim(patch, "patch"),
            dim(patch, "patch"),
            dim(image[2], "channels"),
            dim(hidden, "hidden"),
        ],
    ));
    if family == Family::Siglip {
        w.push(Weight::new(
            "patch_embedding/bias",
            vec![dim(hidden, "hidden")],
        ));
    }
    embedding(&mut w, "position_embedding", slots, hidden);
    w.push(position_ids(slots));
    // SigLIPVisionEmbedding.compute_output_shape is CLIP's: Keras shows one slot more
    // than the patches it holds
    let tokens: Shape = vec![None, Some(patches + 1), Some(hidden)];
    let input: Shape = std::iter::once(None)
        .chain(image.iter().copied().map(Some))
        .collect();
    let rows = vec![
        Row::new("images", "InputLayer", input, Vec::new()),
        Row::new("embedding", class, tokens.clone(), w),
    ];
    let hf = json!({"image_size": image[0], "patch_size": patch, "num_channels": image[2]});
    Ok((rows, tokens, hf))
}

/// The token input and embeddings: rows, the token shape, the twin's text config.
fn text_embedding(a: &Args, family: Family, hidden: u64) -> Result<(Vec<Row>, Shape, Value)> {
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
    let (default_length, class) = match family {
        Family::Clip => (77, "TokenAndPositionEmbedding"),
        Family::Siglip => (64, "SigLIPTextEmbedding"),
    };
    let length = a.dim_or("max_sequence_length", default_length)?;
    let mut w = Vec::new();
    embedding(&mut w, "token_embedding", vocab, embed);
    embedding(&mut w, "position_embedding", length, embed);
    if family == Family::Siglip {
        w.push(position_ids(length));
    }
    let tokens = seq_shape(Some(hidden));
    let rows = vec![
        Row::input("token_ids"),
        Row::new("embedding", class, tokens.clone(), w),
    ];
    let mut hf = Map::new();
    hf.insert("vocab_size".into(), vocab.into());
    hf.insert("max_position_embeddings".into(), length.into());
    Ok((rows, tokens, Value::Object(hf)))
}

/// What a vision encoder returns, unlike its twin's `last_hidden_state`: keras-hub's CLIP
/// normalises every token with its final `layer_norm` (`CLIPVisionModel` normalises the
/// class token alone), keras-hub's MetaCLIP2 has no final norm (`post_layernorm` is not
/// built), keras-hub's SigLIP returns the pooling head's output (on the loss's path, so
/// the head gets gradients).
pub fn twin_edit(a: &Args) -> Result<super::TwinEdit> {
    let output = match a.class_name {
        "CLIPVisionEncoder" => VisionOutput::EveryTokenNormed,
        "MetaCLIP2VisionEncoder" => VisionOutput::LastHiddenUnpooled,
        _ => VisionOutput::Pooled,
    };
    Ok(Box::new(move |arch: &mut TransformerArch| {
        if let Some(vm) = arch.details.vision_model.as_mut() {
            vm.output = output;
        }
    }))
}
