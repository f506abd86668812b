//! Keras models lowered to the PyTorch op IR: a Keras model is estimated as its PyTorch
//! equivalent, layer for layer (SPEC.md), at the batch of the run. Channels-first or
//! channels-last makes no difference to bytes, so Keras's NHWC shapes map onto NCHW ops.
//!
//! Keras idioms that PyTorch writes differently are lowered to what a PyTorch user
//! would write: a Dense/Conv `activation` becomes its own activation op; a chain of
//! LSTMs (GRUs, SimpleRNNs, or Bidirectional ones) returning sequences into a last one
//! becomes one multi-layer `nn.LSTM` (`nn.GRU`, `nn.RNN`, `bidirectional=True`) and
//! `h[:, -1]` (go_backwards: the RNN on `x.flip(1)`); global pooling becomes
//! `AdaptiveAvgPool/AdaptiveMaxPool(1)` + `flatten`; MultiHeadAttention becomes q/k/v/o
//! `nn.Linear`s around `scaled_dot_product_attention`; TimeDistributed folds the time
//! axis into the batch. Training adds cross-entropy on the last output against int64
//! class labels, as gpu_memory.py does.
use std::collections::HashMap;

use serde_json::Value;

use super::graph::{Graph, InputKind, ValueId};
use super::keras_written;
use super::ops::*;
use super::{add, mul, Result, RunSettings};
use crate::error::Error;
use crate::formats::keras::{Call, Layer, Model, TensorRef};
use crate::shape::Shape;

/// Layers whose output is their input in the PyTorch equivalent: Identity; Masking
/// (PyTorch carries no mask); ActivityRegularization (its penalty is a scalar added to
/// the loss); Keras's image augmentation layers, which PyTorch runs in the input
/// pipeline (torchvision transforms), not in the model's step.
const IDENTITY: &[&str] = &[
    "Identity",
    "Masking",
    "ActivityRegularization",
    "AutoContrast",
    "Equalization",
    "Solarization",
    "RandomBrightness",
    "RandomColorDegeneration",
    "RandomColorJitter",
    "RandomContrast",
    "RandomErasing",
    "RandomFlip",
    "RandomGaussianBlur",
    "RandomGrayscale",
    "RandomHue",
    "RandomInvert",
    "RandomPerspective",
    "RandomPosterization",
    "RandomRotation",
    "RandomSaturation",
    "RandomSharpness",
    "RandomShear",
    "RandomTranslation",
    "RandomZoom",
];

/// Elements of `shape` at the run's batch.
fn numel(batch: u64, shape: &Shape, location: &str) -> Result<u64> {
    shape[1.min(shape.len())..]
        .iter()
        .try_fold(batch, |acc, d| {
            let d = d.ok_or_else(|| Error::shape(location, UNKNOWN_DIM))?;
            mul(acc, d)
        })
}

const UNKNOWN_DIM: &str =
    "memory needs every non-batch dimension known (give --seq for an unknown time axis)";

/// Keras activations by what their PyTorch backward keeps, which is all that matters to
/// bytes: ReLU its output (aliasable in place); tanh, sigmoid and softmax their output;
/// GELU its input; SiLU, ReLU6, ELU, SELU, leaky ReLU and the hard variants their input
/// (`elu` is `elu_backward(…, is_result=false, self)` unless run in place).
fn activation_op(name: &str, location: &str) -> Result<Option<ActKind>> {
    Ok(match name {
        "linear" | "" => None,
        "relu" => Some(ActKind::Relu),
        "gelu" => Some(ActKind::Gelu),
        "tanh" | "sigmoid" | "softmax" => Some(ActKind::Tanh),
        "silu" | "swish" | "relu6" | "elu" | "leaky_relu" | "hard_sigmoid" | "hard_silu" | "hard_swish" | "selu" | "mish" => Some(ActKind::Silu),
        other => {
            return Err(Error::invalid(
                location,
                format!("memory: activation '{other}' has no PyTorch lowering yet (relu, gelu, silu, tanh, sigmoid, softmax, elu, relu6, leaky_relu, hard_sigmoid, hard_silu, selu, mish)"),
            ))
        }
    })
}

/// One (possibly nested) model being lowered: the value each of its Keras tensors
/// became, and which RNN nodes may still absorb a layer.
struct Lowering<'m> {
    model: &'m Model,
    batch: u64,
    values: HashMap<(usize, usize, usize), ValueId>,
    consumers: HashMap<(usize, usize, usize), usize>,
    /// Output value of an `Rnn` node returning sequences → that node's index.
    open_rnn: HashMap<ValueId, usize>,
    /// Inside a frozen nested model (`trainable: false`): every op is frozen.
    frozen: bool,
}

/// The PyTorch equivalent of a Keras model, at the run's batch size.
pub fn graph(model: &Model, run: &RunSettings, location: &str) -> Result<Graph> {
    let mut graph = Graph::default();
    // Inputs first (the IR numbers them before every node), then the labels.
    let mut inputs = Vec::with_capacity(model.inputs.len());
    for &t in &model.inputs {
        let layer = &model.layers[t.layer];
        let kind = match layer.config.get("dtype").and_then(Value::as_str) {
            Some(d) if d.starts_with("int") || d.starts_with("uint") => InputKind::Index,
            _ => InputKind::Float,
        };
        let n = numel(
            run.batch,
            model.shape_of(t),
            &format!("{location}: layer '{}'", layer.name),
        )?;
        inputs.push(graph.input(n, kind));
    }
    // One cross-entropy per output against its own labels, summed: what a Keras user's
    // `compile(loss=[...])` trains.
    let mut losses = Vec::with_capacity(model.outputs.len());
    for &output in &model.outputs {
        let layer = &model.layers[output.layer];
        let here = format!("{location}: output '{}'", layer.name);
        let out_shape = model.shape_of(output).clone();
        let classes = out_shape
            .last()
            .copied()
            .flatten()
            .filter(|_| layer.shape_known && out_shape.len() > 1)
            .ok_or_else(|| {
                Error::shape(&here, "memory: the output's last dimension must be known")
            })?;
        let rows = numel(run.batch, &out_shape, &here)? / classes.max(1);
        losses.push((rows, classes, graph.input(rows, InputKind::Index)));
    }
    let outputs = lower_model(&mut graph, model, &inputs, run.batch, false, location)?;
    let first_loss = graph.nodes.len();
    let mut total = None;
    for (&output, (rows, classes, labels)) in outputs.iter().zip(losses) {
        let loss = graph.push(
            Op::CrossEntropy(CrossEntropy {
                rows,
                classes,
                label_copies: vec![],
            }),
            &[output, labels],
        );
        total = Some(match total {
            None => loss,
            Some(sum) => graph.push(Op::Add(Add), &[sum, loss]),
        });
    }
    graph.train_only_tail = graph.nodes.len() - first_loss;
    Ok(graph)
}

/// Lower `model` called on `inputs`; returns the values of its outputs. A nested model
/// is inlined, its ops frozen when it is (`trainable: false`, the frozen backbone).
fn lower_model(
    graph: &mut Graph,
    model: &Model,
    inputs: &[ValueId],
    batch: u64,
    frozen: bool,
    location: &str,
) -> Result<Vec<ValueId>> {
    let mut consumers = HashMap::new();
    for layer in &model.layers {
        for call in &layer.calls {
            for (t, _) in &call.inputs {
                *consumers.entry((t.layer, t.node, t.tensor)).or_insert(0) += 1;
            }
        }
    }
    let mut low = Lowering {
        model,
        batch,
        values: HashMap::new(),
        consumers,
        open_rnn: HashMap::new(),
        frozen,
    };
    for (t, &v) in model.inputs.iter().zip(inputs) {
        low.values.insert((t.layer, t.node, t.tensor), v);
    }
    for (layer_index, node) in call_order(model) {
        low.lower_call(graph, layer_index, node, location)?;
    }
    model
        .outputs
        .iter()
        .map(|t| {
            low.values
                .get(&(t.layer, t.node, t.tensor))
                .copied()
                .ok_or_else(|| {
                    Error::invalid(
                        location,
                        "memory: an output is not computed from the inputs",
                    )
                })
        })
        .collect()
}

/// Calls in an order where every call follows the calls it consumes.
fn call_order(model: &Model) -> Vec<(usize, usize)> {
    let mut done: Vec<usize> = model
        .layers
        .iter()
        .map(|l| usize::from(l.is_input()))
        .collect();
    let mut order = Vec::new();
    loop {
        let mut progressed = false;
        for (i, layer) in model.layers.iter().enumerate() {
            while done[i] < layer.calls.len() {
                let ready = layer.calls[done[i]]
                    .inputs
                    .iter()
                    .all(|(t, _)| t.node < done[t.layer]);
                if !ready {
                    break;
                }
                order.push((i, done[i]));
                done[i] += 1;
                progressed = true;
            }
        }
        if !progressed {
            return order;
        }
    }
}

type Config = serde_json::Map<String, Value>;

/// One layer call to lower: the layer's class and config, and the shapes it sees.
struct Site<'a> {
    class: &'a str,
    cfg: &'a Config,
    /// Input shapes, batch dimension first, as Keras records them.
    ins: &'a [Shape],
    out: &'a Shape,
    /// The call's batch: the run's, times the time axis folded in by TimeDistributed.
    batch: u64,
    here: &'a str,
    /// (layer, call) of a model-level call; None inside a wrapper. RNN chains continue
    /// only through model-level calls, whose consumers are known.
    key: Option<(usize, usize)>,
}

impl Site<'_> {
    fn dim(&self, d: Option<u64>) -> Result<u64> {
        d.ok_or_else(|| Error::shape(self.here, UNKNOWN_DIM))
    }
    fn input(&self, i: usize) -> Result<&Shape> {
        self.ins.get(i).ok_or_else(|| {
            Error::invalid(self.here, format!("memory: {} needs input {i}", self.class))
        })
    }
    fn last(&self, s: &Shape) -> Result<u64> {
        self.dim(s.last().copied().flatten())
    }
    fn numel(&self, s: &Shape) -> Result<u64> {
        numel(self.batch, s, self.here)
    }
    fn str_of(&self, k: &str) -> &str {
        self.cfg.get(k).and_then(Value::as_str).unwrap_or("")
    }
    fn bool_of(&self, k: &str, d: bool) -> bool {
        self.cfg.get(k).and_then(Value::as_bool).unwrap_or(d)
    }
    fn f64_of(&self, k: &str, d: f64) -> f64 {
        self.cfg.get(k).and_then(Value::as_f64).unwrap_or(d)
    }
    fn u64_of(&self, k: &str) -> Result<u64> {
        self.cfg
            .get(k)
            .and_then(Value::as_u64)
            .ok_or_else(|| Error::invalid(self.here, format!("missing or non-integer '{k}'")))
    }
    /// `n` per-dimension integers of `k` (one integer or a list); None when absent or null.
    fn ints(&self, k: &str, n: usize) -> Result<Option<Vec<u64>>> {
        let bad = || Error::invalid(self.here, format!("'{k}' must be {n} positive integers"));
        let v: Vec<u64> = match self.cfg.get(k) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Array(a)) => a
                .iter()
                .map(Value::as_u64)
                .collect::<Option<_>>()
                .ok_or_else(bad)?,
            Some(x) => vec![x.as_u64().ok_or_else(bad)?],
        };
        match v.len() {
            _ if v.contains(&0) => Err(bad()),
            1 => Ok(Some(vec![v[0]; n])),
            l if l == n => Ok(Some(v)),
            _ => Err(bad()),
        }
    }
    /// Spatial sizes and channels of `s` (1 to 3 spatial dims), after `data_format`.
    fn spatial(&self, s: &Shape) -> Result<(Vec<u64>, u64)> {
        if !(3..=5).contains(&s.len()) {
            return Err(Error::shape(
                self.here,
                format!("memory: {} needs 1 to 3 spatial dimensions", self.class),
            ));
        }
        let dims = s[1..]
            .iter()
            .map(|&d| self.dim(d))
            .collect::<Result<Vec<_>>>()?;
        Ok(if self.str_of("data_format") == "channels_first" {
            (dims[1..].to_vec(), dims[0])
        } else {
            (dims[..dims.len() - 1].to_vec(), dims[dims.len() - 1])
        })
    }
    /// The config's `activation` as its own op after `v`.
    fn activate(&self, g: &mut Graph, v: ValueId) -> Result<ValueId> {
        Ok(match activation_op(self.str_of("activation"), self.here)? {
            Some(kind) => g.push(Op::Act(Act { kind }), &[v]),
            None => v,
        })
    }
    fn unsupported(&self, what: &str) -> Error {
        Error::invalid(
            self.here,
            format!("memory: {} {what} has no PyTorch lowering yet", self.class),
        )
    }
}

/// The zeros on each side that give Keras's output size `o` from `n` (symmetric:
/// 'same' is k // 2 at stride 1 for odd kernels).
fn same_padding(n: u64, o: u64, kernel: u64, stride: u64, dilation: u64) -> Result<u64> {
    let span = add(mul(dilation, kernel - 1)?, 1)?;
    Ok(add(mul(o.saturating_sub(1), stride)?, span)?
        .saturating_sub(n)
        .div_ceil(2))
}

/// A transposed convolution's padding and output padding that give Keras's output size
/// `o` from `n`: (n−1)·s + dil·(k−1) + 1 − 2·pad + out_pad = o.
fn transposed_padding(
    n: u64,
    o: u64,
    kernel: u64,
    stride: u64,
    dilation: u64,
) -> Result<(u64, u64)> {
    let grown = add(
        mul(n.saturating_sub(1), stride)?,
        add(mul(dilation, kernel - 1)?, 1)?,
    )?;
    Ok(match grown.checked_sub(o) {
        // 2·⌈e/2⌉ − e
        Some(excess) => (excess.div_ceil(2), excess % 2),
        None => (0, o - grown),
    })
}

/// `(contracted, produced, bias)` axis counts when an EinsumDense equation is a plain
/// projection `…C,CO->…O` (the input's trailing axes C contracted with the kernel's
/// leading ones; a bias over all of O or none): an `nn.Linear` from ΠC to ΠO features.
fn einsum_projection(equation: &str, bias_axes: Option<&str>) -> Option<(usize, usize, bool)> {
    let (operands, out) = equation.split_once("->")?;
    let (lhs, rhs) = operands.split_once(',')?;
    let (lhs, out) = match (lhs.strip_prefix("..."), out.strip_prefix("...")) {
        (Some(l), Some(o)) => (l, o),
        _ => (lhs, out),
    };
    let lhs: Vec<char> = lhs.chars().collect();
    let rhs: Vec<char> = rhs.chars().collect();
    let contracted = rhs.iter().take_while(|c| lhs.contains(c)).count();
    let (c, o) = rhs.split_at(contracted);
    let prefix = lhs.strip_suffix(c)?;
    let expected: Vec<char> = prefix.iter().chain(o).copied().collect();
    let produced_elsewhere = o.iter().any(|x| lhs.contains(x));
    if c.is_empty() || o.is_empty() || produced_elsewhere || out.chars().ne(expected) {
        return None;
    }
    let bias = match bias_axes.unwrap_or("") {
        "" => false,
        b if b.len() == o.len() && b.chars().all(|x| o.contains(&x)) => true,
        _ => return None,
    };
    Some((c.len(), o.len(), bias))
}

impl<'m> Lowering<'m> {
    /// The value a Keras tensor became; only first outputs are lowered (a layer's
    /// other outputs, such as Bidirectional's second direction with merge_mode None).
    fn input(&self, t: &TensorRef, here: &str) -> Result<ValueId> {
        self.values
            .get(&(t.layer, t.node, t.tensor))
            .copied()
            .ok_or_else(|| {
                let layer = &self.model.layers[t.layer];
                Error::invalid(
                    here,
                    format!(
                        "memory: output {} of layer '{}' ({}) has no PyTorch lowering yet",
                        t.tensor, layer.name, layer.class_name
                    ),
                )
            })
    }

    fn lower_call(&mut self, g: &mut Graph, li: usize, ni: usize, location: &str) -> Result<()> {
        let model: &'m Model = self.model;
        let layer: &Layer = &model.layers[li];
        let call: &Call = &layer.calls[ni];
        let here = format!("{location}: layer '{}'", layer.name);
        let inputs: Vec<ValueId> = call
            .inputs
            .iter()
            .map(|(t, _)| self.input(t, &here))
            .collect::<Result<_>>()?;
        let first_node = g.nodes.len();
        // A layer whose every weight is frozen (its own `trainable: false`, or a frozen
        // nested model) gets no gradients or optimizer state in PyTorch either.
        let frozen = self.frozen
            || (!layer.weights.is_empty() && layer.weights.iter().all(|w| !w.trainable));
        if let Some(inner) = &layer.nested {
            let frozen_model =
                self.frozen || layer.config.get("trainable") == Some(&Value::Bool(false));
            let outputs = lower_model(g, inner, &inputs, self.batch, frozen_model, &here)?;
            for (i, v) in outputs.into_iter().enumerate() {
                self.values.insert((li, ni, i), v);
            }
            return Ok(());
        }
        let ins: Vec<Shape> = call.inputs.iter().map(|(_, s)| s.clone()).collect();
        let written = if layer.op {
            let class = &layer.class_name;
            Some(keras_written::op_node(
                g,
                class,
                &ins,
                &call.outputs[0],
                self.batch,
                &inputs,
                &here,
            )?)
        } else if keras_written::PREPROCESSING.contains(&layer.class_name.as_str()) {
            Some(keras_written::preprocessing(
                g,
                layer,
                &call.outputs[0],
                self.batch,
                &here,
            )?)
        } else if crate::layers::rule(&layer.class_name).is_none() {
            Some(keras_written::opaque(
                g,
                layer,
                &call.outputs[0],
                self.batch,
                &inputs,
                &here,
            )?)
        } else {
            None
        };
        if let Some(out) = written {
            if frozen {
                g.freeze(first_node..g.nodes.len());
            }
            self.values.insert((li, ni, 0), out);
            return Ok(());
        }
        let site = Site {
            class: &layer.class_name,
            cfg: &layer.config,
            ins: &ins,
            out: &call.outputs[0],
            batch: self.batch,
            here: &here,
            key: Some((li, ni)),
        };
        let out = self.lower_layer(g, &site, &inputs)?;
        if frozen {
            g.freeze(first_node..g.nodes.len());
        }
        self.values.insert((li, ni, 0), out);
        Ok(())
    }

    /// The PyTorch ops of one Keras layer call; returns the value of its output.
    fn lower_layer(&mut self, g: &mut Graph, s: &Site, inputs: &[ValueId]) -> Result<ValueId> {
        let b = s.batch;
        let in_shape = s.input(0)?;
        let class = s.class;
        let act = |g: &mut Graph, kind| g.push(Op::Act(Act { kind }), inputs);
        let noise = |g: &mut Graph, kind, rate| g.push(Op::Noise(Noise { kind, rate }), inputs);
        Ok(match class {
            "Dense" => {
                let in_features = s.last(in_shape)?;
                let v = g.push(
                    Op::Linear(Linear {
                        rows: s.numel(in_shape)? / in_features.max(1),
                        in_features,
                        out_features: s.last(s.out)?,
                        bias: s.bool_of("use_bias", true),
                        tied_weight: false,
                    }),
                    inputs,
                );
                s.activate(g, v)?
            }
            "EinsumDense" => {
                let bias_axes = s.cfg.get("bias_axes").and_then(Value::as_str);
                let (c, o, bias) = einsum_projection(s.str_of("equation"), bias_axes)
                    .ok_or_else(|| s.unsupported("whose equation is not a projection …C,CO->…O"))?;
                let tail = |shape: &Shape, k: usize| -> Result<u64> {
                    let dims = shape
                        .get(shape.len().saturating_sub(k).max(1)..)
                        .unwrap_or(&[]);
                    if dims.len() != k {
                        return Err(s.unsupported("whose equation does not match its shapes"));
                    }
                    dims.iter().try_fold(1, |acc, &d| mul(acc, s.dim(d)?))
                };
                let in_features = tail(in_shape, c)?;
                let v = g.push(
                    Op::Linear(Linear {
                        rows: s.numel(in_shape)? / in_features.max(1),
                        in_features,
                        out_features: tail(s.out, o)?,
                        bias,
                        tied_weight: false,
                    }),
                    inputs,
                );
                s.activate(g, v)?
            }
            "Conv1D" | "Conv2D" | "Conv3D" | "Conv1DTranspose" | "Conv2DTranspose"
            | "Conv3DTranspose" | "DepthwiseConv1D" | "DepthwiseConv2D" | "SeparableConv1D"
            | "SeparableConv2D" => conv(g, s, inputs)?,
            "BatchNormalization" => g.push(
                Op::BatchNorm2d(BatchNorm2d {
                    channels: s.last(in_shape)?,
                }),
                inputs,
            ),
            "LayerNormalization" => {
                let d = s.last(in_shape)?;
                let rms = s.bool_of("rms_scaling", false);
                g.push(
                    Op::LayerNorm(LayerNorm {
                        rows: s.numel(in_shape)? / d.max(1),
                        dim: d,
                        weight: s.bool_of("scale", true) || rms,
                        bias: s.bool_of("center", true) && !rms,
                    }),
                    inputs,
                )
            }
            "GroupNormalization" => {
                let channels = s.last(in_shape)?;
                let groups = match s.cfg.get("groups").and_then(Value::as_i64) {
                    Some(-1) => channels, // one group per channel, as Keras reads it
                    Some(g) => u64::try_from(g).unwrap_or(0),
                    None => 32,
                };
                if groups == 0 || channels % groups != 0 {
                    return Err(Error::shape(
                        s.here,
                        format!("{channels} channels do not split into {groups} groups"),
                    ));
                }
                let (weight, bias) = (s.bool_of("scale", true), s.bool_of("center", true));
                if weight != bias {
                    return Err(s.unsupported("with only one of scale and center"));
                }
                g.push(
                    Op::GroupNorm(GroupNorm {
                        batch: b,
                        groups,
                        channels,
                        affine: weight,
                    }),
                    inputs,
                )
            }
            "RMSNormalization" => {
                let d = s.last(in_shape)?;
                g.push(
                    Op::FusedRmsNorm(FusedRmsNorm {
                        rows: s.numel(in_shape)? / d.max(1),
                        dim: d,
                        weight: true,
                    }),
                    inputs,
                )
            }
            "UnitNormalization" => {
                let rank = in_shape.len() as i64;
                let axes: Vec<i64> = match s.cfg.get("axis") {
                    Some(Value::Array(a)) => a.iter().filter_map(Value::as_i64).collect(),
                    Some(x) => x.as_i64().into_iter().collect(),
                    None => vec![-1],
                };
                let mut row = 1u64;
                for a in axes {
                    let i = if a < 0 { a + rank } else { a };
                    if i < 1 || i >= rank {
                        return Err(Error::shape(s.here, format!("axis {a} out of range")));
                    }
                    row = mul(row, s.dim(in_shape[i as usize])?)?;
                }
                g.push(
                    Op::Normalize(Normalize {
                        rows: s.numel(in_shape)? / row.max(1),
                    }),
                    inputs,
                )
            }
            "ReLU" => {
                // A clipped or leaky ReLU (relu6, leaky_relu) saves its input.
                let plain = s.cfg.get("max_value").is_none_or(Value::is_null)
                    && s.f64_of("negative_slope", 0.0) == 0.0;
                act(g, if plain { ActKind::Relu } else { ActKind::Silu })
            }
            "LeakyReLU" | "ELU" => act(g, ActKind::Silu),
            "Softmax" => act(g, ActKind::Tanh),
            "PReLU" => {
                let shared: Vec<u64> = match s.cfg.get("shared_axes") {
                    Some(Value::Array(a)) => a.iter().filter_map(Value::as_u64).collect(),
                    Some(x) => x.as_u64().into_iter().collect(),
                    None => vec![],
                };
                let mut alpha = 1u64;
                for (i, &d) in in_shape.iter().enumerate().skip(1) {
                    if !shared.contains(&(i as u64)) {
                        alpha = mul(alpha, s.dim(d)?)?;
                    }
                }
                g.push(Op::Prelu(Prelu { alpha }), inputs)
            }
            "Activation" => match activation_op(s.str_of("activation"), s.here)? {
                Some(kind) => act(g, kind),
                None => inputs[0],
            },
            "Dropout" => g.push(
                Op::Dropout(Dropout {
                    p: s.f64_of("rate", 0.5),
                }),
                inputs,
            ),
            "SpatialDropout1D" | "SpatialDropout2D" | "SpatialDropout3D" => {
                let (_, c) = s.spatial(in_shape)?;
                let kind = NoiseKind::Feature { mask: mul(b, c)? };
                noise(g, kind, s.f64_of("rate", 0.5))
            }
            // torchvision's StochasticDepth(mode="row"): one Bernoulli draw per sample.
            "StochasticDepth" => noise(
                g,
                NoiseKind::Feature { mask: b },
                s.f64_of("drop_path_rate", 0.0),
            ),
            "GaussianNoise" => noise(g, NoiseKind::Additive, s.f64_of("stddev", 0.0)),
            "GaussianDropout" => noise(g, NoiseKind::Multiplicative, s.f64_of("rate", 0.0)),
            "AlphaDropout" => noise(g, NoiseKind::Alpha, s.f64_of("rate", 0.0)),
            "MaxPooling1D" | "MaxPooling2D" | "MaxPooling3D" => pool(g, s, PoolKind::Max, inputs)?,
            "AveragePooling1D" | "AveragePooling2D" | "AveragePooling3D" => {
                pool(g, s, PoolKind::Avg, inputs)?
            }
            "GlobalAveragePooling1D" | "GlobalAveragePooling2D" | "GlobalAveragePooling3D" => {
                let (batch, channels) = (b, s.spatial(in_shape)?.1);
                let v = g.push(Op::GlobalAvgPool(GlobalAvgPool { batch, channels }), inputs);
                g.push(Op::View(View), &[v])
            }
            "GlobalMaxPooling1D" | "GlobalMaxPooling2D" | "GlobalMaxPooling3D" => {
                // `nn.AdaptiveMaxPool{1,2,3}d(1)`: a max pool whose window is the whole input
                let (sizes, channels) = s.spatial(in_shape)?;
                let dims = sizes.iter().map(|&d| ConvDim::new(d, d, d, 0)).collect();
                let pool = Pool {
                    kind: PoolKind::Max,
                    batch: b,
                    channels,
                    dims,
                };
                let v = g.push(Op::Pool(pool), inputs);
                g.push(Op::View(View), &[v])
            }
            "Flatten" | "Reshape" | "Permute" => g.push(Op::View(View), inputs),
            // Elementwise arithmetic on the input: a new tensor, nothing to train.
            "Rescaling" | "Normalization" => g.push(Op::Mul(Mul), inputs),
            "ZeroPadding1D" | "ZeroPadding2D" | "ZeroPadding3D" | "UpSampling1D"
            | "UpSampling2D" | "UpSampling3D" | "Resizing" | "RepeatVector" | "Concatenate" => g
                .push(
                    Op::Copy(Copy {
                        numel: Some(s.numel(s.out)?),
                    }),
                    inputs,
                ),
            "Cropping1D" | "Cropping2D" | "Cropping3D" => g.push(
                Op::SelectLast(SelectLast {
                    out_numel: s.numel(s.out)?,
                }),
                inputs,
            ),
            "Embedding" => g.push(
                Op::Embedding(Embedding {
                    tokens: s.numel(in_shape)?,
                    vocab: s.cfg.get("input_dim").and_then(Value::as_u64).unwrap_or(0),
                    dim: s.last(s.out)?,
                    tied: false,
                }),
                inputs,
            ),
            "LSTM" | "GRU" | "SimpleRNN" => self.lower_rnn(g, s, false, inputs)?,
            "Bidirectional" => {
                // merge_mode is always recorded; null means the two directions apart
                let merge = match s.cfg.get("merge_mode") {
                    None => "concat",
                    Some(m) => m.as_str().unwrap_or("None"),
                };
                if !matches!(merge, "concat" | "sum" | "ave" | "mul") {
                    return Err(s.unsupported(&format!("with merge_mode {merge}")));
                }
                let (class, cfg) = wrapped(s)?;
                let inner = Site { class, cfg, ..*s };
                let out = self.lower_rnn(g, &inner, true, inputs)?;
                if merge == "concat" {
                    out
                } else {
                    // out[..., :H] and out[..., H:] combined: a new tensor, so no later
                    // layer continues this RNN
                    self.open_rnn.remove(&out);
                    let half = s.numel(s.out)?;
                    let split = Op::SelectLast(SelectLast { out_numel: half });
                    let fwd = g.push(split.clone(), &[out]);
                    let bwd = g.push(split, &[out]);
                    match merge {
                        "sum" => g.push(Op::Add(Add), &[fwd, bwd]),
                        "mul" => g.push(Op::Mul(Mul), &[fwd, bwd]),
                        _ => average(g, &[fwd, bwd]),
                    }
                }
            }
            "TimeDistributed" => {
                // The time axis folds into the batch: (B, T, …) → (B·T, …).
                let (class, cfg) = wrapped(s)?;
                let steps = s.dim(in_shape.get(1).copied().flatten())?;
                let fold = |sh: &Shape| -> Shape {
                    sh.first()
                        .into_iter()
                        .chain(sh.iter().skip(2))
                        .copied()
                        .collect()
                };
                let ins: Vec<Shape> = s.ins.iter().map(fold).collect();
                let out = fold(s.out);
                let inner = Site {
                    class,
                    cfg,
                    ins: &ins,
                    out: &out,
                    batch: mul(b, steps)?,
                    here: s.here,
                    key: None,
                };
                self.lower_layer(g, &inner, inputs)?
            }
            "MultiHeadAttention" => multi_head_attention(g, s, inputs)?,
            "Attention" => {
                if !matches!(s.str_of("score_mode"), "dot" | "") {
                    return Err(s.unsupported("with score_mode 'concat'"));
                }
                // softmax(q·kᵀ)·v: SDPA with one head and scale=1; use_scale's learnt
                // scalar multiplies q first (`q * scale`), the same scores.
                let (q, v) = (s.input(0)?, s.input(1)?);
                let d = s.last(q)?;
                let q_len = s.numel(q)? / mul(b, d)?.max(1);
                let kv_len = s.numel(v)? / mul(b, s.last(v)?)?.max(1);
                let key = *inputs.get(2).unwrap_or(&inputs[1]);
                let query = if s.bool_of("use_scale", false) {
                    g.push(Op::Scale(Scale { numel: 1 }), &inputs[..1])
                } else {
                    inputs[0]
                };
                g.push(
                    Op::Attention(Attention {
                        batch: b,
                        heads: 1,
                        kv_heads: 1,
                        q_len,
                        kv_len,
                        head_dim: d,
                        v_head_dim: s.last(v)?,
                        causal: false,
                        dropout: s.f64_of("dropout", 0.0),
                        eager_mask: false,
                        softmax_fp32: false,
                        fused_qkv: false,
                        score_bias: false,
                        sinks: false,
                    }),
                    &[query, key, inputs[1]],
                )
            }
            "Add" | "Subtract" => g.push(Op::Add(Add), inputs),
            "Multiply" | "Maximum" | "Minimum" => g.push(Op::Mul(Mul), inputs),
            "Average" => average(g, inputs),
            // keras.applications' ConvNeXt LayerScale: `x * gamma`, gamma per channel.
            "LayerScale" => g.push(
                Op::Scale(Scale {
                    numel: s.u64_of("projection_dim")?,
                }),
                inputs,
            ),
            // keras.applications' InceptionResNetV2 `inputs[0] + inputs[1] * scale`: the
            // scaled copy (saves nothing), then the sum.
            "CustomScaleLayer" => {
                let [x, r] = inputs else {
                    return Err(s.unsupported("with other than two inputs"));
                };
                let scaled = g.push(Op::Add(Add), &[*r]);
                g.push(Op::Add(Add), &[*x, scaled])
            }
            c if IDENTITY.contains(&c) => inputs[0],
            other => {
                return Err(Error::invalid(
                    s.here,
                    format!("memory: layer class {other} has no PyTorch lowering yet"),
                ))
            }
        })
    }

    /// A Keras LSTM, GRU or SimpleRNN (bidirectional when wrapped): extends the
    /// multi-layer RNN it continues, or starts one.
    fn lower_rnn(
        &mut self,
        g: &mut Graph,
        s: &Site,
        bidirectional: bool,
        inputs: &[ValueId],
    ) -> Result<ValueId> {
        let kind = match s.class {
            "LSTM" => RnnKind::Lstm,
            "GRU" => RnnKind::Gru,
            "SimpleRNN" => RnnKind::Tanh,
            _ => return Err(s.unsupported("(wrapped by Bidirectional)")),
        };
        // return_state: the states are further outputs of the call, lowered for no
        // consumer (one that reads them gets the clean error of `Lowering::input`).
        // go_backwards: the RNN runs on `x.flip(1)`, a copy; wrapped by Bidirectional
        // it would swap the directions, which has no lowering.
        let backwards = s.bool_of("go_backwards", false);
        if backwards && bidirectional {
            return Err(s.unsupported("with go_backwards (wrapped by Bidirectional)"));
        }
        let x = if backwards {
            g.push(Op::Copy(Copy::default()), &inputs[..1])
        } else {
            inputs[0]
        };
        let hidden = s.u64_of("units")?;
        let in_shape = s.input(0)?;
        let seq = in_shape
            .get(1)
            .copied()
            .flatten()
            .ok_or_else(|| Error::shape(s.here, "memory needs the sequence length known"))?;
        let input_size = in_shape
            .get(2)
            .copied()
            .flatten()
            .ok_or_else(|| Error::shape(s.here, "memory needs the feature size known"))?;
        let continues = self.open_rnn.get(&x).copied().filter(|&node| {
            matches!(&g.nodes[node].op, Op::Rnn(r)
                if r.kind == kind && r.hidden == hidden && r.bidirectional == bidirectional)
        });
        let seq_out = match continues {
            Some(node) => {
                if let Op::Rnn(r) = &mut g.nodes[node].op {
                    r.layers += 1;
                }
                x
            }
            None => g.push(
                Op::Rnn(Rnn {
                    kind,
                    batch: s.batch,
                    seq,
                    input_size,
                    hidden,
                    layers: 1,
                    bidirectional,
                }),
                &[x],
            ),
        };
        let node = self
            .open_rnn
            .remove(&x)
            .filter(|_| continues.is_some())
            .unwrap_or(g.nodes.len() - 1);
        if s.bool_of("return_sequences", false) {
            let single_consumer = s
                .key
                .is_some_and(|(li, ni)| self.consumers.get(&(li, ni, 0)).copied() == Some(1));
            if single_consumer {
                self.open_rnn.insert(seq_out, node);
            }
            return Ok(seq_out);
        }
        // h[:, -1]: both directions' outputs at the last step
        let out_numel = mul(mul(s.batch, hidden)?, 1 + bidirectional as u64)?;
        Ok(g.push(Op::SelectLast(SelectLast { out_numel }), &[seq_out]))
    }
}

/// (a + b + …) / n: the sum, then its scaled copy.
fn average(g: &mut Graph, inputs: &[ValueId]) -> ValueId {
    let sum = g.push(Op::Add(Add), inputs);
    g.push(Op::Add(Add), &[sum])
}

/// The class and config of the layer a wrapper (Bidirectional, TimeDistributed) holds.
fn wrapped<'a>(s: &Site<'a>) -> Result<(&'a str, &'a Config)> {
    let inner = s.cfg.get("layer");
    let class = inner
        .and_then(|l| l.get("class_name"))
        .and_then(Value::as_str);
    let cfg = inner
        .and_then(|l| l.get("config"))
        .and_then(Value::as_object);
    class
        .zip(cfg)
        .ok_or_else(|| Error::invalid(s.here, "wrapped layer has no 'class_name' and 'config'"))
}

/// Conv1D/2D/3D (and their Transpose, Depthwise and Separable forms) as `nn.ConvNd` /
/// `nn.ConvTransposeNd`, padded to give Keras's output size.
fn conv(g: &mut Graph, s: &Site, inputs: &[ValueId]) -> Result<ValueId> {
    let transposed = s.class.ends_with("Transpose");
    let (size, c) = s.spatial(s.input(0)?)?;
    let (out_size, f) = s.spatial(s.out)?;
    let n = size.len();
    if out_size.len() != n {
        return Err(Error::shape(s.here, "input and output ranks differ"));
    }
    let kernel = s
        .ints("kernel_size", n)?
        .ok_or_else(|| Error::invalid(s.here, "missing 'kernel_size'"))?;
    let stride = s.ints("strides", n)?.unwrap_or(vec![1; n]);
    let dilation = s.ints("dilation_rate", n)?.unwrap_or(vec![1; n]);
    let mut dims = Vec::with_capacity(n);
    for i in 0..n {
        let (k, st, d) = (kernel[i], stride[i], dilation[i]);
        let mut dim = ConvDim::new(size[i], k, st, 0);
        dim.dilation = d;
        if transposed {
            (dim.padding, dim.output_padding) = transposed_padding(size[i], out_size[i], k, st, d)?;
        } else {
            dim.padding = same_padding(size[i], out_size[i], k, st, d)?;
        }
        dims.push(dim);
    }
    let bias = s.bool_of("use_bias", true);
    let conv = |in_channels, out_channels, dims, groups, bias| {
        Op::Conv(Conv {
            batch: s.batch,
            in_channels,
            out_channels,
            dims,
            groups,
            bias,
            transposed,
        })
    };
    let v = if s.class.starts_with("Depthwise") {
        // a grouped convolution with a group per input channel
        g.push(conv(c, f, dims, c, bias), inputs)
    } else if s.class.starts_with("Separable") {
        // depthwise (no bias), then a pointwise 1×… convolution
        let inner = mul(
            c,
            s.cfg
                .get("depth_multiplier")
                .and_then(Value::as_u64)
                .unwrap_or(1),
        )?;
        let d = g.push(conv(c, inner, dims, c, false), inputs);
        let pointwise = out_size.iter().map(|&o| ConvDim::new(o, 1, 1, 0)).collect();
        g.push(conv(inner, f, pointwise, 1, bias), &[d])
    } else {
        let groups = s.cfg.get("groups").and_then(Value::as_u64).unwrap_or(1);
        g.push(conv(c, f, dims, groups, bias), inputs)
    };
    s.activate(g, v)
}

/// MaxPooling / AveragePooling 1D–3D as `nn.MaxPoolNd` / `nn.AvgPoolNd`, padded to give
/// Keras's output size ('same').
fn pool(g: &mut Graph, s: &Site, kind: PoolKind, inputs: &[ValueId]) -> Result<ValueId> {
    let (size, channels) = s.spatial(s.input(0)?)?;
    let (out_size, _) = s.spatial(s.out)?;
    let n = size.len();
    let kernel = s.ints("pool_size", n)?.unwrap_or(vec![2; n]);
    let stride = s.ints("strides", n)?.unwrap_or(kernel.clone());
    let dims = (0..n)
        .map(|i| {
            let o = out_size.get(i).copied().unwrap_or(1);
            let pad = same_padding(size[i], o, kernel[i], stride[i], 1)?;
            Ok(ConvDim::new(size[i], kernel[i], stride[i], pad))
        })
        .collect::<Result<_>>()?;
    let pool = Pool {
        kind,
        batch: s.batch,
        channels,
        dims,
    };
    Ok(g.push(Op::Pool(pool), inputs))
}

/// MultiHeadAttention as a PyTorch user writes it: q, k, v projections (`nn.Linear`,
/// heads·key_dim features for q and k, heads·value_dim for v),
/// `scaled_dot_product_attention` over the heads (value heads of value_dim), and the
/// output projection from heads·value_dim; `use_gate` multiplies the attention by a
/// sigmoid gate, a fourth projection of the query. Inputs: query, value, and key
/// (default: value); self-attention passes one tensor as all three.
fn multi_head_attention(g: &mut Graph, s: &Site, inputs: &[ValueId]) -> Result<ValueId> {
    let heads = s.u64_of("num_heads")?;
    let key_dim = s.u64_of("key_dim")?;
    let value_dim = s
        .cfg
        .get("value_dim")
        .and_then(Value::as_u64)
        .unwrap_or(key_dim);
    let q_shape = s.input(0)?;
    // Keras records the default axes once built: every axis between batch and features.
    let default_axes: Vec<Value> = (1..q_shape.len().saturating_sub(1))
        .map(Value::from)
        .collect();
    let axes = s.cfg.get("attention_axes");
    if axes.is_some_and(|a| !a.is_null() && a.as_array() != Some(&default_axes)) {
        return Err(s.unsupported("with attention_axes"));
    }
    if s.cfg.get("sliding_window").is_some_and(|w| !w.is_null()) {
        return Err(s.unsupported("with sliding_window"));
    }
    let b = s.batch;
    let bias = s.bool_of("use_bias", true);
    let v_shape = s.ins.get(1).unwrap_or(q_shape);
    let k_shape = s.ins.get(2).unwrap_or(v_shape);
    let (q_in, v_in) = (inputs[0], *inputs.get(1).unwrap_or(&inputs[0]));
    let k_in = *inputs.get(2).unwrap_or(&v_in);
    let (qk_proj, v_proj) = (mul(heads, key_dim)?, mul(heads, value_dim)?);
    let linear = |g: &mut Graph,
                  shape: &Shape,
                  x: ValueId,
                  in_features: u64,
                  out_features: u64|
     -> Result<(ValueId, u64)> {
        let rows = s.numel(shape)? / in_features.max(1);
        let op = Op::Linear(Linear {
            rows,
            in_features,
            out_features,
            bias,
            tied_weight: false,
        });
        Ok((g.push(op, &[x]), rows / b.max(1)))
    };
    // use_gate: sigmoid(Linear(query)), heads·value_dim features, gates the attention
    let gate = if s.bool_of("use_gate", false) {
        let (gate, _) = linear(g, q_shape, q_in, s.last(q_shape)?, v_proj)?;
        Some(g.push(
            Op::Act(Act {
                kind: ActKind::Tanh,
            }),
            &[gate],
        ))
    } else {
        None
    };
    let (q, q_len) = linear(g, q_shape, q_in, s.last(q_shape)?, qk_proj)?;
    let (k, kv_len) = linear(g, k_shape, k_in, s.last(k_shape)?, qk_proj)?;
    let (v, _) = linear(g, v_shape, v_in, s.last(v_shape)?, v_proj)?;
    let att = g.push(
        Op::Attention(Attention {
            batch: b,
            heads,
            kv_heads: heads,
            q_len,
            kv_len,
            head_dim: key_dim,
            v_head_dim: value_dim,
            causal: false,
            dropout: s.f64_of("dropout", 0.0),
            eager_mask: false,
            softmax_fp32: false,
            fused_qkv: false,
            score_bias: false,
            sinks: false,
        }),
        &[q, k, v],
    );
    let att = match gate {
        Some(gate) => g.push(Op::Mul(Mul), &[att, gate]),
        None => att,
    };
    Ok(g.push(
        Op::Linear(Linear {
            rows: mul(b, q_len)?,
            in_features: v_proj,
            out_features: s.last(s.out)?,
            bias,
            tied_weight: false,
        }),
        &[att],
    ))
}
