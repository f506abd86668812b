//! The order `model.layers` lists a functional keras-hub backbone's layers in, from the
//! calls its constructor makes: Keras's `map_graph` (keras/src/ops/function.py). The
//! encoder-decoder backbones (t5, bart) interleave their two stacks by graph depth, so
//! the order changes with the number of layers and is computed, not written out.
//!
//! Mirrors: `_build_map` (a depth-first walk from the outputs, each operation indexed
//! when first seen), then the depths (walking the nodes back from the outputs, a node
//! one deeper than its deepest consumer, a shared layer as deep as its deepest node),
//! then the operations by decreasing depth, ties by first-seen index.
use std::collections::HashMap;

use super::blocks::Row;

/// `rows` (one per layer, any order) in the order `model.layers` lists them for a
/// model made of `graph`'s calls returning `outputs`.
pub fn ordered(rows: Vec<Row>, (graph, outputs): (CallGraph, Vec<usize>)) -> Vec<Row> {
    let mut by_name: HashMap<String, Row> = rows.into_iter().map(|r| (r.name.clone(), r)).collect();
    graph
        .layer_order(&outputs)
        .into_iter()
        .filter_map(|name| by_name.remove(&name))
        .collect()
}

/// One call of an operation: a layer (or `InputLayer`) or a weightless op such as
/// `GetItem`, which `model.layers` leaves out.
struct Node {
    op: String,
    /// The nodes whose outputs the call reads, in the order Keras flattens its
    /// arguments: positional first, then keyword arguments sorted by name.
    inputs: Vec<usize>,
    layer: bool,
}

#[derive(Default)]
pub struct CallGraph {
    nodes: Vec<Node>,
}

impl CallGraph {
    /// A `keras.Input` named `name`.
    pub fn input(&mut self, name: &str) -> usize {
        self.call(name, &[])
    }

    /// A call of the layer `name` on the outputs of `inputs`.
    pub fn call(&mut self, name: &str, inputs: &[usize]) -> usize {
        self.push(name, inputs, true)
    }

    /// A weightless op (`x[:, None, :]`), its name unique to this call.
    pub fn op(&mut self, name: &str, inputs: &[usize]) -> usize {
        self.push(name, inputs, false)
    }

    fn push(&mut self, op: &str, inputs: &[usize], layer: bool) -> usize {
        self.nodes.push(Node {
            op: op.to_string(),
            inputs: inputs.to_vec(),
            layer,
        });
        self.nodes.len() - 1
    }

    /// The layer names in `model.layers` order for a model returning `outputs` (in the
    /// order Keras flattens them: a dict's keys sorted).
    pub fn layer_order(&self, outputs: &[usize]) -> Vec<String> {
        let mut finished = vec![false; self.nodes.len()];
        let mut by_depth_first = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::new();
        for &out in outputs {
            self.walk(out, &mut finished, &mut by_depth_first, &mut index);
        }
        let mut node_depth = vec![0usize; self.nodes.len()];
        let mut op_depth: HashMap<&str, usize> = HashMap::new();
        for &n in by_depth_first.iter().rev() {
            let op = self.nodes[n].op.as_str();
            let depth = node_depth[n].max(op_depth.get(op).copied().unwrap_or(0));
            op_depth.insert(op, depth);
            node_depth[n] = depth;
            for &parent in &self.nodes[n].inputs {
                node_depth[parent] = node_depth[parent].max(depth + 1);
            }
        }
        // an input no output reads (Flux's `guidance` without guidance embedding): depth
        // 0, ahead of every other operation of that depth (`map_graph` gives it index -1)
        let unread = self
            .nodes
            .iter()
            .filter(|n| n.layer && n.inputs.is_empty() && !op_depth.contains_key(n.op.as_str()))
            .map(|n| (n.op.as_str(), 0))
            .collect::<Vec<_>>();
        let mut ops: Vec<(&str, usize)> = op_depth.into_iter().collect();
        ops.extend(unread);
        ops.sort_by_key(|&(op, depth)| {
            (
                std::cmp::Reverse(depth),
                index.get(op).map_or(0, |&i| i + 1),
            )
        });
        ops.into_iter()
            .filter(|(op, _)| self.nodes.iter().any(|n| n.layer && n.op == *op))
            .map(|(op, _)| op.to_string())
            .collect()
    }

    fn walk<'a>(
        &'a self,
        n: usize,
        finished: &mut [bool],
        order: &mut Vec<usize>,
        index: &mut HashMap<&'a str, usize>,
    ) {
        if finished[n] {
            return;
        }
        let next = index.len();
        index.entry(self.nodes[n].op.as_str()).or_insert(next);
        for &i in &self.nodes[n].inputs {
            self.walk(i, finished, order, index);
        }
        finished[n] = true;
        order.push(n);
    }
}
