//! keras-hub's Gemma3VisionEncoder (Gemma 3 4B/12B/27B's image tower), alone or as the
//! `vision_encoder` of a Gemma3Backbone.
//!
//! Computes: `image_encoder` (a SigLIP vision transformer: a biased patch convolution,
//! a learned position per patch, N blocks of LayerNorm, biased q/k/v/out projections,
//! LayerNorm and a biased two-Dense gelu MLP, then a final LayerNorm), `pooling` (an
//! average pool of `pool_size` over the patch grid: `(image / patch / pool)^2` tokens per
//! image) and `vision_output_encoder` (an RMSNorm and an unbiased projection to
//! `output_dim`, the text width). Mirrors transformers' gemma3 vision tower
//! (`siglip_vision_model` without its head) and `Gemma3MultiModalProjector`, the twin
//! `memory` runs.
use serde_json::{json, Value};

use super::blocks::{dense, layer_norm, rms_norm, Args, Row};
use super::{config_of, registered_class, Backbone};
use crate::arch::{TransformerArch, VisionOutput};
use crate::error::{Error, Result};
use crate::shape::Shape;
use crate::weight::{dim, Weight};

/// A Gemma3VisionEncoder read from its constructor arguments.
pub struct Encoder {
    pub name: String,
    /// Its rows as a model of its own.
    pub rows: Vec<Row>,
    pub image_size: u64,
    /// Tokens each image becomes.
    pub tokens: u64,
    pub output_dim: u64,
    /// transformers' `vision_config` of the same tower.
    pub hf_vision: Value,
}

impl Encoder {
    pub fn weights(&self) -> Vec<Weight> {
        self.rows
            .iter()
            .flat_map(|r| r.weights.iter().cloned())
            .collect()
    }

    /// `images`: `(batch, images, side, side, 3)`.
    pub fn images_row(&self) -> Row {
        let side = Some(self.image_size);
        Row::new(
            "images",
            "InputLayer",
            vec![None, None, side, side, Some(3)],
            Vec::new(),
        )
    }

    /// The shape the encoder gives, and Keras gives every later layer of a Gemma3Backbone
    /// (`Gemma3InterleaveEmbeddings.compute_output_shape` returns its first input's).
    pub fn output_shape(&self) -> Shape {
        vec![None, Some(self.tokens), Some(self.output_dim)]
    }
}

pub fn read(a: &Args) -> Result<Encoder> {
    let name = a
        .config
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or(a.class_name)
        .to_string();
    let image = a.dim("image_size")?;
    let patch = a.dim("patch_size")?;
    let pool = a.dim_or("pool_size", 14)?;
    let heads = a.dim("num_heads")?;
    let hidden = a.dim("hidden_dim")?;
    a.per_head(("hidden_dim", hidden), ("num_heads", heads))?;
    let layers = a.count_or("num_layers", 0)?;
    let inter = a.dim("intermediate_dim")?;
    let output_dim = a.dim("output_dim")?;
    let side = image / patch;
    if side == 0 || side / pool == 0 {
        return Err(Error::invalid(
            a.location,
            format!(
                "{}: image_size {image} / patch_size {patch} / pool_size {pool} leaves no token",
                a.class_name
            ),
        ));
    }
    let tokens = (side / pool) * (side / pool);

    let mut encoder = vec![
        Weight::new(
            "encoder_embeddings/embedding_conv/kernel",
            vec![
                dim(patch, "kh"),
                dim(patch, "kw"),
                dim(3, "in_channels"),
                dim(hidden, "filters"),
            ],
        ),
        Weight::new(
            "encoder_embeddings/embedding_conv/bias",
            vec![dim(hidden, "filters")],
        ),
    ];
    encoder.push(Weight::new(
        "encoder_embeddings/position_embedding/embeddings",
        vec![dim(side * side, "patches"), dim(hidden, "features")],
    ));
    for i in 0..layers {
        let block = format!("encoder_block_{i}");
        for proj in ["query_proj", "key_proj", "value_proj", "out_proj"] {
            dense(
                &mut encoder,
                &format!("{block}/multi_head_attention/{proj}"),
                hidden,
                hidden,
                true,
            );
        }
        layer_norm(&mut encoder, &format!("{block}/layer_norm_1"), hidden);
        dense(
            &mut encoder,
            &format!("{block}/mlp_dense_1"),
            hidden,
            inter,
            true,
        );
        dense(
            &mut encoder,
            &format!("{block}/mlp_dense_2"),
            inter,
            hidden,
            true,
        );
        layer_norm(&mut encoder, &format!("{block}/layer_norm_2"), hidden);
    }
    layer_norm(&mut encoder, "encoder_layer_norm", hidden);
    let mut output = Vec::new();
    rms_norm(&mut output, "vision_soft_embedding_norm", hidden);
    dense(
        &mut output,
        "vision_input_projection",
        hidden,
        output_dim,
        false,
    );

    let enc = Encoder {
        name,
        rows: Vec::new(),
        image_size: image,
        tokens,
        output_dim,
        hf_vision: json!({
            "model_type": "siglip_vision_model", "hidden_size": hidden,
            "intermediate_size": inter, "num_hidden_layers": layers,
            "num_attention_heads": heads, "image_size": image, "patch_size": patch,
            "vision_use_head": false,
        }),
    };
    let rows = vec![
        enc.images_row(),
        Row::new(
            "image_encoder",
            "Gemma3VisionEncoderBlock",
            vec![None, Some(side * side), Some(hidden)],
            encoder,
        ),
        Row::new(
            "pooling",
            "Gemma3VisionAveragePooling",
            vec![None, Some(tokens), Some(hidden)],
            Vec::new(),
        ),
        Row::new(
            "vision_output_encoder",
            "Gemma3VisionOutput",
            enc.output_shape(),
            output,
        ),
    ];
    Ok(Encoder { rows, ..enc })
}

/// A Gemma3VisionEncoder on its own. transformers has no model of the tower and
/// projector alone: the twin is the tower (`siglip_vision_model` without its head) and
/// [`twin_edit`] puts gemma3's projector after it, lowered as `Gemma3MultiModalProjector`
/// runs.
pub fn standalone(a: &Args) -> Result<Backbone> {
    let enc = read(a)?;
    Ok(Backbone::untokenized(
        Some(enc.hf_vision),
        enc.rows,
        enc.output_dim,
        &["images"],
    ))
}

/// gemma3's projector after the twin tower: `tokens` per image, `output_dim` wide.
pub fn twin_edit(a: &Args) -> Result<super::TwinEdit> {
    let enc = read(a)?;
    let output = VisionOutput::Gemma3Projector {
        tokens: enc.tokens,
        width: enc.output_dim,
    };
    Ok(Box::new(move |arch: &mut TransformerArch| {
        if let Some(vm) = arch.details.vision_model.as_mut() {
            vm.output = output;
        }
    }))
}

/// The `vision_encoder` a Gemma3Backbone holds, if any.
pub fn nested(a: &Args) -> Result<Option<Encoder>> {
    let Some(value) = a.config.get("vision_encoder").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let class = "Gemma3VisionEncoder";
    if registered_class(value) != Some(class) {
        return Err(Error::invalid(
            a.location,
            format!(
                "{} config key 'vision_encoder' must be a serialized keras-hub {class}",
                a.class_name
            ),
        ));
    }
    let args = Args {
        config: config_of(value, class, a.location)?,
        class_name: class,
        location: a.location,
    };
    read(&args).map(Some)
}

/// A Gemma3Backbone's rows with its vision encoder: Keras's `model.layers` order
/// (token_ids, images, token_embedding, the encoder, vision_indices,
/// interleave_embeddings, padding_mask, vision_mask, the decoder blocks, the final
/// norm), every layer after the interleave shaped as the encoder's output.
pub fn backbone_rows(text_rows: Vec<Row>, enc: &Encoder) -> Vec<Row> {
    let shape = enc.output_shape();
    let mut rows = Vec::with_capacity(text_rows.len() + 5);
    let mut text = text_rows.into_iter();
    // text rows: token_ids, token_embedding, padding_mask, blocks..., final norm
    let (Some(token_ids), Some(token_embedding), Some(padding_mask)) =
        (text.next(), text.next(), text.next())
    else {
        return rows;
    };
    rows.push(token_ids);
    rows.push(enc.images_row());
    rows.push(token_embedding);
    let mut encoder = Row::new(
        enc.name.clone(),
        "Gemma3VisionEncoder",
        shape.clone(),
        Vec::new(),
    );
    encoder.weights = enc.weights();
    encoder.nested = true;
    rows.push(encoder);
    rows.push(Row::input("vision_indices"));
    rows.push(Row::new(
        "interleave_embeddings",
        "Gemma3InterleaveEmbeddings",
        shape.clone(),
        Vec::new(),
    ));
    rows.push(padding_mask);
    rows.push(Row::input("vision_mask"));
    rows.extend(text.map(|mut r| {
        r.output_shape = Some(crate::summary::OutputShape::Single(shape.clone()));
        r
    }));
    rows
}

/// transformers' gemma3 (ForConditionalGeneration) config around the text twin.
pub fn hf_config(text: Value, enc: &Encoder) -> Value {
    json!({
        "model_type": "gemma3", "text_config": text, "vision_config": enc.hf_vision,
        "mm_tokens_per_image": enc.tokens, "tie_word_embeddings": true,
    })
}
