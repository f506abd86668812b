//! keras-hub's Gemma4Backbone: its text model, and its `vision_encoder` and
//! `audio_encoder` as one row each (gemma4_vision.rs, gemma4_audio.rs).
//!
//! Weights (gemma4_backbone.py, gemma4_decoder_block.py, gemma4_attention.py,
//! gemma4_moe.py): a tied `token_embedding`; per `decoder_block_i` four RMS norms, EinsumDense
//! q/k/v/o (query kernel `[heads, hidden, head_dim]`), q/k RMS scales of `head_dim` (v's
//! norm has no scale), a gated MLP and a non-trainable scalar `layer_scalar`. What the
//! constructor options change:
//! - global layers (`layer_types`, else the last of every `sliding_window_pattern`) take
//!   `global_head_dim`; with `num_global_key_value_heads` they have that many K heads and
//!   no V projection (V is K);
//! - the last `num_kv_shared_layers` layers borrow K/V from the last unshared layer of
//!   their kind: no k/v projections or k norm (a kind with no unshared layer keeps its
//!   own; all layers shared, the assistant's case, borrow from outside), and their MLP is
//!   twice as wide with `use_double_wide_mlp`;
//! - `enable_moe_block`: beside the dense MLP, three more norms, a router (`proj`
//!   `[hidden, experts]`, `per_dim_scale`) and the expert bank (gate/up `[E, hidden, I]`,
//!   down `[E, I, hidden]`, `per_expert_scale`);
//! - `hidden_size_per_layer_input`: a per-layer token embedding
//!   `[vocab_size_per_layer_input, layers × per_layer]`, its model projection and norm,
//!   and per block a gate `[hidden, per_layer]`, an up projection and a norm;
//! - `is_embedding_model`: mean pooling, two bias-free Dense layers and a unit norm.
//!
//! Memory: the transformers twin is `gemma4_text` (`hf_config`: the same layers and
//! widths under transformers' names), text only. keras-hub's model beside it
//! ([`twin_edit`]): the layer kinds as keras-hub builds them (transformers forces the last
//! layer to full attention), no layer slides without `use_sliding_window_attention`, a
//! KV-shared layer whose kind has no earlier unshared layer keeps its own k/v (transformers
//! refuses it), the expert bank runs every expert on every token, and
//! `attention_logit_soft_cap` makes attention unfused. `layer_scalar` is a buffer in
//! PyTorch (memory's `params` count as PyTorch does). The embedding head
//! (`is_embedding_model`) is lowered after the twin's final norm. With a vision or audio
//! encoder memory is refused, naming what it covers.
use serde_json::{json, Value};

use super::blocks::{dense, embedding, rms_norm, seq_shape, Args, Row};
use super::call_order::{self, CallGraph};
use super::{gemma4_audio, gemma4_vision, Backbone, Classifier};
use crate::arch::{AttentionSpan, TransformerArch};
use crate::error::{Error, Result};
use crate::weight::{dim, Weight};

/// What differs between the decoder blocks of one backbone.
struct Layer {
    global: bool,
    /// Borrows its K/V: no projections of its own.
    kv_shared: bool,
    /// The earlier layer it borrows from (`None` when every layer shares: the assistant
    /// borrows from its target model).
    kv_source: Option<u64>,
}

/// The backbone's inputs: the text's, then the vision encoder's and the audio encoder's
/// (a task sorts them by name).
fn inputs(vision: bool, audio: bool) -> &'static [&'static str] {
    const TEXT: [&str; 3] = ["token_ids", "padding_mask", "position_ids"];
    const VISION: [&str; 4] = [
        "pixel_position_ids",
        "pixel_values",
        "vision_indices",
        "vision_mask",
    ];
    const AUDIO: [&str; 4] = ["audio_indices", "audio_mask", "audio_mel", "audio_mel_mask"];
    const WITH_VISION: [&str; 7] = concat(TEXT, VISION);
    const WITH_AUDIO: [&str; 7] = concat(TEXT, AUDIO);
    const WITH_BOTH: [&str; 11] = concat(WITH_VISION, AUDIO);
    match (vision, audio) {
        (false, false) => &TEXT,
        (true, false) => &WITH_VISION,
        (false, true) => &WITH_AUDIO,
        (true, true) => &WITH_BOTH,
    }
}

const fn concat<const A: usize, const B: usize, const N: usize>(
    a: [&'static str; A],
    b: [&'static str; B],
) -> [&'static str; N] {
    let mut out = [""; N];
    let mut i = 0;
    while i < N {
        out[i] = if i < A { a[i] } else { b[i - A] };
        i += 1;
    }
    out
}

pub fn backbone(a: &Args) -> Result<Backbone> {
    let vision = gemma4_vision::nested(a)?;
    let audio = gemma4_audio::nested(a)?;
    let vocab = a.dim("vocabulary_size")?;
    let layers = a.dim("num_layers")?;
    let hidden = a.dim("hidden_dim")?;
    let per_layer = a.count_or("hidden_size_per_layer_input", 0)?;
    let embedder = a.flag_or("is_embedding_model", false)?;

    let stack = layer_kinds(a, layers)?;
    let mut rows = vec![Row::input("token_ids")];
    let mut token = Vec::new();
    embedding(&mut token, "", vocab, hidden);
    let token_row = Row::new(
        "token_embedding",
        "ReversibleEmbedding",
        seq_shape(Some(hidden)),
        token,
    );
    let token_weights = token_row.weights.clone();
    rows.push(token_row);
    rows.push(Row::input("padding_mask"));
    rows.push(Row::input("position_ids"));
    if let Some((name, enc)) = &vision {
        rows.push(enc.row(name));
        rows.push(Row::plain(
            "interleave_embeddings",
            "Gemma4InterleaveEmbeddings",
            hidden,
        ));
        rows.push(Row::new(
            "pixel_position_ids",
            "InputLayer",
            vec![None, None, None, Some(2)],
            Vec::new(),
        ));
        rows.push(Row::new(
            "pixel_values",
            "InputLayer",
            vec![None; 4],
            Vec::new(),
        ));
        rows.push(Row::input("vision_indices"));
        rows.push(Row::input("vision_mask"));
    }
    if let Some(enc) = &audio {
        rows.push(enc.row.clone());
        rows.push(Row::plain(
            "audio_interleave_embeddings",
            "Gemma4InterleaveEmbeddings",
            hidden,
        ));
        rows.push(Row::new(
            "audio_mel",
            "InputLayer",
            vec![None, None, None, Some(enc.mel_bins)],
            Vec::new(),
        ));
        rows.push(Row::new(
            "audio_mel_mask",
            "InputLayer",
            vec![None; 3],
            Vec::new(),
        ));
        rows.push(Row::input("audio_indices"));
        rows.push(Row::input("audio_mask"));
    }
    if per_layer > 0 {
        let per_vocab = a.dim_or("vocab_size_per_layer_input", vocab)?;
        let width = layers * per_layer;
        let mut w = Vec::new();
        embedding(&mut w, "", per_vocab, width);
        rows.push(Row::new(
            "per_layer_token_embedding",
            "Embedding",
            seq_shape(Some(width)),
            w,
        ));
        let mut w = Vec::new();
        dense(&mut w, "", hidden, width, false);
        rows.push(Row::new(
            "per_layer_model_projection",
            "Dense",
            seq_shape(Some(width)),
            w,
        ));
        let mut w = Vec::new();
        rms_norm(&mut w, "", per_layer);
        rows.push(Row::new(
            "per_layer_projection_norm",
            "RMSNormalization",
            seq_shape(Some(per_layer)),
            w,
        ));
    }
    for (i, layer) in stack.iter().enumerate() {
        rows.push(Row {
            // the block returns its output and its K/V cache: no single shape
            output_shape: None,
            ..Row::new(
                format!("decoder_block_{i}"),
                "Gemma4TextDecoderBlock",
                Vec::new(),
                block(a, layer, hidden, per_layer)?,
            )
        });
    }
    let mut norm = Vec::new();
    rms_norm(&mut norm, "", hidden);
    rows.push(Row::new(
        "final_normalization",
        "RMSNormalization",
        seq_shape(Some(hidden)),
        norm,
    ));
    if embedder {
        rows.extend(embedding_head(a, hidden)?);
    }
    let vision_name = vision.as_ref().map(|(name, _)| name.as_str());
    let audio_name = audio.as_ref().map(|enc| enc.row.name.as_str());
    let graph = call_graph(&stack, (vision_name, audio_name), per_layer > 0, embedder);
    let rows = call_order::ordered(rows, graph);
    let text_only = vision.is_none() && audio.is_none();
    Ok(Backbone {
        hf_config: match text_only {
            true => Some(twin_config(a, &stack)?),
            false => None,
        },
        rows,
        hidden,
        vocab,
        embed_dim: hidden,
        token_weights,
        inputs: inputs(vision.is_some(), audio.is_some()),
        pooled: embedder,
        classifier: Classifier::None,
        lm_row_shows_vocab: false,
    })
}

/// Each layer's kind and K/V source, as `Gemma4Backbone.__init__` computes them.
fn layer_kinds(a: &Args, layers: u64) -> Result<Vec<Layer>> {
    let global: Vec<bool> = match a.config.get("layer_types") {
        None | Some(Value::Null) => {
            let pattern = a.dim_or("sliding_window_pattern", 6)?;
            (0..layers).map(|i| i % pattern == pattern - 1).collect()
        }
        Some(Value::Array(types)) if types.len() as u64 == layers => types
            .iter()
            .map(|t| match t.as_str() {
                Some("full_attention") => Ok(true),
                Some(_) => Ok(false),
                None => Err(bad_types(a, layers)),
            })
            .collect::<Result<_>>()?,
        Some(_) => return Err(bad_types(a, layers)),
    };
    let shared = a.count_or("num_kv_shared_layers", 0)?;
    if shared > layers {
        return Err(Error::invalid(
            a.location,
            format!(
                "{} config key 'num_kv_shared_layers' ({shared}) exceeds num_layers ({layers})",
                a.class_name
            ),
        ));
    }
    let first_shared = layers - shared;
    Ok((0..layers)
        .map(|i| {
            let g = global[i as usize];
            // the last unshared layer of the same kind; none when all layers share
            let source = (0..first_shared).rev().find(|&k| global[k as usize] == g);
            let kv_shared = i >= first_shared && (first_shared == 0 || source.is_some());
            Layer {
                global: g,
                kv_shared,
                kv_source: source.filter(|_| kv_shared),
            }
        })
        .collect())
}

fn bad_types(a: &Args, layers: u64) -> Error {
    Error::invalid(
        a.location,
        format!(
            "{} config key 'layer_types' must be a list of {layers} strings ('full_attention' or 'sliding_attention')",
            a.class_name
        ),
    )
}

/// One `Gemma4TextDecoderBlock`'s weights.
fn block(a: &Args, layer: &Layer, hidden: u64, per_layer: u64) -> Result<Vec<Weight>> {
    let q = a.dim("num_query_heads")?;
    let head_dim = match layer.global {
        true => a.dim_opt("global_head_dim")?.unwrap_or(a.dim("head_dim")?),
        false => a.dim("head_dim")?,
    };
    // K=V with fewer heads on global layers (a global layer never slides)
    let global_kv = a
        .dim_opt("num_global_key_value_heads")?
        .filter(|_| layer.global);
    let kv = match global_kv {
        Some(heads) => heads,
        None => a.dim("num_key_value_heads")?,
    };
    let double_wide = a.flag_or("use_double_wide_mlp", false)?;
    let inter = a.dim("intermediate_dim")?
        * match layer.kv_shared && double_wide {
            true => 2,
            false => 1,
        };
    let mut w = Vec::new();
    rms_norm(&mut w, "pre_attention_norm", hidden);
    rms_norm(&mut w, "post_attention_norm", hidden);
    let heads_kernel = |name: &str, heads: u64| {
        Weight::new(
            format!("attention/{name}/kernel"),
            vec![
                dim(heads, "heads"),
                dim(hidden, "inputs"),
                dim(head_dim, "head_dim"),
            ],
        )
    };
    w.push(heads_kernel("query", q));
    if !layer.kv_shared {
        w.push(heads_kernel("key", kv));
        if global_kv.is_none() {
            w.push(heads_kernel("value", kv));
        }
        rms_norm(&mut w, "attention/key_norm", head_dim);
    }
    rms_norm(&mut w, "attention/query_norm", head_dim);
    w.push(Weight::new(
        "attention/attention_output/kernel",
        vec![
            dim(q, "heads"),
            dim(head_dim, "head_dim"),
            dim(hidden, "units"),
        ],
    ));
    rms_norm(&mut w, "pre_ffw_norm", hidden);
    rms_norm(&mut w, "post_ffw_norm", hidden);
    dense(&mut w, "ffw_gating", hidden, inter, false);
    dense(&mut w, "ffw_gating_2", hidden, inter, false);
    dense(&mut w, "ffw_linear", inter, hidden, false);
    if a.flag_or("enable_moe_block", false)? {
        let experts = a.dim("num_experts")?;
        let expert_inter = a.dim("expert_intermediate_dim")?;
        for norm in [
            "pre_ffw_norm_moe",
            "post_ffw_norm_dense",
            "post_ffw_norm_moe_path",
        ] {
            rms_norm(&mut w, norm, hidden);
        }
        dense(&mut w, "moe_router/proj", hidden, experts, false);
        w.push(Weight::new(
            "moe_router/per_dim_scale",
            vec![dim(hidden, "features")],
        ));
        let bank = |name: &str, dims: [(u64, &'static str); 3]| {
            Weight::new(
                format!("moe_expert_bank/{name}"),
                dims.iter().map(|&(n, l)| dim(n, l)).collect(),
            )
        };
        let up = [
            (experts, "experts"),
            (hidden, "inputs"),
            (expert_inter, "units"),
        ];
        w.push(bank("gate_proj", up));
        w.push(bank("up_proj", up));
        w.push(bank(
            "down_proj",
            [
                (experts, "experts"),
                (expert_inter, "inputs"),
                (hidden, "units"),
            ],
        ));
        w.push(Weight::new(
            "moe_expert_bank/per_expert_scale",
            vec![dim(experts, "experts")],
        ));
    }
    if per_layer > 0 {
        dense(&mut w, "per_layer_input_gate", hidden, per_layer, false);
        dense(&mut w, "per_layer_up_proj", per_layer, hidden, false);
        rms_norm(&mut w, "post_per_layer_input_norm", hidden);
    }
    w.push(Weight::new("layer_scalar", Vec::new()).frozen());
    Ok(w)
}

/// `is_embedding_model`'s head on the final norm: mean pooling, `pooling_dense_1`,
/// `embedding_projection` (both bias-free) and a unit norm.
fn embedding_head(a: &Args, hidden: u64) -> Result<Vec<Row>> {
    let missing = || {
        Error::invalid(
            a.location,
            format!(
                "{} with is_embedding_model needs 'pooling_intermediate_dim' and 'embedding_dim' (positive integers)",
                a.class_name
            ),
        )
    };
    let inter = a.dim_opt("pooling_intermediate_dim")?.ok_or_else(missing)?;
    let out = a.dim_opt("embedding_dim")?.ok_or_else(missing)?;
    let pooled = |width: u64| vec![None, Some(width)];
    let mut first = Vec::new();
    dense(&mut first, "", hidden, inter, false);
    let mut second = Vec::new();
    dense(&mut second, "", inter, out, false);
    Ok(vec![
        Row::new(
            "mean_pooling",
            "Gemma4MeanPooling",
            pooled(hidden),
            Vec::new(),
        ),
        Row::new("pooling_dense_1", "Dense", pooled(inter), first),
        Row::new("embedding_projection", "Dense", pooled(out), second),
        Row::new(
            "unit_normalization",
            "UnitNormalization",
            pooled(out),
            Vec::new(),
        ),
    ])
}

/// The calls `Gemma4Backbone.__init__` makes (with its vision and audio encoders of these
/// names), for the order of its rows.
fn call_graph(
    stack: &[Layer],
    (vision, audio): (Option<&str>, Option<&str>),
    per_layer: bool,
    embedder: bool,
) -> (CallGraph, Vec<usize>) {
    let mut g = CallGraph::default();
    let padding = g.input("padding_mask");
    let positions = g.input("position_ids");
    let ids = g.input("token_ids");
    let tokens = g.call("token_embedding", &[ids]);
    let mut x = tokens;
    let mut vision_mask = None;
    let mut per_layer_ids = ids;
    if let Some(encoder) = vision {
        // a dict of inputs flattens by key: pixel_position_ids, pixel_values
        let pixel_positions = g.input("pixel_position_ids");
        let pixels = g.input("pixel_values");
        let indices = g.input("vision_indices");
        let mask = g.input("vision_mask");
        let images = g.call(encoder, &[pixel_positions, pixels]);
        let images = g.op("image_scale", &[images]);
        // keywords by name: image_embeddings, text_embeddings, vision_indices
        x = g.call("interleave_embeddings", &[images, tokens, indices]);
        // vision positions read the padding id: where(cast(mask), zeros_like(ids), ids)
        let is_vision = g.op("vision_mask_cast", &[mask]);
        let zeros = g.op("zeros_like_ids", &[ids]);
        per_layer_ids = g.op("per_layer_ids", &[is_vision, zeros, ids]);
        vision_mask = Some(mask);
    }
    if let Some(encoder) = audio {
        let mel = g.input("audio_mel");
        let mel_mask = g.input("audio_mel_mask");
        let indices = g.input("audio_indices");
        let mask = g.input("audio_mask");
        let mel_mask = g.op("audio_mel_mask_cast", &[mel_mask]);
        let clips = g.call(encoder, &[mel, mel_mask]);
        let clips = g.op("audio_scale", &[clips]);
        x = g.call("audio_interleave_embeddings", &[clips, x, indices]);
        if !per_layer {
            // keras-hub ties audio_mask into the graph: x + expand_dims(cast(mask) * 0)
            let dummy = g.op("audio_mask_cast", &[mask]);
            let dummy = g.op("audio_mask_zero", &[dummy]);
            let dummy = g.op("audio_mask_expand", &[dummy]);
            x = g.op("audio_mask_add", &[x, dummy]);
        }
        let is_audio = g.op("audio_mask_bool", &[mask]);
        let zeros = g.op("zeros_like_audio_ids", &[per_layer_ids]);
        per_layer_ids = g.op("per_layer_audio_ids", &[is_audio, zeros, per_layer_ids]);
    }
    let per_emb = per_layer.then(|| {
        let e = g.call("per_layer_token_embedding", &[per_layer_ids]);
        let e = g.op("per_layer_cast", &[e]);
        g.op("per_layer_scale", &[e])
    });
    x = g.op("embedding_scale", &[x]);
    let per_proj = per_layer.then(|| {
        let p = g.call("per_layer_model_projection", &[x]);
        g.op("per_layer_projection_scale", &[p])
    });
    let mut caches = Vec::new();
    for (i, layer) in stack.iter().enumerate() {
        let per_layer_input = match (per_proj, per_emb) {
            (Some(proj), Some(emb)) => {
                let p = g.op(&format!("proj_slice_{i}"), &[proj]);
                let e = g.op(&format!("emb_slice_{i}"), &[emb]);
                let p = g.call("per_layer_projection_norm", &[p]);
                let sum = g.op(&format!("per_layer_add_{i}"), &[p, e]);
                Some(g.op(&format!("per_layer_input_{i}"), &[sum]))
            }
            _ => None,
        };
        // x, then keywords by name: padding_mask, per_layer_input, positions, shared_kv,
        // vision_mask
        let mut args = vec![x, padding];
        args.extend(per_layer_input);
        args.push(positions);
        args.extend(layer.kv_source.map(|k| caches[k as usize]));
        args.extend(vision_mask);
        x = g.call(&format!("decoder_block_{i}"), &args);
        caches.push(x);
    }
    let sequence = g.call("final_normalization", &[x]);
    if !embedder {
        return (g, vec![sequence]);
    }
    let pooled = g.call("mean_pooling", &[sequence, padding]);
    let pooled = g.call("pooling_dense_1", &[pooled]);
    let pooled = g.call("embedding_projection", &[pooled]);
    let pooled = g.call("unit_normalization", &[pooled]);
    // a dict of outputs flattens by key: pooled_output, sequence_output
    (g, vec![pooled, sequence])
}

/// The `gemma4_text` config.json of the same model (see the module doc); where transformers
/// cannot state keras-hub's KV sharing (a kind with no unshared layer) it states none and
/// [`twin_edit`] sets it.
fn twin_config(a: &Args, stack: &[Layer]) -> Result<Value> {
    let layers = stack.len() as u64;
    let types: Vec<&str> = stack
        .iter()
        .map(|l| match l.global {
            true => "full_attention",
            false => "sliding_attention",
        })
        .collect();
    let shared = a.count_or("num_kv_shared_layers", 0)?;
    let first = layers - shared;
    let stated = match first > 0
        && stack[first as usize..]
            .iter()
            .all(|l| l.kv_source.is_some())
    {
        true => shared,
        false => 0,
    };
    let global_kv = a.dim_opt("num_global_key_value_heads")?;
    let moe = a.flag_or("enable_moe_block", false)?;
    let head_dim = a.dim("head_dim")?;
    let vocab = a.dim("vocabulary_size")?;
    let soft_cap = match a.config.get("final_logit_soft_cap") {
        None | Some(Value::Null) => Value::Null,
        Some(_) => json!(a.float_or("final_logit_soft_cap", 0.0)?),
    };
    Ok(json!({
        "model_type": "gemma4_text",
        "vocab_size": vocab,
        "hidden_size": a.dim("hidden_dim")?,
        "intermediate_size": a.dim("intermediate_dim")?,
        "num_hidden_layers": layers,
        "num_attention_heads": a.dim("num_query_heads")?,
        "num_key_value_heads": a.dim("num_key_value_heads")?,
        "head_dim": head_dim,
        "global_head_dim": a.dim_opt("global_head_dim")?.unwrap_or(head_dim),
        "hidden_activation": "gelu_pytorch_tanh",
        "layer_types": types,
        "sliding_window": a.dim_opt("sliding_window_size")?.unwrap_or(512),
        "rms_norm_eps": a.float_or("layer_norm_epsilon", 1e-6)?,
        "attention_dropout": a.float_or("dropout", 0.0)?,
        "attention_k_eq_v": global_kv.is_some(),
        "num_global_key_value_heads": global_kv,
        "hidden_size_per_layer_input": a.count_or("hidden_size_per_layer_input", 0)?,
        "vocab_size_per_layer_input": a.dim_opt("vocab_size_per_layer_input")?.unwrap_or(vocab),
        "num_kv_shared_layers": stated,
        "use_double_wide_mlp": a.flag_or("use_double_wide_mlp", false)?,
        "enable_moe_block": moe,
        "num_experts": if moe { json!(a.dim("num_experts")?) } else { Value::Null },
        "top_k_experts": if moe { json!(a.dim_opt("num_experts_per_token")?.unwrap_or(8)) } else { Value::Null },
        "moe_intermediate_size": if moe { json!(a.dim("expert_intermediate_dim")?) } else { Value::Null },
        "final_logit_softcapping": soft_cap,
        "use_bidirectional_attention": if a.flag_or("use_bidirectional_attention", false)? { json!("all") } else { Value::Null },
        "tie_word_embeddings": true,
    }))
}

/// keras-hub's model beside its twin (see the module doc).
pub fn twin_edit(a: &Args) -> Result<super::TwinEdit> {
    let layers = a.dim("num_layers")?;
    let stack = layer_kinds(a, layers)?;
    let slides = a.flag_or("use_sliding_window_attention", true)?;
    let window = a.dim_opt("sliding_window_size")?.unwrap_or(512);
    let global: Vec<bool> = stack.iter().map(|l| l.global).collect();
    let shared: Vec<bool> = stack.iter().map(|l| l.kv_shared).collect();
    let embedding_head = match a.flag_or("is_embedding_model", false)? {
        true => Some((a.dim("pooling_intermediate_dim")?, a.dim("embedding_dim")?)),
        false => None,
    };
    let soft_capped = !matches!(
        a.config.get("attention_logit_soft_cap"),
        None | Some(Value::Null)
    );
    Ok(Box::new(move |arch: &mut TransformerArch| {
        for (layer, &g) in arch.details.layers.iter_mut().zip(&global) {
            layer.span = match slides && !g {
                true => AttentionSpan::Sliding(window),
                false => AttentionSpan::Full,
            };
        }
        if let Some(g4) = arch.details.gemma4.as_deref_mut() {
            g4.global = global.clone();
            g4.kv_shared = shared.clone();
            g4.dense_experts = true;
            g4.attention_softcap = soft_capped;
            g4.embedding_head = embedding_head;
        }
    }))
}
