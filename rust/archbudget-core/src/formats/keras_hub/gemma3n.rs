//! keras-hub's Gemma3nBackbone, its text model alone (no `vision_encoder_config` or
//! `audio_encoder_config`: with either, the class is left to the `.keras` archive
//! reader, `saved`). Two rows carry every weight: `multimodal_embedding_processor`
//! (it tracks the text model to embed the tokens, so Keras counts the text model in it
//! too) and `text_model` (`Gemma3nTextModel`).
//!
//! Weights (gemma3n_text_model.py, gemma3n_text_decoder.py, gemma3n_text_layers.py): a
//! scaled token embedding; per `decoder_block_i` Dense q/k/v/o (`attention_bias`), q/k
//! RMS scales of `head_dim` (v's has none), a gated MLP `intermediate_size[i]` wide, four
//! block norms, AltUp (router norm, `modality_router` `[hidden, n]`, `prediction_coefs`
//! `[n, n²]`, `correction_coefs` `[n, n]`, `correct_output_scale` when
//! `altup_correct_scale`), Laurel (`[hidden, rank]`, `[rank, hidden]`, a norm) and the
//! per-layer input gate and projection with their norm. KV-shared layers keep their own
//! k/v projections. Then the final norm, the per-layer token embedding
//! `[vocab_size_per_layer_input, layers × per_layer]`, its model projection and norm, and
//! `n - 1` AltUp projections and unembedding projections `[hidden, hidden]`.
//!
//! Memory: the transformers twin is `gemma3n_text` (`hf_config`, the same layers and
//! forward; keras-hub's defaults written out: no activation sparsity, no coefficient
//! clip, no logit soft cap), and `twin_edit` states what differs: keras-hub's weights
//! (the shared layers' unused k/v projections and k norm, `correct_output_scale` only
//! with `altup_correct_scale`) and its KV sharing as keras-hub runs it, so that a
//! model whose shared layers have no source layer (keras-hub's attention fails on it)
//! is refused by `memory` in one line while its summary stays exact.
use serde_json::{json, Value};

use super::blocks::{dense, rms_norm, seq_shape, Args, Row};
use super::{Backbone, Classifier};
use crate::arch::{AttentionSpan, TransformerArch};
use crate::error::{Error, Result};
use crate::summary::OutputShape;
use crate::weight::{dim, Weight};

const INPUTS: &[&str] = &["token_ids", "padding_mask"];

/// `None` for a multimodal Gemma3n (left to the archive reader).
pub fn backbone(a: &Args) -> Result<Option<Backbone>> {
    let multimodal = ["vision_encoder_config", "audio_encoder_config"]
        .iter()
        .any(|k| !matches!(a.config.get(*k), None | Some(Value::Null)));
    if multimodal {
        return Ok(None);
    }
    let vocab = a.dim("text_vocab_size")?;
    let hidden = a.dim("text_hidden_size")?;
    let layers = a.dim("num_hidden_layers")?;
    let q = a.dim("num_attention_heads")?;
    let kv = a.dim("num_key_value_heads")?;
    let head_dim = a.dim("head_dim")?;
    let inter = per_layer_widths(a, layers)?;
    let per_layer = a.dim("hidden_size_per_layer_input")?;
    let per_layer_vocab = a.dim("vocab_size_per_layer_input")?;
    let altup = a.dim("altup_num_inputs")?;
    let rank = a.dim("laurel_rank")?;
    let bias = a.flag_or("attention_bias", false)?;
    let correct_scale = a.flag_or("altup_correct_scale", true)?;

    let mut w = Vec::new();
    w.push(Weight::new(
        "embed_tokens/embedding/embeddings",
        vec![dim(vocab, "rows"), dim(hidden, "features")],
    ));
    for (i, &inter) in inter.iter().enumerate() {
        let b = format!("decoder_block_{i}");
        for (proj, width) in [("q_proj", q), ("k_proj", kv), ("v_proj", kv)] {
            dense(
                &mut w,
                &format!("{b}/attention/{proj}"),
                hidden,
                width * head_dim,
                bias,
            );
        }
        dense(
            &mut w,
            &format!("{b}/attention/o_proj"),
            q * head_dim,
            hidden,
            bias,
        );
        rms_norm(&mut w, &format!("{b}/attention/q_norm"), head_dim);
        rms_norm(&mut w, &format!("{b}/attention/k_norm"), head_dim);
        for proj in ["gate_proj", "up_proj"] {
            dense(&mut w, &format!("{b}/mlp/{proj}"), hidden, inter, false);
        }
        dense(&mut w, &format!("{b}/mlp/down_proj"), inter, hidden, false);
        for norm in [
            "input_layernorm",
            "post_attention_layernorm",
            "pre_feedforward_layernorm",
            "post_feedforward_layernorm",
        ] {
            rms_norm(&mut w, &format!("{b}/{norm}"), hidden);
        }
        if correct_scale {
            w.push(Weight::new(
                format!("{b}/altup/correct_output_scale"),
                vec![dim(hidden, "features")],
            ));
        }
        dense(
            &mut w,
            &format!("{b}/altup/correction_coefs"),
            altup,
            altup,
            false,
        );
        dense(
            &mut w,
            &format!("{b}/altup/prediction_coefs"),
            altup,
            altup * altup,
            false,
        );
        dense(
            &mut w,
            &format!("{b}/altup/modality_router"),
            hidden,
            altup,
            false,
        );
        rms_norm(&mut w, &format!("{b}/altup/router_norm"), hidden);
        dense(
            &mut w,
            &format!("{b}/laurel/linear_left"),
            hidden,
            rank,
            false,
        );
        dense(
            &mut w,
            &format!("{b}/laurel/linear_right"),
            rank,
            hidden,
            false,
        );
        rms_norm(&mut w, &format!("{b}/laurel/post_laurel_norm"), hidden);
        dense(
            &mut w,
            &format!("{b}/per_layer_input_gate"),
            hidden,
            per_layer,
            false,
        );
        dense(
            &mut w,
            &format!("{b}/per_layer_projection"),
            per_layer,
            hidden,
            false,
        );
        rms_norm(&mut w, &format!("{b}/post_per_layer_input_norm"), hidden);
    }
    rms_norm(&mut w, "norm", hidden);
    w.push(Weight::new(
        "embed_tokens_per_layer/embedding/embeddings",
        vec![
            dim(per_layer_vocab, "rows"),
            dim(layers * per_layer, "features"),
        ],
    ));
    dense(
        &mut w,
        "per_layer_model_projection",
        hidden,
        layers * per_layer,
        false,
    );
    rms_norm(&mut w, "per_layer_projection_norm", per_layer);
    for kind in ["altup_projection", "altup_unembed_projection"] {
        for i in 1..altup {
            dense(&mut w, &format!("{kind}_{i}"), hidden, hidden, false);
        }
    }
    let text = Row::new("text_model", "Gemma3nTextModel", seq_shape(Some(hidden)), w);
    let token_weights = text.weights[..1].to_vec();
    // the processor's weights are the text model's own variables (one count in the totals)
    let processor = Row {
        name: "multimodal_embedding_processor".to_string(),
        class_name: "Gemma3nMultimodalEmbeddingProcessor".to_string(),
        output_shape: None::<OutputShape>,
        weights: text.weights.clone(),
        nested: false,
    };
    let rows = vec![
        Row::input("token_ids"),
        Row::input("padding_mask"),
        processor,
        text,
    ];
    Ok(Some(Backbone {
        // transformers refuses heads that do not divide the width (keras-hub does not):
        // no twin then, and `memory` says it does not model the model
        hf_config: match hidden % q {
            0 => Some(twin_config(a, &inter)?),
            _ => None,
        },
        rows,
        hidden,
        vocab,
        embed_dim: hidden,
        token_weights,
        inputs: INPUTS,
        pooled: false,
        classifier: Classifier::None,
        lm_row_shows_vocab: false,
    }))
}

/// `intermediate_size`: one MLP width per layer (keras-hub indexes it by layer).
fn per_layer_widths(a: &Args, layers: u64) -> Result<Vec<u64>> {
    let bad = |what: String| {
        Error::invalid(
            a.location,
            format!("{} config key 'intermediate_size' {what}", a.class_name),
        )
    };
    let Some(Value::Array(items)) = a.config.get("intermediate_size") else {
        return Err(bad(format!(
            "must be a list of {layers} positive integers (one per layer)"
        )));
    };
    if items.len() as u64 != layers {
        return Err(bad(format!(
            "has {} entries for num_hidden_layers {layers} (one per layer)",
            items.len()
        )));
    }
    items
        .iter()
        .map(|v| {
            crate::layers::positive_int(v)
                .ok_or_else(|| bad(format!("must hold positive integers, got {v}")))
        })
        .collect()
}

/// The `gemma3n_text` config.json of the same model (see the module doc).
fn twin_config(a: &Args, widths: &[u64]) -> Result<Value> {
    let layers = widths.len() as u64;
    let types: Vec<&str> = layer_kinds(a, layers)?
        .iter()
        .map(|s| match s {
            AttentionSpan::Full => "full_attention",
            _ => "sliding_attention",
        })
        .collect();
    let sparsity = match a.config.get("activation_sparsity_pattern") {
        None | Some(Value::Null) => json!(vec![0.0; layers as usize]),
        Some(list) => list.clone(),
    };
    let activation = match a.config.get("hidden_activation").and_then(Value::as_str) {
        Some("gelu_approximate") | None => "gelu_pytorch_tanh",
        Some("swish") => "silu",
        Some(other) => other,
    };
    let shared = runnable_shared_layers(a, layers)?.unwrap_or(0);
    let copied = |key: &str| a.config.get(key).cloned().unwrap_or(Value::Null);
    Ok(json!({
        "model_type": "gemma3n_text",
        "vocab_size": a.dim("text_vocab_size")?,
        "hidden_size": a.dim("text_hidden_size")?,
        "num_hidden_layers": layers,
        "num_attention_heads": a.dim("num_attention_heads")?,
        "num_key_value_heads": a.dim("num_key_value_heads")?,
        "head_dim": a.dim("head_dim")?,
        "intermediate_size": widths,
        "hidden_activation": activation,
        "layer_types": types,
        "sliding_window": a.dim("sliding_window")?,
        "max_position_embeddings": copied("max_position_embeddings"),
        "vocab_size_per_layer_input": a.dim("vocab_size_per_layer_input")?,
        "hidden_size_per_layer_input": a.dim("hidden_size_per_layer_input")?,
        "altup_num_inputs": a.dim("altup_num_inputs")?,
        "laurel_rank": a.dim("laurel_rank")?,
        "attention_bias": a.flag_or("attention_bias", false)?,
        "attention_dropout": a.float_or("attention_dropout", 0.0)?,
        "activation_sparsity_pattern": sparsity,
        "altup_coef_clip": copied("altup_coef_clip"),
        "altup_active_idx": a.count_or("altup_active_idx", 0)?,
        "altup_correct_scale": a.flag_or("altup_correct_scale", true)?,
        "num_kv_shared_layers": shared,
        "final_logit_softcapping": copied("final_logit_soft_cap"),
        "rms_norm_eps": a.float_or("rms_norm_eps", 1e-6)?,
        "tie_word_embeddings": true,
    }))
}

/// keras-hub's layer kinds: "sliding_attention" slides, any other name is full.
fn layer_kinds(a: &Args, layers: u64) -> Result<Vec<AttentionSpan>> {
    let window = a.dim("sliding_window")?;
    let Some(Value::Array(types)) = a.config.get("layer_types") else {
        return Err(Error::invalid(
            a.location,
            format!(
                "{} config key 'layer_types' must be a list of {layers} layer kinds",
                a.class_name
            ),
        ));
    };
    if (types.len() as u64) < layers {
        return Err(Error::invalid(
            a.location,
            format!(
                "{} config key 'layer_types' has {} entries for num_hidden_layers {layers}",
                a.class_name,
                types.len()
            ),
        ));
    }
    Ok(types[..layers as usize]
        .iter()
        .map(|t| match t.as_str() {
            Some("sliding_attention") => AttentionSpan::Sliding(window),
            _ => AttentionSpan::Full,
        })
        .collect())
}

/// The KV-shared layers as keras-hub runs them (`i >= first > 0`: none when
/// `num_kv_shared_layers` covers every layer); `None` when one has no earlier layer of
/// its kind to reuse k and v from, a model keras-hub's forward fails on.
fn runnable_shared_layers(a: &Args, layers: u64) -> Result<Option<u64>> {
    let shared = a.count_or("num_kv_shared_layers", 0)?;
    if shared >= layers {
        return Ok(Some(0));
    }
    let spans = layer_kinds(a, layers)?;
    Ok(
        crate::formats::hf::gemma3n::orphan_shared_layer(&spans, shared)
            .is_none()
            .then_some(shared),
    )
}

/// keras-hub's model beside its twin (see the module doc).
pub fn twin_edit(a: &Args) -> Result<super::TwinEdit> {
    let layers = a.dim("num_hidden_layers")?;
    let declared = a.count_or("num_kv_shared_layers", 0)?;
    let shared = runnable_shared_layers(a, layers)?.unwrap_or(declared);
    Ok(Box::new(move |arch: &mut TransformerArch| {
        if let Some(g) = arch.details.gemma3n.as_deref_mut() {
            g.keras_hub = true;
            g.kv_shared_layers = shared;
        }
    }))
}
