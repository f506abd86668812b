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
//!
//! No transformers twin: `memory` lowers the keras-hub layers themselves ([`lowered`],
//! run by `memory/parseq.rs`): the ViT encoder through the vit twin keras-hub's ViT
//! gets, the decoder from the shared ops, and `PARSeqCausalLM`'s permutation loss.
use serde_json::Value;

use super::blocks::{attention, dense, embedding, layer_norm, seq_shape, Args, Heads, Row};
use super::Backbone;
use crate::arch::{HeadKind, Position, TransformerArch};
use crate::error::{Error, Result};
use crate::memory::hf::Dropouts;
use crate::weight::{dim, Weight};

/// The `model_type` of the arch [`lowered`] makes (a keras-hub family: transformers has
/// no such type).
pub const MODEL_TYPE: &str = "keras_hub_parseq";

/// What PARSeq's lowering needs beyond the decoder's widths (the arch's own fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parseq {
    /// The serialized `image_encoder`, lowered as its own reader lowers it.
    pub image_encoder: Value,
    /// `max_label_length`: the tokens the decoder reads (what `PARSeqCausalLMPreprocessor`
    /// gives at the tokenizer's length, as the preset has it; `--seq` is not read).
    pub max_label_length: u64,
    /// Decoder passes of `PARSeqCausalLM.compute_loss` (one per training permutation);
    /// `None` for the backbone (the protocol's stand-in loss).
    pub permutations: Option<u64>,
}

/// What `memory` runs: the decoder's widths as a [`TransformerArch`] (`vocab_size` the
/// head's `vocabulary_size - 2` classes), the image encoder and the permutation count in
/// [`Parseq`], and keras-hub's dropouts (`dropout_rate` after the embeddings, on each
/// branch and in the MLP; `attention_dropout` on the probabilities). `task` is the
/// `PARSeqCausalLM` config, whose training step runs the permutation loss.
pub fn lowered(a: &Args, task: Option<&Args>) -> Result<(TransformerArch, Dropouts)> {
    let hidden = a.dim("decoder_hidden_dim")?;
    let heads = a.dim("num_decoder_heads")?;
    let max_label_length = a.dim("max_label_length")?;
    let permutations = task
        .map(|t| permutations(t, max_label_length))
        .transpose()?;
    let dropout = a.float_or("dropout_rate", 0.1)?;
    let arch = TransformerArch {
        head: match task {
            None => HeadKind::Base,
            Some(_) => HeadKind::CausalLm,
        },
        vocab_size: a.dim("vocabulary_size")? - 2,
        norms_per_layer: 4,
        position: Position::Learned {
            rows: max_label_length + 1,
        },
        cross_attention: true,
        details: crate::arch::BlockDetails {
            parseq: Some(Box::new(Parseq {
                image_encoder: a.config.get("image_encoder").cloned().unwrap_or_default(),
                max_label_length,
                permutations,
            })),
            ..Default::default()
        },
        ..TransformerArch::decoder(
            MODEL_TYPE,
            hidden,
            a.dim("num_decoder_layers")?,
            heads,
            a.dim("decoder_mlp_dim")?,
        )
    };
    let dropouts = Dropouts {
        embed: dropout,
        attn: a.float_or("attention_dropout", 0.1)?,
        resid: dropout,
        activation: dropout,
    };
    Ok((arch, dropouts))
}

/// The training permutations of `task` (a `PARSeqCausalLM` config), as
/// [`training_permutations`] counts them; none is refused (keras-hub cannot stack none).
fn permutations(task: &Args, max_label_length: u64) -> Result<u64> {
    let num_perms = task.dim_or("num_perms", 6)?;
    let forward = task.flag_or("add_forward_perms", true)?;
    let mirrored = task.flag_or("add_mirrored_perms", true)?;
    match training_permutations(max_label_length, num_perms, forward, mirrored) {
        0 => Err(Error::invalid(
            task.location,
            format!(
                "{} config: num_perms {num_perms} with add_forward_perms false gives no training permutation (keras-hub cannot stack none)",
                task.class_name
            ),
        )),
        n => Ok(n),
    }
}

/// How many permutations `PARSeqCausalLM.generate_training_permutations` returns for
/// `max_label_length - 1` characters: one when there is one character; else the forward
/// permutation (`add_forward_perms`) topped up with random ones to `num_perms` (halved
/// when `add_mirrored_perms`, at most the characters' factorial), and then every one's
/// mirror (keras-hub stacks the flipped copies whatever `add_mirrored_perms` says).
pub fn training_permutations(
    max_label_length: u64,
    num_perms: u64,
    forward: bool,
    mirrored: bool,
) -> u64 {
    let chars = max_label_length.saturating_sub(1);
    if chars == 1 {
        return 1;
    }
    let wanted = if mirrored { num_perms / 2 } else { num_perms };
    let factorial = (1..=chars).try_fold(1u64, |f, n| f.checked_mul(n));
    let generated = factorial.map_or(wanted, |f| wanted.min(f));
    2 * generated.max(u64::from(forward))
}

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
