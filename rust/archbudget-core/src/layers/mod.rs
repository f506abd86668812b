//! Keras layer rules, one file per family (as Keras keeps them in `keras/src/layers/`).
//!
//! A rule reads the layer's config and the shapes of the tensors it is called on, and
//! declares the weights the layer builds and the shapes it returns. Counts, bytes and
//! `--explain` formulas are derived from the declared weights (see `crate::weight`);
//! the memory model and the sweep read the same declarations.
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::shape::Shape;
use crate::weight::Weight;

pub mod applications;
pub mod attention;
pub mod conv;
pub mod core;
pub mod declared;
pub mod merge;
pub mod norm;
pub mod ops;
pub mod pooling;
pub mod preprocessing;
pub mod recurrent;
pub mod reshape;

/// What a layer builds on its first call and returns on every call.
#[derive(Debug, Clone, Default)]
pub struct Built {
    pub weights: Vec<Weight>,
    pub outputs: Vec<Shape>,
}

impl Built {
    pub fn new(weights: Vec<Weight>, output: Shape) -> Self {
        Built {
            weights,
            outputs: vec![output],
        }
    }
    pub fn stateless(output: Shape) -> Self {
        Built {
            weights: Vec::new(),
            outputs: vec![output],
        }
    }
}

/// A layer's config and where it sits, for rules and their error messages.
pub struct LayerCtx<'a> {
    pub class_name: &'a str,
    pub name: &'a str,
    pub config: &'a Map<String, Value>,
    /// `model.json: layer 'dense_1'`: the prefix of every message about this layer.
    pub location: String,
    /// Nesting depth, bounded so that hostile input cannot exhaust the stack.
    pub depth: usize,
    /// The keyword arguments of this call (`return_attention_scores`, ...), if any.
    pub call: Option<&'a Map<String, Value>>,
    /// The positional arguments of this call as recorded (a `GetItem`'s index).
    pub args: Option<&'a Value>,
    /// The output shapes this call's consumers recorded, if any consumed it.
    pub consumers: Option<&'a [Shape]>,
}

pub type Rule = fn(&LayerCtx, &[Shape]) -> Result<Built>;

/// The rule of a Keras class name, or None. One table, so the list of supported classes
/// printed in errors is always the real one.
pub fn rule(class_name: &str) -> Option<Rule> {
    RULES
        .iter()
        .find(|(name, _)| *name == class_name)
        .map(|(_, rule)| *rule)
}

/// The rule of a `keras.ops` node recorded in a functional graph (module
/// `keras.src.ops.*`), or None. Ops share class names with layers (Add, Multiply) but
/// have other semantics, hence their own table.
pub fn op_rule(class_name: &str) -> Option<Rule> {
    if ELEMENTWISE_OPS.contains(&class_name) {
        return Some(merge::elementwise_op);
    }
    ops::RULES
        .iter()
        .find(|(name, _)| *name == class_name)
        .map(|(_, rule)| *rule)
}

/// Elementwise ops of one or two operands (a tensor and a tensor or a constant).
pub const ELEMENTWISE_OPS: &[&str] = &[
    "Add",
    "Subtract",
    "Multiply",
    "Divide",
    "TrueDivide",
    "Maximum",
    "Minimum",
    "Power",
    "Negative",
    "Abs",
    "Square",
    "Sqrt",
    "Exp",
    "Log",
    "Tanh",
    "Sigmoid",
    "Relu",
    "Relu6",
    "HardSigmoid",
    "HardSwish",
    "Silu",
    "Gelu",
];

pub fn supported_classes() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = RULES.iter().map(|(name, _)| *name).collect();
    names.sort_unstable();
    names
}

fn supported_ops() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = ELEMENTWISE_OPS.to_vec();
    names.extend(ops::RULES.iter().map(|(name, _)| *name));
    names.sort_unstable();
    names
}

/// Known classes a user may have meant: within two edits, ignoring case.
pub fn close_classes(class_name: &str, op: bool) -> Vec<&'static str> {
    let lower = class_name.to_lowercase();
    let known = if op {
        supported_ops()
    } else {
        supported_classes()
    };
    let mut close: Vec<&'static str> = known
        .into_iter()
        .filter(|k| edit_distance(&lower, &k.to_lowercase()) <= 2)
        .collect();
    close.truncate(3);
    close
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

/// The error for a class no rule knows: close names if it looks like a typo, otherwise
/// the way to count a custom layer.
pub fn unknown_class(ctx: &LayerCtx, op: bool) -> Error {
    let close = close_classes(ctx.class_name, op);
    let route = if op {
        "a keras.ops node without a shape rule is read when a layer consumes it"
    } else {
        "a custom layer is counted from its .keras archive, whose model.weights.h5 holds its weights' shapes, or declared with --custom-layers FILE (TOML) or archbudget.register_layer()"
    };
    let hint = if close.is_empty() {
        route.to_string()
    } else {
        format!("did you mean {}? {route}", close.join(" or "))
    };
    Error::UnknownLayer {
        location: ctx.location.clone(),
        class_name: ctx.class_name.to_string(),
        hint,
    }
}

const RULES: &[(&str, Rule)] = &[
    // core
    ("Dense", core::dense),
    ("EinsumDense", core::einsum_dense),
    ("Embedding", core::embedding),
    ("Activation", core::identity),
    ("ReLU", core::identity),
    ("LeakyReLU", core::identity),
    ("ELU", core::identity),
    ("Softmax", core::identity),
    ("PReLU", core::prelu),
    ("Dropout", core::identity),
    ("SpatialDropout1D", core::identity),
    ("SpatialDropout2D", core::identity),
    ("SpatialDropout3D", core::identity),
    ("GaussianDropout", core::identity),
    ("GaussianNoise", core::identity),
    ("AlphaDropout", core::identity),
    ("ActivityRegularization", core::identity),
    ("Identity", core::identity),
    ("Masking", core::identity),
    ("Rescaling", core::identity),
    ("Normalization", core::normalization),
    ("StringLookup", preprocessing::lookup),
    ("IntegerLookup", preprocessing::lookup),
    ("TextVectorization", preprocessing::text_vectorization),
    ("Hashing", preprocessing::hashing),
    ("CategoryEncoding", preprocessing::category_encoding),
    ("Discretization", preprocessing::discretization),
    ("Resizing", core::resizing),
    ("CenterCrop", core::resizing),
    ("RandomCrop", core::resizing),
    // image augmentation: the identity at inference, no weights (the seed state is not one)
    ("AutoContrast", core::identity),
    ("Equalization", core::identity),
    ("Solarization", core::identity),
    ("RandomBrightness", core::identity),
    ("RandomColorDegeneration", core::identity),
    ("RandomColorJitter", core::identity),
    ("RandomContrast", core::identity),
    ("RandomErasing", core::identity),
    ("RandomFlip", core::identity),
    ("RandomGaussianBlur", core::identity),
    ("RandomGrayscale", core::identity),
    ("RandomHue", core::identity),
    ("RandomInvert", core::identity),
    ("RandomPerspective", core::identity),
    ("RandomPosterization", core::identity),
    ("RandomRotation", core::identity),
    ("RandomSaturation", core::identity),
    ("RandomSharpness", core::identity),
    ("RandomShear", core::identity),
    ("RandomTranslation", core::identity),
    ("RandomZoom", core::identity),
    // convolution
    ("Conv1D", conv::conv),
    ("Conv2D", conv::conv),
    ("Conv3D", conv::conv),
    ("Conv1DTranspose", conv::conv_transpose),
    ("Conv2DTranspose", conv::conv_transpose),
    ("Conv3DTranspose", conv::conv_transpose),
    ("DepthwiseConv1D", conv::depthwise),
    ("DepthwiseConv2D", conv::depthwise),
    ("SeparableConv1D", conv::separable),
    ("SeparableConv2D", conv::separable),
    // normalization
    ("BatchNormalization", norm::batch_norm),
    ("LayerNormalization", norm::layer_norm),
    ("RMSNormalization", norm::rms_norm),
    ("GroupNormalization", norm::group_norm),
    ("UnitNormalization", core::identity),
    // pooling
    ("MaxPooling1D", pooling::pool),
    ("MaxPooling2D", pooling::pool),
    ("MaxPooling3D", pooling::pool),
    ("AveragePooling1D", pooling::pool),
    ("AveragePooling2D", pooling::pool),
    ("AveragePooling3D", pooling::pool),
    ("GlobalMaxPooling1D", pooling::global_pool),
    ("GlobalMaxPooling2D", pooling::global_pool),
    ("GlobalMaxPooling3D", pooling::global_pool),
    ("GlobalAveragePooling1D", pooling::global_pool),
    ("GlobalAveragePooling2D", pooling::global_pool),
    ("GlobalAveragePooling3D", pooling::global_pool),
    // reshaping
    ("Flatten", reshape::flatten),
    ("Reshape", reshape::reshape),
    ("Permute", reshape::permute),
    ("RepeatVector", reshape::repeat_vector),
    ("Cropping1D", reshape::cropping),
    ("Cropping2D", reshape::cropping),
    ("Cropping3D", reshape::cropping),
    ("ZeroPadding1D", reshape::zero_padding),
    ("ZeroPadding2D", reshape::zero_padding),
    ("ZeroPadding3D", reshape::zero_padding),
    ("UpSampling1D", reshape::upsampling),
    ("UpSampling2D", reshape::upsampling),
    ("UpSampling3D", reshape::upsampling),
    // merging
    ("Add", merge::elementwise),
    ("Subtract", merge::elementwise),
    ("Multiply", merge::elementwise),
    ("Average", merge::elementwise),
    ("Maximum", merge::elementwise),
    ("Minimum", merge::elementwise),
    ("Concatenate", merge::concatenate),
    ("Dot", merge::dot),
    // recurrent
    ("SimpleRNN", recurrent::simple_rnn),
    ("LSTM", recurrent::lstm),
    ("GRU", recurrent::gru),
    ("RNN", recurrent::rnn),
    ("ConvLSTM1D", recurrent::conv_lstm),
    ("ConvLSTM2D", recurrent::conv_lstm),
    ("ConvLSTM3D", recurrent::conv_lstm),
    ("Bidirectional", recurrent::bidirectional),
    ("TimeDistributed", recurrent::time_distributed),
    // attention
    ("MultiHeadAttention", attention::multi_head_attention),
    ("Attention", attention::dot_attention),
    ("AdditiveAttention", attention::additive_attention),
    // custom layers of keras.applications
    ("LayerScale", applications::layer_scale),
    ("StochasticDepth", core::identity),
    ("CustomScaleLayer", applications::custom_scale),
    (
        "HGNetV2LearnableAffineBlock",
        applications::learnable_affine,
    ),
];

/// Apply a layer given as its JSON object (`{"class_name": ..., "config": {...}}`) to
/// input shapes: the entry point for wrappers (Bidirectional, TimeDistributed).
pub fn apply_json(layer: &Value, inputs: &[Shape], parent: &LayerCtx) -> Result<(String, Built)> {
    let class_name = layer
        .get("class_name")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::invalid(&parent.location, "wrapped layer has no 'class_name'"))?;
    let config = layer
        .get("config")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::invalid(&parent.location, "wrapped layer has no 'config' object"))?;
    let built = apply(&parent.child(class_name, config, "layer"), inputs)?;
    Ok((class_name.to_string(), built))
}

/// Maximum nesting of wrappers and nested models.
pub const MAX_DEPTH: usize = 64;

pub fn apply(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    apply_with(ctx, inputs, false)
}

/// Apply a `keras.ops` node (see `op_rule`).
pub fn apply_op(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    apply_with(ctx, inputs, true)
}

fn apply_with(ctx: &LayerCtx, inputs: &[Shape], op: bool) -> Result<Built> {
    if ctx.depth > MAX_DEPTH {
        return Err(Error::invalid(
            &ctx.location,
            format!("layers nested deeper than {MAX_DEPTH}"),
        ));
    }
    let lookup = if op { op_rule } else { rule };
    let rule = lookup(ctx.class_name).ok_or_else(|| unknown_class(ctx, op))?;
    let mut built = rule(ctx, inputs)?;
    // `trainable: false` on a layer freezes every weight it owns (Keras `layer.trainable`).
    if !ctx.bool_or("trainable", true)? {
        for w in &mut built.weights {
            w.trainable = false;
        }
    }
    Ok(built)
}

impl LayerCtx<'_> {
    /// The context of a layer or cell that this one wraps (`kind` names it in messages).
    pub fn child<'c>(
        &self,
        class_name: &'c str,
        config: &'c Map<String, Value>,
        kind: &str,
    ) -> LayerCtx<'c> {
        let name = config
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or(class_name);
        LayerCtx {
            class_name,
            name,
            config,
            location: format!("{} > {kind} '{name}'", self.location),
            depth: self.depth + 1,
            call: None,
            args: None,
            consumers: None,
        }
    }
}

// ---------------------------------------------------------------- config access
impl LayerCtx<'_> {
    fn get(&self, key: &str) -> Option<&Value> {
        self.config.get(key).filter(|v| !v.is_null())
    }

    pub fn err(&self, message: impl Into<String>) -> Error {
        Error::invalid(&self.location, message)
    }

    pub fn shape_err(&self, message: impl Into<String>) -> Error {
        Error::shape(&self.location, message)
    }

    /// A positive integer (`units`, `filters`, ...).
    pub fn positive(&self, key: &str) -> Result<u64> {
        let v = self
            .get(key)
            .ok_or_else(|| self.err(format!("missing '{key}'")))?;
        positive_int(v)
            .ok_or_else(|| self.err(format!("'{key}' must be a positive integer, got {v}")))
    }

    pub fn positive_or(&self, key: &str, default: u64) -> Result<u64> {
        match self.get(key) {
            None => Ok(default),
            Some(_) => self.positive(key),
        }
    }

    pub fn opt_positive(&self, key: &str) -> Result<Option<u64>> {
        match self.get(key) {
            None => Ok(None),
            Some(_) => self.positive(key).map(Some),
        }
    }

    /// A non-negative integer (`cropping`, `padding` amounts).
    pub fn non_negative(&self, v: &Value, key: &str) -> Result<u64> {
        v.as_u64()
            .ok_or_else(|| self.err(format!("'{key}' must be a non-negative integer, got {v}")))
    }

    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(self.err(format!("'{key}' must be true or false, got {v}"))),
        }
    }

    pub fn str_or<'s>(&'s self, key: &str, default: &'s str) -> Result<&'s str> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::String(s)) => Ok(s),
            Some(v) => Err(self.err(format!("'{key}' must be a string, got {v}"))),
        }
    }

    /// A boolean keyword argument of the call (`return_attention_scores=True`).
    pub fn call_flag(&self, key: &str) -> bool {
        self.call
            .and_then(|kw| kw.get(key))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    pub fn value(&self, key: &str) -> Option<&Value> {
        self.get(key)
    }

    /// An int or a list of `n` ints (`kernel_size: 3` or `[3, 3]`), each positive.
    pub fn tuple(&self, key: &str, n: usize) -> Result<Vec<u64>> {
        let v = self
            .get(key)
            .ok_or_else(|| self.err(format!("missing '{key}'")))?;
        self.tuple_of(v, key, n)
    }

    pub fn tuple_or(&self, key: &str, n: usize, default: u64) -> Result<Vec<u64>> {
        match self.get(key) {
            None => Ok(vec![default; n]),
            Some(v) => self.tuple_of(v, key, n),
        }
    }

    fn tuple_of(&self, v: &Value, key: &str, n: usize) -> Result<Vec<u64>> {
        let bad = || {
            self.err(format!(
                "'{key}' must be a positive integer or a list of {n}, got {v}"
            ))
        };
        match v {
            Value::Array(items) if items.len() == n => items
                .iter()
                .map(|x| positive_int(x).ok_or_else(bad))
                .collect(),
            Value::Array(items) if items.len() == 1 => {
                Ok(vec![positive_int(&items[0]).ok_or_else(bad)?; n])
            }
            _ => Ok(vec![positive_int(v).ok_or_else(bad)?; n]),
        }
    }

    /// `channels_last` (default) or `channels_first`.
    pub fn channels_first(&self) -> Result<bool> {
        match self.str_or("data_format", "channels_last")? {
            "channels_last" => Ok(false),
            "channels_first" => Ok(true),
            other => Err(self.err(format!(
                "'data_format' must be channels_last or channels_first, got '{other}'"
            ))),
        }
    }

    /// The one input of a single-input layer.
    pub fn single<'s>(&self, inputs: &'s [Shape]) -> Result<&'s Shape> {
        match inputs {
            [one] => Ok(one),
            _ => Err(self.shape_err(format!(
                "{} takes one input, got {}",
                self.class_name,
                inputs.len()
            ))),
        }
    }

    /// A known, positive dimension of an input (`last dimension`), or a shape error.
    pub fn known(&self, d: Option<u64>, what: &str) -> Result<u64> {
        match d {
            Some(v) if v > 0 => Ok(v),
            Some(_) => Err(self.shape_err(format!("{what} is 0"))),
            None => Err(self.shape_err(format!(
                "{what} must be known to build {}, got None",
                self.class_name
            ))),
        }
    }

    /// `a + b` of two dimensions, an overflow error beyond 64 bits.
    pub fn dim_add(&self, a: u64, b: u64) -> Result<u64> {
        crate::error::add(a, b, &self.location, "an output dimension")
    }

    /// `a × b` of two dimensions, an overflow error beyond 64 bits.
    pub fn dim_mul(&self, a: u64, b: u64) -> Result<u64> {
        crate::error::mul(a, b, &self.location, "an output dimension")
    }

    /// Resolve a possibly negative axis against a rank.
    pub fn axis(&self, axis: i64, rank: usize) -> Result<usize> {
        let r = rank as i64;
        let a = if axis < 0 { axis + r } else { axis };
        if a < 0 || a >= r {
            return Err(self.shape_err(format!(
                "axis {axis} is out of range for an input of rank {rank}"
            )));
        }
        Ok(a as usize)
    }

    /// `axis` as one int or a list of ints (LayerNormalization, Normalization).
    pub fn axes(&self, key: &str, default: i64, rank: usize) -> Result<Vec<usize>> {
        let raw: Vec<i64> = match self.get(key) {
            None => vec![default],
            Some(Value::Array(items)) => items
                .iter()
                .map(|x| {
                    x.as_i64()
                        .ok_or_else(|| self.err(format!("'{key}' must hold integers, got {x}")))
                })
                .collect::<Result<_>>()?,
            Some(v) => vec![v
                .as_i64()
                .ok_or_else(|| self.err(format!("'{key}' must be an integer, got {v}")))?],
        };
        raw.into_iter().map(|a| self.axis(a, rank)).collect()
    }
}

/// JSON integers, also written as floats with no fraction (`64.0`), as some tools do.
pub fn positive_int(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 1.0 && *f < 9.0e15)
                    .map(|f| f as u64)
            })
            .filter(|&x| x > 0),
        _ => None,
    }
}
