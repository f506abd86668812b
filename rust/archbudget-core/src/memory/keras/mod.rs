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
mod attention;
mod conv_rnn;
mod dense_conv;
mod layer;
mod norm;
mod recurrent;
mod site;
// the Keras activation names' ops, also for the KerasHub families lowered by hand
pub(super) use site::activation_op;

use std::collections::HashMap;

use serde_json::Value;

use super::graph::{Graph, InputKind, ValueId};
use super::keras_written;
use super::ops::*;
use super::{Result, RunSettings};
use crate::error::Error;
use crate::formats::keras::{Call, Layer, Model, TensorRef};
use crate::shape::Shape;
use site::{numel, Site};

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
        let out_shape =
            keras_written::output_shape(layer, &layer.calls[output.node], &here)?.clone();
        let classes = out_shape
            .last()
            .copied()
            .flatten()
            .filter(|_| out_shape.len() > 1)
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

/// A Keras model lowered into a larger graph (a KerasHub model's feature extractor,
/// lowered by hand around it): the values of its outputs, its ops frozen when `frozen`.
pub(crate) fn lower_into(
    graph: &mut Graph,
    model: &Model,
    inputs: &[ValueId],
    batch: u64,
    frozen: bool,
    location: &str,
) -> Result<Vec<ValueId>> {
    lower_model(graph, model, inputs, batch, frozen, location)
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
        let first = graph.nodes.len();
        low.lower_call(graph, layer_index, node, location)?;
        if node > 0 && !model.layers[layer_index].weights.is_empty() {
            reuse_weights(graph, first);
        }
    }
    // weights the model tracks and never runs (a KerasHub BASNet's encoder stem):
    // parameters without a gradient (BatchNormalization's statistics, buffers, left out)
    let statistics = ["moving_mean", "moving_variance"];
    for w in model
        .unlisted
        .iter()
        .filter(|w| !statistics.contains(&w.name.as_str()))
    {
        let first = graph.nodes.len();
        let numel = w.numel(location)?;
        graph.push(Op::UnusedParam(UnusedParam { numel }), &[]);
        if frozen || !w.trainable {
            graph.freeze(first..first + 1);
        }
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

/// A shared layer's later calls (a KerasHub prediction head called on every pyramid
/// level) run the weights its first call built: the ops from node `from` on declare no
/// new parameters.
fn reuse_weights(graph: &mut Graph, from: usize) {
    for node in &mut graph.nodes[from..] {
        if !matches!(node.op, Op::Reused(_)) {
            node.op = Op::Reused(Box::new(node.op.clone()));
        }
    }
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
                g, layer, call, self.batch, &inputs, &here,
            )?)
        } else {
            None
        };
        if let Some(out) = written {
            if layer.op {
                // An op's further outputs another call reads (`ops.split`'s pieces):
                // each lowered as the op giving that output's shape.
                for (i, shape) in call.outputs.iter().enumerate().skip(1) {
                    if self.consumers.contains_key(&(li, ni, i)) {
                        let piece = keras_written::op_node(
                            g,
                            &layer.class_name,
                            &ins,
                            shape,
                            self.batch,
                            &inputs,
                            &here,
                        )?;
                        self.values.insert((li, ni, i), piece);
                    }
                }
            }
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
        // Further outputs another layer reads, such as an RNN's return_state (h, and c
        // for an LSTM: batch × units each): tensors the op returns beside its output.
        for (i, shape) in call.outputs.iter().enumerate().skip(1) {
            if !self.consumers.contains_key(&(li, ni, i)) {
                continue;
            }
            let state = Op::SelectLast(SelectLast {
                out_numel: numel(self.batch, shape, &here)?,
            });
            let value = g.push(state, &[out]);
            self.values.insert((li, ni, i), value);
        }
        if frozen {
            g.freeze(first_node..g.nodes.len());
        }
        self.values.insert((li, ni, 0), out);
        Ok(())
    }
}
