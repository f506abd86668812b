//! keras-hub's BLIP2Backbone with BLIP2CausalLM (an OPT language model) and
//! BLIP2Seq2SeqLM (a Flan-T5 one).
//!
//! Computes: `vision_encoder` (`BLIP2VisionEncoder`: ViT patching and encoder) maps the
//! image to patch features; `qformer` (`BLIP2QFormer`: learned query tokens, a LayerNorm,
//! N `QFormerLayer`s, each post-norm self-attention, cross-attention on the patch features
//! every `cross_attention_frequency` layers from the first, and a GELU MLP) distils them
//! into `num_query_tokens` embeddings; the `language_model` projects those to its width and
//! reads them before the text: `BLIP2CustomOPT` (learned positions offset by the queries,
//! pre-norm `TransformerDecoder`s, a final LayerNorm) or `BLIP2FlanT5` (a gated-GELU
//! `T5Backbone` whose encoder reads the queries, and an `lm_head` Dense built only by the
//! Seq2SeqLM). The CausalLM's logits are the tied token embedding's reverse projection.
//! Weights: every attention is a biased `MultiHeadAttention` with `key_dim = hidden //
//! heads`; the cross-attention's key and value read `vision_dim`.
//! Mirrors: `keras_hub/src/models/blip2/` (blip2_backbone.py, blip2_vision_encoder.py,
//! blip2_qformer.py, blip2_custom_opt.py, blip2_flan_t5_lm.py, blip2_causal_lm.py,
//! blip2_seq_2_seq_lm.py) of keras-hub 0.32.
//!
//! The transformers twin is `blip-2` (`Blip2Model`, `Blip2ForConditionalGeneration`,
//! formats/hf/blip2.rs) on an `opt` or `t5` language model of the same sizes. Where
//! keras-hub builds otherwise, [`twin_edit`] makes the twin count as keras-hub does: a
//! ViT without patch bias, class token, attention biases (the twin's `qkv` and
//! `projection` then have none) or MLP biases; non-square images and patches; a Q-Former
//! whose width is no multiple of its heads (keras-hub floors the head width); an unbiased
//! `language_projection`; and the Seq2SeqLM's Flan-T5 `lm_head`, a matrix of its own
//! (transformers ties T5's head to the shared table whatever the config says; the
//! backbone alone has built no head, as the tied twin counts).
use serde_json::{json, Map, Value};

use super::blocks::{
    attention, dense, embedding, layer_norm, seq_shape, transformer_block, Args, Heads, Row,
};
use super::{t5, vit, Backbone};
use crate::arch::{HeadKind, TransformerArch};
use crate::error::{Error, Result};
use crate::summary::OutputShape;
use crate::weight::{dim, Weight};

/// A part of the backbone: its serialized config, read.
struct Part<'a> {
    name: String,
    class: &'a str,
    args: Args<'a>,
}

fn part<'a>(a: &Args<'a>, key: &str, classes: &[&str]) -> Result<Part<'a>> {
    let value = a.config.get(key).unwrap_or(&Value::Null);
    let class = value
        .get("class_name")
        .and_then(Value::as_str)
        .filter(|c| classes.contains(c))
        .ok_or_else(|| {
            Error::invalid(
                a.location,
                format!(
                    "{} config key '{key}' must be a serialized {}",
                    a.class_name,
                    classes.join(" or ")
                ),
            )
        })?;
    let config = super::config_of(value, class, a.location)?;
    Ok(Part {
        name: config
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or(class)
            .to_string(),
        class,
        args: Args {
            config,
            class_name: class,
            location: a.location,
        },
    })
}

/// A nested sub-model's row: its weights under its name, counted as one.
fn nested(p: &Part, shape: Vec<Option<u64>>, weights: Vec<Weight>) -> Row {
    Row {
        name: p.name.clone(),
        class_name: p.class.to_string(),
        output_shape: Some(OutputShape::Single(shape)),
        weights: weights
            .into_iter()
            .map(|w| Weight {
                name: format!("{}/{}", p.name, w.name),
                ..w
            })
            .collect(),
        nested: true,
    }
}

pub fn backbone(a: &Args) -> Result<Backbone> {
    if a.config.get("vision_encoder").is_none_or(Value::is_null) {
        return Err(Error::invalid(
            a.location,
            format!(
                "KerasHub class '{}' is not supported from its JSON alone without a vision encoder (text only); save the model as a .keras archive to count it from its weights",
                a.class_name
            ),
        ));
    }
    let vision = part(a, "vision_encoder", &["BLIP2VisionEncoder"])?;
    let qformer = part(a, "qformer", &["BLIP2QFormer"])?;
    let lm = part(a, "language_model", &["BLIP2CustomOPT", "BLIP2FlanT5"])?;

    let (images, vision_row, vision_width) = vision_encoder(&vision)?;
    let (qformer_row, queries, query_width) = query_former(&qformer, vision_width)?;
    let language = language_model(&lm, queries, query_width)?;
    let hf_config = twin_config(
        &vision.args,
        &qformer.args,
        queries,
        language.hf_text.clone(),
    )?;
    let mut inputs: Vec<&'static str> = language
        .backbone_inputs
        .iter()
        .copied()
        .filter(|&i| i != "images")
        .collect();
    inputs.sort_unstable();
    // the order Keras's functional graph lists them in: the last text input after the
    // Q-Former
    let last = inputs.pop().expect("a language model reads tokens");
    let mut rows = vec![images, vision_row];
    rows.extend(inputs.iter().map(|name| Row::input(name)));
    rows.push(qformer_row);
    rows.push(Row::input(last));
    rows.push(nested(
        &lm,
        seq_shape(Some(language.hidden)),
        language.weights,
    ));
    let token_weights = vec![Weight {
        name: format!("{}/{}", lm.name, language.token_embedding.name),
        ..language.token_embedding
    }];
    Ok(Backbone {
        hf_config,
        rows,
        hidden: language.hidden,
        vocab: language.vocab,
        embed_dim: language.hidden,
        token_weights,
        inputs: language.backbone_inputs,
        pooled: false,
        classifier: super::Classifier::None,
        lm_row_shows_vocab: true,
    })
}

/// `BLIP2VisionEncoder`: a ViT (keras-hub's `ViTPatchingAndEmbedding` and `ViTEncoder`)
/// on RGB images. Its `images` input row, its row and its width.
fn vision_encoder(p: &Part) -> Result<(Row, Row, u64)> {
    let c = p.args.config;
    let size = match c.get("image_size") {
        Some(Value::Array(hw)) => hw.clone(),
        Some(v) => vec![v.clone(), v.clone()],
        None => vec![Value::Null, Value::Null],
    };
    let mut vit_config = Map::new();
    vit_config.insert("image_shape".into(), json!([size[0], size.get(1), 3]));
    vit_config.insert(
        "mlp_dim".into(),
        c.get("intermediate_dim").cloned().unwrap_or(Value::Null),
    );
    for key in [
        "patch_size",
        "num_layers",
        "num_heads",
        "hidden_dim",
        "use_patch_bias",
        "use_class_token",
        "use_mha_bias",
        "use_mlp_bias",
        "dropout_rate",
    ] {
        if let Some(v) = c.get(key) {
            vit_config.insert(key.into(), v.clone());
        }
    }
    let b = vit::backbone(&Args {
        config: &vit_config,
        ..p.args
    })?;
    let mut rows = b.rows.into_iter();
    let images = rows
        .next()
        .expect("the ViT reader's first row is its images input");
    let features: Vec<Row> = rows.collect();
    let shape = match features.last().and_then(|r| r.output_shape.clone()) {
        Some(OutputShape::Single(s)) => s,
        _ => seq_shape(Some(b.hidden)),
    };
    let weights = features.into_iter().flat_map(|r| r.weights).collect();
    Ok((images, nested(p, shape, weights), b.hidden))
}

/// `BLIP2QFormer` reading features `vision_width` wide: its row, query count and width.
fn query_former(p: &Part, vision_width: u64) -> Result<(Row, u64, u64)> {
    let a = &p.args;
    let queries = a.dim("num_query_tokens")?;
    let layers = a.dim("num_layers")?;
    let heads = a.dim("num_heads")?;
    let hidden = a.dim("hidden_dim")?;
    let inter = a.dim("intermediate_dim")?;
    let vision_dim = a.dim("vision_dim")?;
    let frequency = a.dim("cross_attention_frequency")?;
    if vision_dim != vision_width {
        return Err(Error::invalid(
            a.location,
            format!(
                "{} config: vision_dim ({vision_dim}) differs from the vision encoder's hidden_dim ({vision_width}); make them equal",
                a.class_name
            ),
        ));
    }
    let head_dim = per_head(a, hidden, heads)?;
    let h = Heads {
        hidden,
        q: heads,
        kv: heads,
        head_dim,
    };
    let mut w = vec![Weight::new(
        "query_tokens_layer/query_tokens",
        vec![dim(1, "1"), dim(queries, "queries"), dim(hidden, "hidden")],
    )];
    layer_norm(&mut w, "layer_norm", hidden);
    for i in 0..layers {
        let layer = format!("transformer_layer_{i}");
        attention(
            &mut w,
            &format!("{layer}/self_attention/attention"),
            h,
            true,
            true,
        );
        layer_norm(
            &mut w,
            &format!("{layer}/self_attention/layer_norm"),
            hidden,
        );
        if i % frequency == 0 {
            let cross = format!("{layer}/cross_attention");
            let mut kv = Vec::new();
            attention(&mut kv, &format!("{cross}/attention"), h, true, true);
            // key and value read the patch features
            for weight in kv
                .iter_mut()
                .filter(|w| w.name.ends_with("key/kernel") || w.name.ends_with("value/kernel"))
            {
                weight.dims[0] = dim(vision_dim, "vision_dim");
            }
            w.extend(kv);
            layer_norm(&mut w, &format!("{cross}/layer_norm"), hidden);
        }
        dense(
            &mut w,
            &format!("{layer}/intermediate_dense"),
            hidden,
            inter,
            true,
        );
        dense(
            &mut w,
            &format!("{layer}/output_dense"),
            inter,
            hidden,
            true,
        );
        layer_norm(&mut w, &format!("{layer}/output_layer_norm"), hidden);
    }
    let row = nested(p, vec![None, Some(queries), Some(hidden)], w);
    Ok((row, queries, hidden))
}

/// keras-hub floors the key width; a width below the head count leaves none.
fn per_head(a: &Args, hidden: u64, heads: u64) -> Result<u64> {
    match hidden / heads {
        0 => Err(Error::invalid(
            a.location,
            format!(
                "{} config: hidden_dim ({hidden}) is smaller than num_heads ({heads})",
                a.class_name
            ),
        )),
        d => Ok(d),
    }
}

/// A language model's weights (paths under it) and what the task models take from it.
struct Language {
    weights: Vec<Weight>,
    token_embedding: Weight,
    hidden: u64,
    vocab: u64,
    /// The backbone's inputs with this language model.
    backbone_inputs: &'static [&'static str],
    /// The transformers config of the same language model (`None`: no twin).
    hf_text: Option<Value>,
}

fn language_model(p: &Part, queries: u64, query_width: u64) -> Result<Language> {
    let a = &p.args;
    for (key, want) in [
        ("num_query_tokens", queries),
        ("qformer_hidden_dim", query_width),
    ] {
        let got = a.count_or(key, 0)?;
        if got != want {
            return Err(Error::invalid(
                a.location,
                format!(
                    "{} config key '{key}' is {got}, the Q-Former gives {want}; make them equal",
                    a.class_name
                ),
            ));
        }
    }
    match p.class {
        "BLIP2CustomOPT" => custom_opt(a, query_width),
        _ => flan_t5(a, query_width),
    }
}

/// A serialized `Dense` or `EinsumDense` under `key` (the language model takes its
/// `language_projection` and `lm_head` as layers): its output width and bias, or the
/// defaults the language model builds when it is absent.
fn serialized_dense(a: &Args, key: &str, default: (u64, bool)) -> Result<(u64, bool)> {
    let Some(layer) = a.config.get(key).filter(|v| !v.is_null()) else {
        return Ok(default);
    };
    let config = layer.get("config").and_then(Value::as_object);
    let read = match (layer.get("class_name").and_then(Value::as_str), config) {
        (Some("Dense"), Some(c)) => c
            .get("units")
            .and_then(crate::layers::positive_int)
            .map(|units| (units, c.get("use_bias") != Some(&Value::Bool(false)))),
        (Some("EinsumDense"), Some(c)) => c
            .get("output_shape")
            .and_then(Value::as_array)
            .and_then(|shape| shape.last())
            .and_then(crate::layers::positive_int)
            .map(|units| (units, c.get("bias_axes").is_some_and(|b| !b.is_null()))),
        _ => None,
    };
    read.ok_or_else(|| {
        Error::invalid(
            a.location,
            format!(
                "{} config key '{key}' must be a serialized Dense or EinsumDense with its output width",
                a.class_name
            ),
        )
    })
}

/// `BLIP2CustomOPT`: the queries' projection, token and position embeddings
/// (`max_sequence_length + 2` rows, OPT's offset), pre-norm decoders, a final norm.
fn custom_opt(a: &Args, query_width: u64) -> Result<Language> {
    let vocab = a.dim("vocabulary_size")?;
    let layers = a.count_or("num_layers", 0)?;
    let heads = a.dim("num_heads")?;
    let hidden = a.dim("hidden_dim")?;
    let inter = a.dim("intermediate_dim")?;
    let max_seq = a.dim("max_sequence_length")?;
    let mut w = Vec::new();
    let (width, bias) = serialized_dense(a, "language_projection", (hidden, true))?;
    dense(&mut w, "language_projection", query_width, width, bias);
    embedding(&mut w, "embeddings_layer/token_embedding", vocab, hidden);
    let token_embedding = w.last().expect("just pushed").clone();
    embedding(
        &mut w,
        "embeddings_layer/position_embedding",
        max_seq + 2,
        hidden,
    );
    let h = Heads {
        hidden,
        q: heads,
        kv: heads,
        head_dim: per_head(a, hidden, heads)?,
    };
    let block = transformer_block("self_attention", "self_attention_layer_norm", h, inter);
    for i in 0..layers {
        w.extend(block.iter().map(|b| Weight {
            name: format!("transformer_layer_{i}/{}", b.name),
            ..b.clone()
        }));
    }
    layer_norm(&mut w, "layer_norm", hidden);
    let dropout = a.float_or("dropout", 0.1)?;
    // the language projection must reach the decoder's width, and transformers' OPT
    // needs whole heads, for the twin to run
    let hf_text = (width == hidden && hidden % heads == 0).then(|| {
        json!({
            "model_type": "opt", "vocab_size": vocab, "hidden_size": hidden,
            "num_hidden_layers": layers, "ffn_dim": inter, "num_attention_heads": heads,
            "max_position_embeddings": max_seq, "word_embed_proj_dim": hidden,
            "dropout": dropout, "attention_dropout": dropout, "activation_function": "relu",
        })
    });
    Ok(Language {
        weights: w,
        token_embedding,
        hidden,
        vocab,
        backbone_inputs: &["images", "padding_mask", "token_ids"],
        hf_text,
    })
}

/// `BLIP2FlanT5`: a gated-GELU `T5Backbone` (tied embeddings) and the queries' projection;
/// its `lm_head` is built by the Seq2SeqLM only ([`seq2seq_rows`]).
fn flan_t5(a: &Args, query_width: u64) -> Result<Language> {
    let mut t5_config = Map::new();
    for key in [
        "vocabulary_size",
        "num_layers",
        "num_heads",
        "hidden_dim",
        "intermediate_dim",
        "key_value_dim",
        "dropout",
    ] {
        if let Some(v) = a.config.get(key) {
            t5_config.insert(key.into(), v.clone());
        }
    }
    t5_config.insert("activation".into(), json!("gelu"));
    t5_config.insert("use_gated_activation".into(), json!(true));
    let b = t5::backbone(&Args {
        config: &t5_config,
        ..*a
    })?;
    let mut w: Vec<Weight> = b.rows.into_iter().flat_map(|r| r.weights).collect();
    let token_embedding = b
        .token_weights
        .first()
        .expect("T5 has a token embedding")
        .clone();
    let (width, bias) = serialized_dense(a, "language_projection", (b.hidden, true))?;
    dense(&mut w, "language_projection", query_width, width, bias);
    // the Seq2SeqLM's `lm_head` is the twin's head, untied by [`twin_edit`]
    let hf_text = b.hf_config.filter(|_| width == b.hidden).map(|mut t5| {
        t5["tie_word_embeddings"] = json!(false);
        t5["decoder_start_token_id"] = json!(0);
        t5
    });
    Ok(Language {
        hf_text,
        weights: w,
        token_embedding,
        hidden: b.hidden,
        vocab: b.vocab,
        backbone_inputs: &[
            "decoder_padding_mask",
            "decoder_token_ids",
            "encoder_padding_mask",
            "encoder_token_ids",
            "images",
        ],
    })
}

/// transformers' blip-2 config of the same sizes around the language model's `text`.
fn twin_config(
    vision: &Args,
    qformer: &Args,
    queries: u64,
    text: Option<Value>,
) -> Result<Option<Value>> {
    // no twin without the language model's, or without the image's sides
    let (Some(text), Ok(image), Ok(patch)) =
        (text, pair(vision, "image_size"), pair(vision, "patch_size"))
    else {
        return Ok(None);
    };
    let v = vision.config;
    // transformers' ViT needs whole heads
    if vision.dim("hidden_dim")? % vision.dim("num_heads")? != 0 {
        return Ok(None);
    }
    let q = qformer;
    let dropout = q.float_or("dropout", 0.0)?;
    // keras-hub floors the head width; transformers needs whole heads: one, which
    // [`twin_edit`] turns back into keras-hub's heads
    let (hidden, heads) = (q.dim("hidden_dim")?, q.dim("num_heads")?);
    let heads = if hidden % heads == 0 { heads } else { 1 };
    Ok(Some(json!({
        "model_type": "blip-2", "num_query_tokens": queries, "text_config": text,
        "vision_config": {
            // non-square sides are the twin edit's
            "image_size": image.0, "patch_size": patch.0,
            "hidden_size": v.get("hidden_dim"), "intermediate_size": v.get("intermediate_dim"),
            "num_hidden_layers": v.get("num_layers"), "num_attention_heads": v.get("num_heads"),
            "attention_dropout": vision.float_or("dropout_rate", 0.0)?,
            "qkv_bias": vision.flag_or("use_mha_bias", true)?, "hidden_act": "gelu",
        },
        "qformer_config": {
            "hidden_size": hidden, "intermediate_size": q.dim("intermediate_dim")?,
            "num_hidden_layers": q.dim("num_layers")?, "num_attention_heads": heads,
            "cross_attention_frequency": q.dim("cross_attention_frequency")?,
            "hidden_dropout_prob": dropout, "attention_probs_dropout_prob": dropout,
            "hidden_act": "gelu",
        },
    })))
}

/// An image or patch size: one side for both, or `[height, width]`.
fn pair(a: &Args, key: &str) -> Result<(u64, u64)> {
    let side = |v: &Value| crate::layers::positive_int(v);
    let read = match a.config.get(key) {
        Some(Value::Array(hw)) if hw.len() == 2 => side(&hw[0]).zip(side(&hw[1])),
        Some(v) => side(v).map(|s| (s, s)),
        None => None,
    };
    read.ok_or_else(|| {
        Error::invalid(
            a.location,
            format!(
                "{} config key '{key}' must be a positive integer or [height, width]",
                a.class_name
            ),
        )
    })
}

/// Where keras-hub's BLIP-2 counts otherwise than its twin (see the module's doc).
pub(super) fn twin_edit(a: &Args) -> Result<super::TwinEdit> {
    let vision = part(a, "vision_encoder", &["BLIP2VisionEncoder"])?;
    let v = &vision.args;
    // (a model without these sides has no twin to edit)
    let image = pair(v, "image_size").unwrap_or_default();
    let patch = pair(v, "patch_size").unwrap_or_default();
    let patch_bias = v.flag_or("use_patch_bias", true)?;
    let class_token = v.flag_or("use_class_token", true)?;
    let mha_bias = v.flag_or("use_mha_bias", true)?;
    let mlp_bias = v.flag_or("use_mlp_bias", true)?;
    let qformer = part(a, "qformer", &["BLIP2QFormer"])?;
    let heads = qformer.args.dim("num_heads")?;
    let head_dim = qformer.args.dim("hidden_dim")? / heads;
    let lm = part(a, "language_model", &["BLIP2CustomOPT", "BLIP2FlanT5"])?;
    let (_, projection_bias) = serialized_dense(&lm.args, "language_projection", (0, true))?;
    let t5 = lm.class == "BLIP2FlanT5";
    let vocab = lm.args.count_or("vocabulary_size", 0)?;
    let (head_width, head_bias) = serialized_dense(&lm.args, "lm_head", (vocab, false))?;
    // keras-hub builds a serialized `lm_head` of another width, or biased, as given; the
    // twin's T5 head is the vocabulary's, unbiased
    let refusal = (t5 && (head_width != vocab || head_bias)).then(|| {
        format!(
            "{}'s lm_head ({head_width} wide{}) is not the twin's unbiased {vocab}-wide T5 head; its memory is not modelled",
            lm.class,
            if head_bias { ", biased" } else { "" }
        )
    });
    Ok(Box::new(move |arch: &mut TransformerArch| {
        let Some(b) = arch.details.blip2.as_mut() else {
            return;
        };
        b.vision.image = image;
        b.vision.patch = patch;
        b.vision.patch_bias = patch_bias;
        b.vision.class_token = class_token;
        b.vision.projection_bias = mha_bias;
        b.vision.mlp_bias = mlp_bias;
        b.projection_bias = projection_bias;
        b.qformer.heads = heads;
        b.qformer.head_dim = head_dim;
        // the Seq2SeqLM's `lm_head` is a matrix of its own (transformers ties T5's head to
        // its shared table whatever the config says); the backbone alone has built none
        if t5 && b.head != HeadKind::Base {
            arch.tie_word_embeddings = false;
            b.refusal.clone_from(&refusal);
        }
    }))
}

/// The task rows after the backbone's (`rows`: its inputs and the backbone as one row):
/// BLIP2CausalLM on an OPT language model, the reverse projection of its token embedding;
/// BLIP2Seq2SeqLM on a Flan-T5 one, its `lm_head` (a weight of the language model once
/// built, so the backbone's row counts it too).
pub(super) fn task_rows(
    seq2seq: bool,
    b: &Backbone,
    backbone: &Value,
    mut rows: Vec<Row>,
    a: &Args,
) -> Result<Vec<Row>> {
    let lm = b
        .rows
        .last()
        .expect("the language model is the backbone's last row");
    let t5 = b.inputs.contains(&"encoder_token_ids");
    if seq2seq != t5 {
        return Err(Error::invalid(
            a.location,
            format!(
                "{} needs a BLIP2Backbone whose language model is {}, got {}",
                a.class_name,
                if seq2seq {
                    "BLIP2FlanT5"
                } else {
                    "BLIP2CustomOPT"
                },
                lm.class_name
            ),
        ));
    }
    let shape = |width: u64| Some(OutputShape::Single(seq_shape(Some(width))));
    if !seq2seq {
        rows.push(Row {
            name: "token_embedding".to_string(),
            class_name: "ReversibleEmbedding".to_string(),
            output_shape: shape(b.vocab),
            weights: b.token_weights.clone(),
            nested: false,
        });
        return Ok(rows);
    }
    let backbone_config = super::config_of(backbone, "BLIP2Backbone", a.location)?;
    let lm_args = part(
        &Args {
            config: backbone_config,
            class_name: "BLIP2Backbone",
            location: a.location,
        },
        "language_model",
        &["BLIP2FlanT5"],
    )?
    .args;
    let (width, bias) = serialized_dense(&lm_args, "lm_head", (b.vocab, false))?;
    let mut head = Vec::new();
    dense(
        &mut head,
        &format!("{}/lm_head", lm.name),
        b.hidden,
        width,
        bias,
    );
    rows.last_mut()
        .expect("the backbone's row")
        .weights
        .extend(head.iter().cloned());
    rows.push(Row {
        name: "lm_head".to_string(),
        class_name: "Dense".to_string(),
        output_shape: shape(width),
        weights: head,
        nested: false,
    });
    Ok(rows)
}
