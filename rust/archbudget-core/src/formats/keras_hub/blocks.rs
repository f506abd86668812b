//! The Keras layers keras-hub builds its text backbones from, each declaring its weights
//! with the paths `layer.weights` gives them (`self_attention/query/kernel`), so that a
//! row's count is Keras's `count_params()` and a weight reused by a task (the token
//! embedding of a CausalLM or MaskedLM head) is recognised by its path and counted once.
use serde_json::Value;

use crate::error::{Error, Result};
use crate::shape::Shape;
use crate::summary::OutputShape;
use crate::weight::{dim, Weight};

/// One row of `model.summary()`: a layer, its output and its weights (full paths).
#[derive(Clone)]
pub struct Row {
    pub name: String,
    pub class_name: String,
    pub output_shape: Option<OutputShape>,
    pub weights: Vec<Weight>,
    /// A backbone nested in a task model: explained as a total, not weight by weight.
    pub nested: bool,
}

impl Row {
    pub fn new(
        name: impl Into<String>,
        class_name: &str,
        shape: Shape,
        weights: Vec<Weight>,
    ) -> Row {
        let name = name.into();
        let weights = weights
            .into_iter()
            .map(|w| Weight {
                name: format!("{name}/{}", w.name),
                ..w
            })
            .collect();
        Row {
            name,
            class_name: class_name.to_string(),
            output_shape: Some(OutputShape::Single(shape)),
            weights,
            nested: false,
        }
    }

    /// An `InputLayer` of token positions (`token_ids`, `padding_mask`, `segment_ids`).
    pub fn input(name: &str) -> Row {
        Row::new(name, "InputLayer", seq_shape(None), Vec::new())
    }

    /// A weightless layer on the sequence (`Add`, `Dropout`).
    pub fn plain(name: &str, class_name: &str, width: u64) -> Row {
        Row::new(name, class_name, seq_shape(Some(width)), Vec::new())
    }
}

/// `(batch, tokens)` or `(batch, tokens, width)`, both unknown.
pub fn seq_shape(width: Option<u64>) -> Shape {
    let mut s: Shape = vec![None, None];
    s.extend(width.map(Some));
    s
}

/// `name/leaf`, or `leaf` for a weight of the layer itself (`name` empty).
fn path(name: &str, leaf: &str) -> String {
    if name.is_empty() {
        leaf.to_string()
    } else {
        format!("{name}/{leaf}")
    }
}

pub fn kernel(name: &str, dims: &[(u64, &'static str)]) -> Weight {
    Weight::new(
        path(name, "kernel"),
        dims.iter().map(|&(n, l)| dim(n, l)).collect(),
    )
}

/// `keras.layers.Dense` (or a 2-D `EinsumDense`): kernel `[in, out]`, bias `[out]`.
pub fn dense(w: &mut Vec<Weight>, name: &str, d_in: u64, d_out: u64, bias: bool) {
    w.push(kernel(name, &[(d_in, "inputs"), (d_out, "units")]));
    if bias {
        w.push(Weight::new(path(name, "bias"), vec![dim(d_out, "units")]));
    }
}

/// `keras.layers.LayerNormalization`: gamma and beta.
pub fn layer_norm(w: &mut Vec<Weight>, name: &str, width: u64) {
    w.push(Weight::new(
        path(name, "gamma"),
        vec![dim(width, "features")],
    ));
    w.push(Weight::new(
        path(name, "beta"),
        vec![dim(width, "features")],
    ));
}

/// The RMS norms of keras-hub (`LlamaLayerNorm`, `RMSNormalization`, ...): one scale.
pub fn rms_norm(w: &mut Vec<Weight>, name: &str, width: u64) {
    w.push(Weight::new(
        path(name, "scale"),
        vec![dim(width, "features")],
    ));
}

/// An embedding table `[rows, width]` named `embeddings` under `name` ("" for the layer
/// itself).
pub fn embedding(w: &mut Vec<Weight>, name: &str, rows: u64, width: u64) {
    w.push(Weight::new(
        path(name, "embeddings"),
        vec![dim(rows, "rows"), dim(width, "features")],
    ));
}

/// The heads of one attention layer.
#[derive(Clone, Copy)]
pub struct Heads {
    pub hidden: u64,
    pub q: u64,
    pub kv: u64,
    pub head_dim: u64,
}

/// `keras.layers.MultiHeadAttention` / keras-hub's cached attentions: q, k, v kernels
/// `[hidden, heads, head_dim]` and an output kernel `[heads, head_dim, hidden]`, with
/// biases `[heads, head_dim]` and `[hidden]` when `qkv_bias` / `o_bias`.
pub fn attention(w: &mut Vec<Weight>, name: &str, h: Heads, qkv_bias: bool, o_bias: bool) {
    for (proj, heads) in [("query", h.q), ("key", h.kv), ("value", h.kv)] {
        let p = format!("{name}/{proj}");
        w.push(kernel(
            &p,
            &[
                (h.hidden, "inputs"),
                (heads, "heads"),
                (h.head_dim, "head_dim"),
            ],
        ));
        if qkv_bias {
            w.push(Weight::new(
                format!("{p}/bias"),
                vec![dim(heads, "heads"), dim(h.head_dim, "head_dim")],
            ));
        }
    }
    let p = format!("{name}/attention_output");
    w.push(kernel(
        &p,
        &[
            (h.q, "heads"),
            (h.head_dim, "head_dim"),
            (h.hidden, "units"),
        ],
    ));
    if o_bias {
        w.push(Weight::new(
            format!("{p}/bias"),
            vec![dim(h.hidden, "units")],
        ));
    }
}

/// The `token_embedding` row of keras-hub's decoders: a `ReversibleEmbedding` of `vocab`
/// rows, with its own `reverse_embeddings` `[hidden, vocab]` where the LM head is not
/// tied to it.
pub fn token_embedding(vocab: u64, hidden: u64, tied: bool) -> Row {
    let mut token = Vec::new();
    embedding(&mut token, "", vocab, hidden);
    if !tied {
        token.push(Weight::new(
            "reverse_embeddings",
            vec![dim(hidden, "features"), dim(vocab, "rows")],
        ));
    }
    Row::new(
        "token_embedding",
        "ReversibleEmbedding",
        seq_shape(Some(hidden)),
        token,
    )
}

/// The rows of `layers` identical layers of class `class`, `transformer_layer_{i}`.
pub fn layer_rows<'a>(
    layers: u64,
    class: &'a str,
    hidden: u64,
    block: &'a [Weight],
) -> impl Iterator<Item = Row> + 'a {
    (0..layers).map(move |i| {
        Row::new(
            format!("transformer_layer_{i}"),
            class,
            seq_shape(Some(hidden)),
            block.to_vec(),
        )
    })
}

/// A norm layer's own row: `LayerNormalization`'s gamma and beta, or an RMS norm's scale.
pub fn norm_row(name: &str, class: &str, hidden: u64, rms: bool) -> Row {
    let mut w = Vec::new();
    match rms {
        true => rms_norm(&mut w, "", hidden),
        false => layer_norm(&mut w, "", hidden),
    }
    Row::new(name, class, seq_shape(Some(hidden)), w)
}

/// Separate biased q, k and v `EinsumDense` kernels `[hidden, heads, head_dim]` under
/// `{name}/query_dense` (bloom's and falcon's attention, which transformers fuses
/// into one `query_key_value`).
pub fn biased_qkv_per_head(
    w: &mut Vec<Weight>,
    name: &str,
    hidden: u64,
    heads: u64,
    head_dim: u64,
) {
    for proj in ["query_dense", "key_dense", "value_dense"] {
        let p = format!("{name}/{proj}");
        w.push(kernel(
            &p,
            &[(hidden, "inputs"), (heads, "heads"), (head_dim, "head_dim")],
        ));
        w.push(Weight::new(
            format!("{p}/bias"),
            vec![dim(heads, "heads"), dim(head_dim, "head_dim")],
        ));
    }
}

/// keras-hub's `TransformerDecoder` / `TransformerEncoder` (gpt2, opt, bert, ...):
/// biased multi-head attention and a two-layer feedforward, each with a LayerNorm.
pub fn transformer_block(
    attention_name: &str,
    norm_name: &str,
    h: Heads,
    inter: u64,
) -> Vec<Weight> {
    let mut w = Vec::new();
    attention(&mut w, attention_name, h, true, true);
    layer_norm(&mut w, norm_name, h.hidden);
    dense(
        &mut w,
        "feedforward_intermediate_dense",
        h.hidden,
        inter,
        true,
    );
    dense(&mut w, "feedforward_output_dense", inter, h.hidden, true);
    layer_norm(&mut w, "feedforward_layer_norm", h.hidden);
    w
}

/// The constructor arguments of a keras-hub class, read with errors that name the key.
pub struct Args<'a> {
    pub config: &'a serde_json::Map<String, Value>,
    pub class_name: &'a str,
    pub location: &'a str,
}

impl Args<'_> {
    fn bad(&self, key: &str, what: &str) -> Error {
        Error::invalid(
            self.location,
            format!("{} config key '{key}' {what}", self.class_name),
        )
    }

    /// A required positive integer.
    pub fn dim(&self, key: &str) -> Result<u64> {
        self.dim_opt(key)?
            .ok_or_else(|| self.bad(key, "is missing (a positive integer is required)"))
    }

    pub fn dim_or(&self, key: &str, default: u64) -> Result<u64> {
        Ok(self.dim_opt(key)?.unwrap_or(default))
    }

    /// A positive integer, `None` when absent or null.
    pub fn dim_opt(&self, key: &str) -> Result<Option<u64>> {
        match self.config.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => crate::layers::positive_int(v)
                .map(Some)
                .ok_or_else(|| self.bad(key, &format!("must be a positive integer, got {v}"))),
        }
    }

    /// A non-negative integer (a count that may be zero, `num_experts`).
    pub fn count_or(&self, key: &str, default: u64) -> Result<u64> {
        match self.config.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v
                .as_u64()
                .ok_or_else(|| self.bad(key, &format!("must be a non-negative integer, got {v}"))),
        }
    }

    /// A list of non-negative integers (layer indices); empty when absent or null.
    pub fn count_list(&self, key: &str) -> Result<Vec<u64>> {
        let bad = |v: &Value| self.bad(key, &format!("must be a list of layer indices, got {v}"));
        match self.config.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_u64().ok_or_else(|| bad(v)))
                .collect(),
            Some(v) => Err(bad(v)),
        }
    }

    pub fn flag_or(&self, key: &str, default: bool) -> Result<bool> {
        match self.config.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(self.bad(key, &format!("must be true or false, got {v}"))),
        }
    }

    pub fn float_or(&self, key: &str, default: f64) -> Result<f64> {
        match self.config.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v
                .as_f64()
                .ok_or_else(|| self.bad(key, &format!("must be a number, got {v}"))),
        }
    }

    /// `hidden` must split into `heads` equal parts (keras-hub's `hidden_dim // num_heads`).
    pub fn per_head(&self, hidden: (&str, u64), heads: (&str, u64)) -> Result<u64> {
        if hidden.1 % heads.1 != 0 {
            return Err(Error::invalid(
                self.location,
                format!(
                    "{} config: {} ({}) must be a multiple of {} ({})",
                    self.class_name, hidden.0, hidden.1, heads.0, heads.1
                ),
            ));
        }
        Ok(hidden.1 / heads.1)
    }
}
