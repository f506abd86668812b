//! Keras models lowered to the PyTorch op IR: a Keras model is estimated as its PyTorch
//! equivalent, layer for layer (SPEC.md), at the batch of the run. Channels-first or
//! channels-last makes no difference to bytes, so Keras's NHWC shapes map onto NCHW ops.
//!
//! Keras idioms that PyTorch writes differently are lowered to what a PyTorch user
//! would write: a Dense/Conv `activation` becomes its own activation op; a chain of LSTMs
//! returning sequences into a last LSTM becomes one multi-layer `nn.LSTM` and `h[:, -1]`;
//! GlobalAveragePooling2D becomes `AdaptiveAvgPool2d(1)` + `flatten`. Training adds
//! cross-entropy on the last output against int64 class labels, as gpu_memory.py does.
use std::collections::HashMap;

use serde_json::Value;

use super::graph::{Graph, InputKind, ValueId};
use super::ops::*;
use super::{add, mul, Result, RunSettings};
use crate::error::Error;
use crate::formats::keras::{Call, Layer, Model, TensorRef};
use crate::shape::Shape;

/// Classes this lowering knows, for the error that names the rest.
pub const SUPPORTED: [&str; 24] = [
    "InputLayer",
    "Sequential",
    "Functional",
    "Dense",
    "Conv2D",
    "DepthwiseConv2D",
    "SeparableConv2D",
    "BatchNormalization",
    "LayerNormalization",
    "ReLU",
    "Activation",
    "Dropout",
    "MaxPooling2D",
    "GlobalAveragePooling2D",
    "Flatten",
    "Reshape",
    "Embedding",
    "LSTM",
    "Add",
    "Multiply",
    "Concatenate",
    "ZeroPadding2D",
    "Rescaling",
    "Normalization",
];

fn numel(batch: u64, shape: &Shape, location: &str) -> Result<u64> {
    shape[1..].iter().try_fold(batch, |acc, d| {
        let d = d.ok_or_else(|| {
            Error::shape(location, "memory needs every non-batch dimension known")
        })?;
        mul(acc, d)
    })
}

/// Keras activations by what their PyTorch backward keeps, which is all that matters to
/// bytes: ReLU its output (aliasable in place); tanh, sigmoid, softmax and ELU their
/// output; GELU its input; SiLU, ReLU6, leaky ReLU and the hard variants their input.
fn activation_op(name: &str, location: &str) -> Result<Option<ActKind>> {
    Ok(match name {
        "linear" | "" => None,
        "relu" => Some(ActKind::Relu),
        "gelu" => Some(ActKind::Gelu),
        "tanh" | "sigmoid" | "softmax" | "elu" => Some(ActKind::Tanh),
        "silu" | "swish" | "relu6" | "leaky_relu" | "hard_sigmoid" | "hard_silu" | "hard_swish" | "selu" | "mish" => Some(ActKind::Silu),
        other => {
            return Err(Error::invalid(
                location,
                format!("memory: activation '{other}' has no PyTorch lowering yet (relu, gelu, silu, tanh, sigmoid, softmax, elu, relu6, leaky_relu, hard_sigmoid, hard_silu, selu, mish)"),
            ))
        }
    })
}

/// One (possibly nested) model being lowered: the value each of its Keras tensors
/// became, and which LSTM nodes may still absorb a layer.
struct Lowering<'m> {
    model: &'m Model,
    batch: u64,
    values: HashMap<(usize, usize, usize), ValueId>,
    consumers: HashMap<(usize, usize, usize), usize>,
    /// Output value of an `Lstm` node returning sequences → that node's index.
    open_lstm: HashMap<ValueId, usize>,
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
    let [output] = model.outputs.as_slice() else {
        return Err(Error::invalid(
            location,
            format!(
                "memory: models with {} outputs are not supported yet (one output, one loss)",
                model.outputs.len()
            ),
        ));
    };
    let out_shape = model.shape_of(*output).clone();
    let classes = out_shape
        .last()
        .copied()
        .flatten()
        .ok_or_else(|| Error::shape(location, "the output's last dimension must be known"))?;
    let rows = numel(run.batch, &out_shape, location)? / classes.max(1);
    let labels = graph.input(rows, InputKind::Index);
    let outputs = lower_model(&mut graph, model, &inputs, run.batch, false, location)?;
    graph.push(
        Op::CrossEntropy(CrossEntropy {
            rows,
            classes,
            label_copies: vec![],
        }),
        &[outputs[0], labels],
    );
    graph.train_only_tail = 1;
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
        open_lstm: HashMap::new(),
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

impl Lowering<'_> {
    fn input(&self, t: &TensorRef) -> ValueId {
        self.values[&(t.layer, t.node, t.tensor)]
    }

    fn lower_call(&mut self, g: &mut Graph, li: usize, ni: usize, location: &str) -> Result<()> {
        let layer: &Layer = &self.model.layers[li];
        let call: &Call = &layer.calls[ni];
        let here = format!("{location}: layer '{}'", layer.name);
        let inputs: Vec<ValueId> = call.inputs.iter().map(|(t, _)| self.input(t)).collect();
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
        let in_shape = call
            .inputs
            .first()
            .map(|(_, s)| s.clone())
            .unwrap_or_default();
        let out_shape = &call.outputs[0];
        let b = self.batch;
        let cfg = &layer.config;
        let str_of = |k: &str| cfg.get(k).and_then(Value::as_str).unwrap_or("");
        let bool_of = |k: &str, d: bool| cfg.get(k).and_then(Value::as_bool).unwrap_or(d);
        let dim = |d: Option<u64>| {
            d.ok_or_else(|| Error::shape(&here, "memory needs every non-batch dimension known"))
        };
        let out = match layer.class_name.as_str() {
            "Dense" => {
                let in_features = dim(*in_shape.last().unwrap_or(&None))?;
                let out_features = dim(*out_shape.last().unwrap_or(&None))?;
                let rows = numel(b, &in_shape, &here)? / in_features;
                let mut v = g.push(
                    Op::Linear(Linear {
                        rows,
                        in_features,
                        out_features,
                        bias: bool_of("use_bias", true),
                        tied_weight: false,
                    }),
                    &inputs,
                );
                if let Some(kind) = activation_op(str_of("activation"), &here)? {
                    v = g.push(Op::Act(Act { kind }), &[v]);
                }
                v
            }
            "Conv2D" | "DepthwiseConv2D" | "SeparableConv2D" => {
                let (h, w, c) = (dim(in_shape[1])?, dim(in_shape[2])?, dim(in_shape[3])?);
                let (oh, ow, f) = (dim(out_shape[1])?, dim(out_shape[2])?, dim(out_shape[3])?);
                let pair = |k: &str| -> (u64, u64) {
                    let v: Vec<u64> = cfg
                        .get(k)
                        .and_then(Value::as_array)
                        .map(|a| a.iter().filter_map(Value::as_u64).collect())
                        .unwrap_or_default();
                    (
                        v.first().copied().unwrap_or(1),
                        v.get(1).or(v.first()).copied().unwrap_or(1),
                    )
                };
                let (kernel, stride) = (pair("kernel_size"), pair("strides"));
                // The symmetric padding that gives Keras's output size ('same' = k // 2 at stride 1).
                let pad = |n: u64, o: u64, k: u64, s: u64| -> Result<u64> {
                    Ok(add(mul(o - 1, s)?, k)?.saturating_sub(n).div_ceil(2))
                };
                let padding = (
                    pad(h, oh, kernel.0, stride.0)?,
                    pad(w, ow, kernel.1, stride.1)?,
                );
                let bias = bool_of("use_bias", true);
                let conv =
                    |in_channels, out_channels, kernel, stride, padding, groups, bias, in_hw| {
                        Op::Conv2d(Conv2d {
                            batch: b,
                            in_channels,
                            out_channels,
                            kernel,
                            stride,
                            padding,
                            groups,
                            bias,
                            in_hw,
                        })
                    };
                let mut v = match layer.class_name.as_str() {
                    "Conv2D" => {
                        let groups = cfg.get("groups").and_then(Value::as_u64).unwrap_or(1);
                        g.push(
                            conv(c, f, kernel, stride, padding, groups, bias, (h, w)),
                            &inputs,
                        )
                    }
                    // A depthwise convolution is a grouped one with a group per input channel.
                    "DepthwiseConv2D" => g.push(
                        conv(c, f, kernel, stride, padding, c, bias, (h, w)),
                        &inputs,
                    ),
                    // SeparableConv2D: depthwise (no bias) then a 1×1 pointwise convolution.
                    _ => {
                        let inner = mul(
                            c,
                            cfg.get("depth_multiplier")
                                .and_then(Value::as_u64)
                                .unwrap_or(1),
                        )?;
                        let d = g.push(
                            conv(c, inner, kernel, stride, padding, c, false, (h, w)),
                            &inputs,
                        );
                        g.push(
                            conv(inner, f, (1, 1), (1, 1), (0, 0), 1, bias, (oh, ow)),
                            &[d],
                        )
                    }
                };
                if let Some(kind) = activation_op(str_of("activation"), &here)? {
                    v = g.push(Op::Act(Act { kind }), &[v]);
                }
                v
            }
            "BatchNormalization" => g.push(
                Op::BatchNorm2d(BatchNorm2d {
                    channels: dim(*in_shape.last().unwrap_or(&None))?,
                }),
                &inputs,
            ),
            "LayerNormalization" => {
                let d = dim(*in_shape.last().unwrap_or(&None))?;
                let rms = bool_of("rms_scaling", false);
                let (weight, bias) = (
                    bool_of("scale", true) || rms,
                    bool_of("center", true) && !rms,
                );
                g.push(
                    Op::LayerNorm(LayerNorm {
                        rows: numel(b, &in_shape, &here)? / d,
                        dim: d,
                        weight,
                        bias,
                    }),
                    &inputs,
                )
            }
            "ReLU" => g.push(
                Op::Act(Act {
                    kind: if cfg.get("max_value").is_some_and(|v| !v.is_null()) {
                        ActKind::Silu
                    } else {
                        ActKind::Relu
                    },
                }),
                &inputs,
            ),
            "Activation" => match activation_op(str_of("activation"), &here)? {
                Some(kind) => g.push(Op::Act(Act { kind }), &inputs),
                None => inputs[0],
            },
            "Dropout" => {
                let p = cfg.get("rate").and_then(Value::as_f64).unwrap_or(0.5);
                g.push(Op::Dropout(Dropout { p }), &inputs)
            }
            "MaxPooling2D" => {
                let k = cfg
                    .get("pool_size")
                    .and_then(Value::as_array)
                    .and_then(|a| a.first())
                    .and_then(Value::as_u64)
                    .unwrap_or(2);
                let s = cfg
                    .get("strides")
                    .and_then(Value::as_array)
                    .and_then(|a| a.first())
                    .and_then(Value::as_u64)
                    .unwrap_or(k);
                let pool = MaxPool2d {
                    batch: b,
                    channels: dim(in_shape[3])?,
                    in_hw: (dim(in_shape[1])?, dim(in_shape[2])?),
                    kernel: k,
                    stride: s,
                };
                g.push(Op::MaxPool2d(pool), &inputs)
            }
            "GlobalAveragePooling2D" => {
                let v = g.push(
                    Op::GlobalAvgPool(GlobalAvgPool {
                        batch: b,
                        channels: dim(in_shape[3])?,
                    }),
                    &inputs,
                );
                g.push(Op::View(View), &[v])
            }
            "Flatten" | "Reshape" => g.push(Op::View(View), &inputs),
            // Elementwise arithmetic on the input: a new tensor, nothing to train.
            "Rescaling" | "Normalization" => g.push(Op::Mul(Mul), &inputs),
            "ZeroPadding2D" => g.push(
                Op::Copy(Copy {
                    numel: Some(numel(b, out_shape, &here)?),
                }),
                &inputs,
            ),
            "Embedding" => {
                let vocab = cfg.get("input_dim").and_then(Value::as_u64).unwrap_or(0);
                let d = dim(*out_shape.last().unwrap_or(&None))?;
                g.push(
                    Op::Embedding(Embedding {
                        tokens: numel(b, &in_shape, &here)?,
                        vocab,
                        dim: d,
                    }),
                    &inputs,
                )
            }
            "LSTM" => self.lower_lstm(g, li, ni, &inputs, &in_shape, &here)?,
            "Add" => g.push(Op::Add(Add), &inputs),
            "Multiply" => g.push(Op::Mul(Mul), &inputs),
            "Concatenate" => g.push(
                Op::Copy(Copy {
                    numel: Some(numel(b, out_shape, &here)?),
                }),
                &inputs,
            ),
            other => {
                return Err(Error::invalid(
                    &here,
                    format!(
                        "memory: layer class {other} has no PyTorch lowering yet (supported: {})",
                        SUPPORTED.join(", ")
                    ),
                ))
            }
        };
        if frozen {
            g.freeze(first_node..g.nodes.len());
        }
        self.values.insert((li, ni, 0), out);
        Ok(())
    }

    /// A Keras LSTM: extends the multi-layer `nn.LSTM` it continues, or starts one.
    fn lower_lstm(
        &mut self,
        g: &mut Graph,
        li: usize,
        ni: usize,
        inputs: &[ValueId],
        in_shape: &Shape,
        here: &str,
    ) -> Result<ValueId> {
        let layer = &self.model.layers[li];
        let cfg = &layer.config;
        if cfg.get("return_state").and_then(Value::as_bool) == Some(true)
            || cfg.get("go_backwards").and_then(Value::as_bool) == Some(true)
        {
            return Err(Error::invalid(
                here,
                "memory: LSTM with return_state or go_backwards has no PyTorch lowering yet",
            ));
        }
        let hidden = cfg
            .get("units")
            .and_then(Value::as_u64)
            .ok_or_else(|| Error::invalid(here, "missing 'units'"))?;
        let seq = in_shape
            .get(1)
            .copied()
            .flatten()
            .ok_or_else(|| Error::shape(here, "memory needs the sequence length known"))?;
        let input_size = in_shape
            .get(2)
            .copied()
            .flatten()
            .ok_or_else(|| Error::shape(here, "memory needs the feature size known"))?;
        let returns_sequences = cfg
            .get("return_sequences")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let continues =
            self.open_lstm
                .get(&inputs[0])
                .copied()
                .filter(|&node| match &g.nodes[node].op {
                    Op::Lstm(l) => l.hidden == hidden,
                    _ => false,
                });
        let seq_out = match continues {
            Some(node) => {
                if let Op::Lstm(l) = &mut g.nodes[node].op {
                    l.layers += 1;
                }
                inputs[0]
            }
            None => g.push(
                Op::Lstm(Lstm {
                    batch: self.batch,
                    seq,
                    input_size,
                    hidden,
                    layers: 1,
                }),
                inputs,
            ),
        };
        let node = self
            .open_lstm
            .remove(&inputs[0])
            .filter(|_| continues.is_some())
            .unwrap_or(g.nodes.len() - 1);
        if returns_sequences {
            let single_consumer = self.consumers.get(&(li, ni, 0)).copied().unwrap_or(0) == 1;
            if single_consumer {
                self.open_lstm.insert(seq_out, node);
            }
            return Ok(seq_out);
        }
        let out_numel = mul(self.batch, hidden)?;
        Ok(g.push(Op::SelectLast(SelectLast { out_numel }), &[seq_out]))
    }
}
