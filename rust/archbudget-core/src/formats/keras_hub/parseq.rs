//! keras-hub's PARSeqBackbone and PARSeqCausalLM (scene text recognition).
//!
//! Computes: the `image_encoder` (a serialized keras-hub backbone, a ViT in the released
//! model) maps the image to `memory`; `PARSeqDecoder` embeds the tokens (a
//! `token_embedding` and learned `pos_query_embeddings` for `max_label_length + 1`
//! positions), runs N `PARSeqDecoderBlock`s (a query and a content stream, each
//! pre-normed: `query_layer_norm` / `content_layer_norm`, causal `self_attention`,
//! `ln_1` → `cross_attention` on the memory, `ln_2` → the ViT `mlp`; the last block
//! leaves the content stream alone) and a final `layer_norm`; a `Dense` head predicts
//! `vocabulary_size - 2` classes (never `<bos>` or `<pad>`).
//! Weights: both attentions are `CachedMultiHeadAttention` with biases and
//! `key_dim = decoder_hidden_dim // num_decoder_heads`, both built on the decoder's width
//! (so the encoder must give that width); the MLP's two Dense are biased.
//! Mirrors: `keras_hub/src/models/parseq/` (parseq_backbone.py, parseq_decoder.py,
//! parseq_causal_lm.py) of keras-hub 0.32.
//!
//! No transformers twin: `memory` is refused (summary only).
use serde_json::Value;

use super::blocks::{attention, dense, embedding, layer_norm, seq_shape, Args, Heads, Row};
use super::Backbone;
use crate::error::{Error, Result};
use crate::weight::{dim, Weight};

pub fn backbone(a: &Args) -> Result<Backbone> {
    let vocab = a.dim("vocabulary_size")?;
    let max_label = a.dim("max_label_length")?;
    let hidden = a.dim("decoder_hidden_dim")?;
    let layers = a.dim("num_decoder_layers")?;
    let heads = a.dim("num_decoder_heads")?;
    let mlp = a.dim("decoder_mlp_dim")?;
    a.float_or("dropout_rate", 0.1)?;
    a.float_or("attention_dropout", 0.1)?;
    if vocab < 3 {
        return Err(Error::invalid(
            a.location,
            format!(
                "{} config key 'vocabulary_size' must be at least 3 (the head leaves out <bos> and <pad>), got {vocab}",
                a.class_name
            ),
        ));
    }
    // keras-hub floors the key width
    let head_dim = hidden / heads;
    if head_dim == 0 {
        return Err(Error::invalid(
            a.location,
            format!(
                "{} config: decoder_hidden_dim ({hidden}) is smaller than num_decoder_heads ({heads})",
                a.class_name
            ),
        ));
    }
    let encoder = image_encoder(a, hidden)?;

    let h = Heads {
        hidden,
        q: heads,
        kv: heads,
        head_dim,
    };
    let mut decoder = Vec::new();
    embedding(&mut decoder, "token_embedding", vocab, hidden);
    decoder.push(Weight::new(
        "pos_query_embeddings",
        vec![
            dim(1, "1"),
            dim(max_label + 1, "positions"),
            dim(hidden, "hidden"),
        ],
    ));
    for i in 0..layers {
        let block = format!("decoder_layer_{i}");
        layer_norm(&mut decoder, &format!("{block}/query_layer_norm"), hidden);
        layer_norm(&mut decoder, &format!("{block}/content_layer_norm"), hidden);
        attention(
            &mut decoder,
            &format!("{block}/self_attention"),
            h,
            true,
            true,
        );
        attention(
            &mut decoder,
            &format!("{block}/cross_attention"),
            h,
            true,
            true,
        );
        layer_norm(&mut decoder, &format!("{block}/ln_1"), hidden);
        layer_norm(&mut decoder, &format!("{block}/ln_2"), hidden);
        dense(
            &mut decoder,
            &format!("{block}/mlp/dense_1"),
            hidden,
            mlp,
            true,
        );
        dense(
            &mut decoder,
            &format!("{block}/mlp/dense_2"),
            mlp,
            hidden,
            true,
        );
    }
    layer_norm(&mut decoder, "layer_norm", hidden);

    let mut head = Vec::new();
    dense(&mut head, "", hidden, vocab - 2, true);
    // the order Keras's functional graph lists them in
    let rows = vec![
        encoder.input,
        Row::input("token_ids"),
        encoder.row,
        Row::input("padding_mask"),
        Row::new("decoder", "PARSeqDecoder", seq_shape(Some(hidden)), decoder),
        Row::new("dense", "Dense", seq_shape(Some(vocab - 2)), head),
    ];
    Ok(Backbone::untokenized(
        None,
        rows,
        vocab - 2,
        &["images", "padding_mask", "token_ids"],
    ))
}

/// The image encoder's input row and the encoder as one nested row.
struct ImageEncoder {
    input: Row,
    row: Row,
}

/// The serialized keras-hub image backbone under `image_encoder`, read by its own
/// family's reader; its features must be `width` wide (the decoder's attentions are built
/// on the decoder's width).
fn image_encoder(a: &Args, width: u64) -> Result<ImageEncoder> {
    let key = "image_encoder";
    let value = a.config.get(key).unwrap_or(&Value::Null);
    let class = super::registered_class(value).ok_or_else(|| {
        Error::invalid(
            a.location,
            format!(
                "{} config key '{key}' must be a serialized keras-hub image backbone (registered_name 'keras_hub>...')",
                a.class_name
            ),
        )
    })?;
    let config = super::config_of(value, class, a.location)?;
    let read = super::backbone(class, config, a.location)?;
    let not_read = || {
        Error::invalid(
            a.location,
            format!(
                "{} config key '{key}': {class} is not an image backbone read here; save the model as a .keras archive to count it from its weights",
                a.class_name
            ),
        )
    };
    let b = read
        .filter(|b| b.inputs == ["images"])
        .ok_or_else(not_read)?;
    if b.hidden != width {
        return Err(Error::invalid(
            a.location,
            format!(
                "{} config: the image encoder's features are {} wide, the decoder's attention is built on decoder_hidden_dim ({width}); make them equal",
                a.class_name, b.hidden
            ),
        ));
    }
    let name = config.get("name").and_then(Value::as_str).unwrap_or(class);
    let mut rows = b.rows.into_iter();
    let input = rows
        .next()
        .filter(|r| r.class_name == "InputLayer")
        .ok_or_else(not_read)?;
    let features: Vec<Row> = rows.collect();
    let output_shape = features.last().and_then(|r| r.output_shape.clone());
    let weights = features
        .into_iter()
        .flat_map(|r| r.weights)
        .map(|w| Weight {
            name: format!("{name}/{}", w.name),
            ..w
        })
        .collect();
    Ok(ImageEncoder {
        input,
        row: Row {
            name: name.to_string(),
            class_name: class.to_string(),
            output_shape,
            weights,
            nested: true,
        },
    })
}
