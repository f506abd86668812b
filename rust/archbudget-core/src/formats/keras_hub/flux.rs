//! keras-hub's `FluxBackbone` (and `FluxTextToImage`, the backbone's own graph): the
//! image and text tokens embedded by Dense layers, a conditioning vector from the
//! timestep, the pooled text vector `y` and (with `guidance_embed`) the guidance scale,
//! each through an `MLPEmbedder`; `depth` double-stream blocks (image and text each with
//! their own weights, attending together), `depth_single_blocks` single-stream blocks
//! on the joined tokens, and a `LastLayer` back to the image's channels.
//!
//! Weights (keras_hub/src/models/flux/flux_layers.py): every Dense is biased but the
//! double blocks' `qkv` without `use_bias`; the LayerNormalizations keep Keras's gamma and
//! beta; `QKNorm` holds two RMS scales of one head's width. A double block's stream: its
//! `Modulation` (hidden → 6 × hidden), two LayerNorms, `qkv` (hidden → 3 × hidden), its
//! norms, `proj`, and an MLP (hidden → `int(hidden × mlp_ratio)` → hidden); a single
//! block: `linear1` (hidden → 3 × hidden + MLP width), `linear2` (hidden + MLP width →
//! hidden), its norms, a LayerNorm and a `Modulation` (3 × hidden). The last layer: a
//! LayerNorm, the output Dense (hidden → `input_channels`, patch 1) and its modulation
//! Dense (hidden → 2 × hidden).
//!
//! Flux's layers are created without names, so Keras numbers them from its session's
//! counters: the rows carry the names a fresh process gives them (`dense`, `dense_7`, ...:
//! the embedders' inner Dense layers take numbers in between).
use serde_json::Value;

use super::blocks::{dense, layer_norm, Args, Row};
use super::call_order::{self, CallGraph};
use super::Backbone;
use crate::error::{Error, Result};
use crate::shape::Shape;
use crate::weight::{dim, Weight};

/// `TimestepEmbedding`'s width (FluxBackbone calls it with `dim=256`).
pub const FREQUENCIES: u64 = 256;

/// The sizes memory lowers the denoiser from (memory/flux.rs).
#[derive(Clone, Debug)]
pub struct Flux {
    pub hidden: u64,
    pub heads: u64,
    /// `int(hidden_size * mlp_ratio)`.
    pub mlp: u64,
    pub depth: u64,
    pub singles: u64,
    /// The double blocks' `qkv` bias (`use_bias`).
    pub qkv_bias: bool,
    pub guidance: bool,
    /// `input_channels`: the last layer's output width (patch size 1).
    pub channels: u64,
    /// Image and text tokens (`None`: the shape leaves them unknown) and widths.
    pub image_tokens: Option<u64>,
    pub image_width: u64,
    pub text_tokens: Option<u64>,
    pub text_width: u64,
    /// The pooled text vector `y`: its shape without the batch axis (the last known).
    pub y: Vec<Option<u64>>,
    /// Axes of the image and text ids (`image_ids_shape[-1]`).
    pub id_axes: u64,
}

impl Flux {
    pub fn head_dim(&self) -> u64 {
        self.hidden / self.heads
    }
}

/// The sizes of a `FluxBackbone`, or of a `FluxTextToImage` nesting one; `None` for any
/// other model.
pub fn denoiser(value: &Value, location: &str) -> Result<Option<Flux>> {
    let backbone = value
        .get("config")
        .and_then(|c| c.get("backbone"))
        .unwrap_or(value);
    if backbone.get("registered_name").and_then(Value::as_str) != Some("keras_hub>FluxBackbone") {
        return Ok(None);
    }
    let class_name = "FluxBackbone";
    let config = super::config_of(backbone, class_name, location)?;
    let a = Args {
        config,
        class_name,
        location,
    };
    Ok(Some(read(&a)?.1))
}

pub fn backbone(a: &Args) -> Result<Backbone> {
    let (rows, flux) = read(a)?;
    Ok(Backbone {
        pooled: true,
        ..Backbone::untokenized(None, rows, flux.hidden, &[])
    })
}

/// The rows of `model.summary()` and the sizes.
fn read(a: &Args) -> Result<(Vec<Row>, Flux)> {
    let channels = a.dim("input_channels")?;
    let h = a.dim("hidden_size")?;
    let heads = a.dim("num_heads")?;
    let head_dim = a.per_head(("hidden_size", h), ("num_heads", heads))?;
    let ratio = a.float_or("mlp_ratio", 4.0)?;
    if ratio <= 0.0 {
        return Err(Error::invalid(
            a.location,
            format!(
                "{} config key 'mlp_ratio' must be positive, got {ratio}",
                a.class_name
            ),
        ));
    }
    // keras-hub's `int(hidden_size * mlp_ratio)`
    let mlp = (h as f64 * ratio) as u64;
    let depth = a.count_or("depth", 0)?;
    let singles = a.count_or("depth_single_blocks", 0)?;
    let qkv_bias = a.flag_or("use_bias", false)?;
    let guidance = a.flag_or("guidance_embed", false)?;
    let axes = a.count_list("axes_dim")?;
    let (image, image_width) = tokens_and_width(a, "image_shape")?;
    let (text, text_width) = tokens_and_width(a, "text_shape")?;
    let (image_ids, n_axes) = tokens_and_width(a, "image_ids_shape")?;
    let (text_ids, text_axes) = tokens_and_width(a, "text_ids_shape")?;
    // one rotary row per token of the joined sequence: ApplyRoPE broadcasts the table
    // over q and k
    let sum = |x: Option<u64>, y: Option<u64>| x?.checked_add(y?);
    if let (Some(ids), Some(tokens)) = (sum(text_ids, image_ids), sum(text, image)) {
        if ids != tokens {
            return Err(Error::invalid(
                a.location,
                format!(
                    "{} config: text_ids_shape and image_ids_shape give {ids} tokens where text_shape and image_shape give {tokens}: each token needs its ids",
                    a.class_name
                ),
            ));
        }
    }
    let y_shape = dims(a, "y_shape")?;
    let y = y_shape[y_shape.len() - 1].unwrap_or(0);
    if axes.len() < n_axes as usize || text_axes != n_axes {
        return Err(Error::invalid(
            a.location,
            format!(
                "{} config: image and text ids must have as many axes ({n_axes}, {text_axes}) as 'axes_dim' lists widths for ({})",
                a.class_name,
                axes.len()
            ),
        ));
    }
    let rope: u64 = axes
        .iter()
        .take(n_axes as usize)
        .map(|d| d.div_ceil(2))
        .sum();
    // ApplyRoPE multiplies each (even, odd) pair of a head by one (cos, sin) of the table
    if 2 * rope != head_dim {
        return Err(Error::invalid(
            a.location,
            format!(
                "{} config: the rotary table's pairs (the first {n_axes} 'axes_dim' widths, halved and rounded up: {rope}) must be half a head ({head_dim}, hidden_size / num_heads), as keras-hub's ApplyRoPE multiplies them",
                a.class_name
            ),
        ));
    }

    // names in creation order: Keras numbers each class's unnamed layers
    let embedders = if guidance { 3 } else { 2 };
    let text_dense = format!("dense_{}", 1 + 2 * embedders);
    let mut rows = Vec::new();
    let seq = |tokens: Option<u64>, width: u64| vec![None, tokens, Some(width)];
    let input = |name: &str, shape: Shape| Row::new(name, "InputLayer", shape, Vec::new());
    let batched =
        |key: &str| -> Result<Shape> { Ok(std::iter::once(None).chain(dims(a, key)?).collect()) };
    for (name, key) in [
        ("image", "image_shape"),
        ("image_ids", "image_ids_shape"),
        ("text", "text_shape"),
        ("text_ids", "text_ids_shape"),
        ("y", "y_shape"),
    ] {
        rows.push(input(name, batched(key)?));
    }
    rows.push(input("timesteps", vec![None]));
    rows.push(input("guidance", vec![None]));
    let mut w = Vec::new();
    dense(&mut w, "", image_width, h, true);
    rows.push(Row::new("dense", "Dense", seq(image, h), w));
    let mut w = Vec::new();
    dense(&mut w, "", text_width, h, true);
    rows.push(Row::new(&text_dense, "Dense", seq(text, h), w));
    rows.push(Row::new(
        "timestep_embedding",
        "TimestepEmbedding",
        vec![None, Some(FREQUENCIES)],
        Vec::new(),
    ));
    let embedder = |name: &str, d_in: u64, first: u64, mut shape: Shape| {
        let mut w = Vec::new();
        dense(&mut w, &format!("dense_{first}"), d_in, h, true);
        dense(&mut w, &format!("dense_{}", first + 1), h, h, true);
        // the input's shape, its last axis `hidden` wide
        shape.pop();
        shape.push(Some(h));
        Row::new(name, "MLPEmbedder", shape, w)
    };
    let vector: Shape = vec![None, Some(FREQUENCIES)];
    rows.push(embedder("mlp_embedder", FREQUENCIES, 1, vector.clone()));
    rows.push(embedder("mlp_embedder_1", y, 3, batched("y_shape")?));
    if guidance {
        rows.push(embedder("mlp_embedder_2", FREQUENCIES, 5, vector));
    }
    let joined = match (text, image) {
        (Some(t), Some(i)) => Some(t + i),
        _ => None,
    };
    rows.push(Row::new(
        "embed_nd",
        "EmbedND",
        vec![None, joined, Some(rope), Some(2)],
        Vec::new(),
    ));
    let norms = |w: &mut Vec<Weight>, name: &str| {
        for norm in ["query_norm", "key_norm"] {
            w.push(Weight::new(
                format!("{name}/{norm}/scale"),
                vec![dim(head_dim, "head_dim")],
            ));
        }
    };
    for i in 0..depth {
        let mut w = Vec::new();
        for stream in ["image", "text"] {
            dense(&mut w, &format!("{stream}_mod"), h, 6 * h, true);
            layer_norm(&mut w, &format!("{stream}_norm1"), h);
            dense(&mut w, &format!("{stream}_attn/qkv"), h, 3 * h, qkv_bias);
            norms(&mut w, &format!("{stream}_attn/norm"));
            dense(&mut w, &format!("{stream}_attn/proj"), h, h, true);
            layer_norm(&mut w, &format!("{stream}_norm2"), h);
            dense(&mut w, &format!("{stream}_mlp/in"), h, mlp, true);
            dense(&mut w, &format!("{stream}_mlp/out"), mlp, h, true);
        }
        // returns the image and text tokens: no single shape
        rows.push(Row {
            output_shape: None,
            ..Row::new(
                numbered("double_stream_block", i),
                "DoubleStreamBlock",
                Vec::new(),
                w,
            )
        });
    }
    for i in 0..singles {
        let mut w = Vec::new();
        dense(&mut w, "linear1", h, 3 * h + mlp, true);
        dense(&mut w, "linear2", h + mlp, h, true);
        norms(&mut w, "norm");
        layer_norm(&mut w, "pre_norm", h);
        dense(&mut w, "modulation", h, 3 * h, true);
        rows.push(Row::new(
            numbered("single_stream_block", i),
            "SingleStreamBlock",
            seq(joined, h),
            w,
        ));
    }
    let mut w = Vec::new();
    layer_norm(&mut w, "norm_final", h);
    dense(&mut w, "linear", h, channels, true);
    dense(&mut w, "adaLN_modulation", h, 2 * h, true);
    rows.push(Row::new("last_layer", "LastLayer", seq(image, channels), w));

    let rows = call_order::ordered(rows, call_graph(depth, singles, guidance, &text_dense));
    let flux = Flux {
        hidden: h,
        heads,
        mlp,
        depth,
        singles,
        qkv_bias,
        guidance,
        channels,
        image_tokens: image,
        image_width,
        text_tokens: text,
        text_width,
        y: y_shape,
        id_axes: n_axes,
    };
    Ok((rows, flux))
}

/// Keras's name for the `i`-th unnamed layer of a class.
fn numbered(base: &str, i: u64) -> String {
    match i {
        0 => base.to_string(),
        i => format!("{base}_{i}"),
    }
}

/// The calls `FluxBackbone.__init__` makes (flux_model.py), for the order of its rows.
fn call_graph(
    depth: u64,
    singles: u64,
    guidance: bool,
    text_dense: &str,
) -> (CallGraph, Vec<usize>) {
    let mut g = CallGraph::default();
    let image_input = g.input("image");
    let image_ids = g.input("image_ids");
    let text_input = g.input("text");
    let text_ids = g.input("text_ids");
    let y = g.input("y");
    let timesteps = g.input("timesteps");
    let guidance_input = g.input("guidance");
    let mut image = g.call("dense", &[image_input]);
    let t = g.call("timestep_embedding", &[timesteps]);
    let mut modulation = g.call("mlp_embedder", &[t]);
    if guidance {
        let t = g.call("timestep_embedding", &[guidance_input]);
        let e = g.call("mlp_embedder_2", &[t]);
        modulation = g.op("add_guidance", &[modulation, e]);
    }
    let v = g.call("mlp_embedder_1", &[y]);
    modulation = g.op("add_vector", &[modulation, v]);
    let mut text = g.call(text_dense, &[text_input]);
    let ids = g.op("concatenate_ids", &[text_ids, image_ids]);
    let positions = g.call("embed_nd", &[ids]);
    for i in 0..depth {
        // keyword arguments, sorted: image, modulation_encoding, positional_encoding, text
        let block = g.call(
            &numbered("double_stream_block", i),
            &[image, modulation, positions, text],
        );
        (image, text) = (block, block);
    }
    let mut x = g.op("concatenate_tokens", &[text, image]);
    for i in 0..singles {
        x = g.call(
            &numbered("single_stream_block", i),
            &[x, modulation, positions],
        );
    }
    let x = g.op("image_tokens", &[x]);
    let out = g.call("last_layer", &[x, modulation]);
    (g, vec![out])
}

/// A shape argument without its batch axis: any number of axes, the last one known
/// (the width a Dense reads).
fn dims(a: &Args, key: &str) -> Result<Vec<Option<u64>>> {
    let bad = || {
        Error::invalid(
            a.location,
            format!(
                "{} config key '{key}' must be a list of positive integers (null for an unknown length), its last one known, got {}",
                a.class_name,
                a.config.get(key).unwrap_or(&Value::Null)
            ),
        )
    };
    let items = a
        .config
        .get(key)
        .and_then(Value::as_array)
        .filter(|v| !v.is_empty())
        .ok_or_else(bad)?;
    let out = items
        .iter()
        .map(|x| match x {
            Value::Null => Some(None),
            x => crate::layers::positive_int(x).map(Some),
        })
        .collect::<Option<Vec<Option<u64>>>>()
        .ok_or_else(bad)?;
    match out.last() {
        Some(Some(_)) => Ok(out),
        _ => Err(bad()),
    }
}

/// A `(tokens, width)` shape argument: its tokens (maybe unknown) and width.
fn tokens_and_width(a: &Args, key: &str) -> Result<(Option<u64>, u64)> {
    let d = dims(a, key)?;
    if d.len() != 2 {
        return Err(Error::invalid(
            a.location,
            format!(
                "{} config key '{key}' must be (tokens, width), got {} axes",
                a.class_name,
                d.len()
            ),
        ));
    }
    Ok((d[0], d[1].unwrap_or(0)))
}
