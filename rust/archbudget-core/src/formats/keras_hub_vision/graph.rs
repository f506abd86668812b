//! A Keras functional graph written as `model.to_json()` writes one, built call by call
//! as a KerasHub constructor builds its model, then handed to the Keras reader.
//!
//! Layers are listed in the order Keras's `map_graph` gives `model.layers` (depth from
//! the outputs, deepest first; ties by first visit of a depth-first walk from the
//! outputs), so the rows come out in `model.summary()`'s order.
use std::collections::HashMap;

use serde_json::{json, Map, Value};

/// One output of one call in the graph (an op such as `ops.split` may give several
/// outputs; a shared layer is called more than once, each call a node).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tensor(usize, usize);

struct Node {
    name: String,
    entry: Map<String, Value>,
    inputs: Vec<Tensor>,
    /// Called on a list (`Add()([a, b])`) rather than on one tensor.
    list_input: bool,
    /// The node of the layer's first call (itself for a first call), and which call of
    /// that layer this is (Keras's node index).
    layer: usize,
    call: usize,
}

pub struct Graph {
    nodes: Vec<Node>,
    /// Uses per class of Keras's automatic names (`average_pooling2d`, `..._1`).
    auto_names: HashMap<String, usize>,
    channels_first: bool,
    /// Calls no output depends on, kept for their weights (a layer a custom layer builds
    /// but never calls).
    kept: Vec<Tensor>,
}

impl Graph {
    pub fn new(channels_first: bool) -> Graph {
        Graph {
            nodes: Vec::new(),
            auto_names: HashMap::new(),
            channels_first,
            kept: Vec::new(),
        }
    }

    pub fn data_format(&self) -> &'static str {
        if self.channels_first {
            "channels_first"
        } else {
            "channels_last"
        }
    }

    /// The channel axis as BatchNormalization / Concatenate take it.
    pub fn channel_axis(&self) -> i64 {
        if self.channels_first {
            1
        } else {
            -1
        }
    }

    /// Keras's automatic layer name for `snake` (the class in snake case): the first is
    /// bare, later ones get `_1`, `_2`, ... (a fresh session's counters).
    pub fn auto_name(&mut self, snake: &str) -> String {
        let used = self.auto_names.entry(snake.to_string()).or_insert(0);
        let name = if *used == 0 {
            snake.to_string()
        } else {
            format!("{snake}_{used}")
        };
        *used += 1;
        name
    }

    /// Count `name` as taken by a layer made before the graph's (`conv2d_5` takes
    /// `conv2d` up to 5), when it is one of `snake`'s automatic names.
    pub fn reserve_name(&mut self, snake: &str, name: &str) {
        let taken = match name.strip_prefix(snake) {
            Some("") => 1,
            Some(rest) => match rest.strip_prefix('_').and_then(|n| n.parse::<usize>().ok()) {
                Some(n) => n + 1,
                None => return,
            },
            None => return,
        };
        let used = self.auto_names.entry(snake.to_string()).or_insert(0);
        *used = (*used).max(taken);
    }

    /// `keras.Input(shape=image_shape)`: `shape` without the batch axis.
    pub fn input(&mut self, shape: &[Option<u64>]) -> Tensor {
        let name = self.auto_name("input_layer");
        self.input_named(&name, shape)
    }

    /// `keras.Input(shape=..., name=name)`.
    pub fn input_named(&mut self, name: &str, shape: &[Option<u64>]) -> Tensor {
        let batch_shape: Vec<Value> = std::iter::once(Value::Null)
            .chain(shape.iter().map(|d| d.map_or(Value::Null, Value::from)))
            .collect();
        let config =
            json!({"name": name, "batch_shape": batch_shape, "dtype": "float32", "sparse": false});
        self.push("InputLayer", "keras.layers", config, Vec::new(), false)
    }

    /// Call a Keras layer `class` with `config` (its `name` included) on `inputs`.
    pub fn call(&mut self, class: &str, config: Value, inputs: &[Tensor]) -> Tensor {
        self.push(class, "keras.layers", config, inputs.to_vec(), false)
    }

    /// Call a merging layer (Add, Concatenate, ...) on the list `inputs`.
    pub fn merge(&mut self, class: &str, config: Value, inputs: &[Tensor]) -> Tensor {
        self.push(class, "keras.layers", config, inputs.to_vec(), true)
    }

    /// A `keras.ops` node (`ops.pad(x, ...)`): in the graph, not in `model.layers`.
    pub fn op(&mut self, class: &str, config: Value, input: Tensor) -> Tensor {
        self.push(class, "keras.src.ops.numpy", config, vec![input], false)
    }

    /// Output `index` of the call that gave `t` (`ops.split`'s pieces).
    pub fn output(&self, t: Tensor, index: usize) -> Tensor {
        Tensor(t.0, index)
    }

    /// Keep the call that gave `t` though no output depends on it: its weights count.
    pub fn keep(&mut self, t: Tensor) {
        self.kept.push(t);
    }

    /// A model of several inputs used as a layer, called on the list `inputs` (a dict's
    /// values in key order, as Keras orders them).
    pub fn nested_list(&mut self, model: Value, inputs: &[Tensor]) -> Tensor {
        let t = self.nested(model, inputs[0]);
        let node = &mut self.nodes[t.0];
        node.inputs = inputs.to_vec();
        node.list_input = true;
        t
    }

    /// A model used as a layer (a task's backbone), `model` its functional JSON.
    pub fn nested(&mut self, model: Value, input: Tensor) -> Tensor {
        let Value::Object(mut entry) = model else {
            unreachable!("a translated model is a JSON object")
        };
        let name = entry["config"]["name"]
            .as_str()
            .unwrap_or("model")
            .to_string();
        entry.insert("name".into(), Value::from(name.clone()));
        self.push_node(name, entry, vec![input], false)
    }

    /// Call again the layer whose first call gave `first`, on `inputs` (a layer shared
    /// by several calls: its weights are built once).
    pub fn call_again(&mut self, first: Tensor, inputs: &[Tensor]) -> Tensor {
        let layer = self.nodes[first.0].layer;
        let call = self.nodes.iter().filter(|n| n.layer == layer).count();
        let node = Node {
            name: self.nodes[layer].name.clone(),
            entry: Map::new(),
            inputs: inputs.to_vec(),
            list_input: self.nodes[layer].list_input,
            layer,
            call,
        };
        self.nodes.push(node);
        Tensor(self.nodes.len() - 1, 0)
    }

    /// A first call: a new layer.
    fn push_node(
        &mut self,
        name: String,
        entry: Map<String, Value>,
        inputs: Vec<Tensor>,
        list_input: bool,
    ) -> Tensor {
        let index = self.nodes.len();
        self.nodes.push(Node {
            name,
            entry,
            inputs,
            list_input,
            layer: index,
            call: 0,
        });
        Tensor(index, 0)
    }

    fn push(
        &mut self,
        class: &str,
        module: &str,
        config: Value,
        inputs: Vec<Tensor>,
        list_input: bool,
    ) -> Tensor {
        let name = config["name"].as_str().unwrap_or_default().to_string();
        let mut entry = Map::new();
        entry.insert("module".into(), Value::from(module));
        entry.insert("class_name".into(), Value::from(class));
        entry.insert("config".into(), config);
        entry.insert("name".into(), Value::from(name.clone()));
        self.push_node(name, entry, inputs, list_input)
    }

    /// The functional model JSON of class `class_name` from `input` to `output`, with the
    /// `extra` config keys (`trainable`) of the model it stands for.
    pub fn finish(
        self,
        class_name: &str,
        name: &str,
        input: Tensor,
        output: Tensor,
        extra: &Map<String, Value>,
    ) -> Value {
        // a plain tensor, as Keras writes `outputs=x` (`[x]` would be a list of one)
        let outputs = self.history(output);
        self.finish_with(class_name, name, &[input], &[output], outputs, extra)
    }

    /// `finish` for a model of several outputs: a list of them, as a layer returning a
    /// tuple gives them.
    pub fn finish_list(
        self,
        class_name: &str,
        name: &str,
        input: Tensor,
        outputs: &[Tensor],
        extra: &Map<String, Value>,
    ) -> Value {
        let refs = outputs.iter().map(|t| self.history(*t)).collect();
        self.finish_with(
            class_name,
            name,
            &[input],
            outputs,
            Value::Array(refs),
            extra,
        )
    }

    /// `finish` for a model returning a dict of tensors: Keras orders its outputs by key.
    pub fn finish_dict(
        self,
        class_name: &str,
        name: &str,
        input: Tensor,
        outputs: &[(String, Tensor)],
        extra: &Map<String, Value>,
    ) -> Value {
        let refs: Map<String, Value> = outputs
            .iter()
            .map(|(key, t)| (key.clone(), self.history(*t)))
            .collect();
        let tensors: Vec<Tensor> = outputs.iter().map(|(_, t)| *t).collect();
        self.finish_with(
            class_name,
            name,
            &[input],
            &tensors,
            Value::Object(refs),
            extra,
        )
    }

    /// `finish_dict` for a model of several inputs (a list: a dict's values in key order).
    pub fn finish_dict_of_inputs(
        self,
        class_name: &str,
        name: &str,
        inputs: &[Tensor],
        outputs: &[(String, Tensor)],
    ) -> Value {
        let refs: Map<String, Value> = outputs
            .iter()
            .map(|(key, t)| (key.clone(), self.history(*t)))
            .collect();
        let tensors: Vec<Tensor> = outputs.iter().map(|(_, t)| *t).collect();
        let refs = Value::Object(refs);
        self.finish_with(class_name, name, inputs, &tensors, refs, &Map::new())
    }

    fn finish_with(
        self,
        class_name: &str,
        name: &str,
        inputs: &[Tensor],
        outputs: &[Tensor],
        output_refs: Value,
        extra: &Map<String, Value>,
    ) -> Value {
        let reached: Vec<Tensor> = outputs.iter().chain(&self.kept).copied().collect();
        let order = self.keras_order(&reached);
        let tensor = |t: &Tensor| {
            json!({"class_name": "__keras_tensor__",
                   "config": {"keras_history": self.history(*t)}})
        };
        let layers: Vec<Value> = order
            .iter()
            .map(|&i| {
                let mut entry = self.nodes[i].entry.clone();
                // the layer's calls in call order (all in the graph: none is left unused)
                let calls = self.nodes.iter().filter(|n| n.layer == i);
                let inbound: Vec<Value> = calls
                    .filter(|n| !n.inputs.is_empty())
                    .map(|node| {
                        let args: Vec<Value> = node.inputs.iter().map(tensor).collect();
                        let args = if node.list_input {
                            json!([args])
                        } else {
                            Value::Array(args)
                        };
                        json!({"args": args, "kwargs": {}})
                    })
                    .collect();
                entry.insert("inbound_nodes".into(), Value::Array(inbound));
                Value::Object(entry)
            })
            .collect();
        let mut config = extra.clone();
        config.insert("name".into(), Value::from(name));
        config.insert("layers".into(), Value::Array(layers));
        let input_refs = inputs
            .iter()
            .map(|t| json!([self.nodes[t.0].name, 0, 0]))
            .collect();
        config.insert("input_layers".into(), Value::Array(input_refs));
        config.insert("output_layers".into(), output_refs);
        json!({"class_name": class_name, "config": config})
    }

    /// The `keras_history` of `t`: layer name, call, output.
    fn history(&self, t: Tensor) -> Value {
        let node = &self.nodes[t.0];
        json!([node.name, node.call, t.1])
    }

    /// Keras's `map_graph` order of the layers (their first calls' nodes) that lead to
    /// `outputs`.
    fn keras_order(&self, outputs: &[Tensor]) -> Vec<usize> {
        let parents: Vec<Vec<usize>> = self
            .nodes
            .iter()
            .map(|n| n.inputs.iter().map(|t| t.0).collect())
            .collect();
        let layer_of: Vec<usize> = self.nodes.iter().map(|n| n.layer).collect();
        let outputs: Vec<usize> = outputs.iter().map(|t| t.0).collect();
        map_graph_layers(&parents, &layer_of, &outputs)
    }
}

/// Keras's `map_graph` order (`model.layers`) of the nodes that lead to `outputs`, node
/// `i` called once on `parents[i]` (in the order its call flattens its arguments): depth
/// from the outputs, deepest first; ties by first visit of a depth-first walk from the
/// outputs in turn.
pub(crate) fn map_graph_order(parents: &[Vec<usize>], outputs: &[usize]) -> Vec<usize> {
    let layer_of: Vec<usize> = (0..parents.len()).collect();
    map_graph_layers(parents, &layer_of, outputs)
}

/// `map_graph_order` over calls: call `i` is a call of layer `layer_of[i]`. A layer's
/// depth is the deepest of its calls', each call at least as deep as the layer's calls
/// seen before it (Keras's `operations_depths`); ties by the layer's first visit.
fn map_graph_layers(parents: &[Vec<usize>], layer_of: &[usize], outputs: &[usize]) -> Vec<usize> {
    // first-visit index of each layer and finishing order of the calls
    let mut first_visit: HashMap<usize, usize> = HashMap::new();
    let mut finished: Vec<usize> = Vec::with_capacity(parents.len());
    let mut done = vec![false; parents.len()];
    for &output in outputs {
        // (call, next input to walk)
        let mut stack = vec![(output, 0usize)];
        while let Some(top) = stack.last_mut() {
            let (node, next) = *top;
            if next == 0 {
                let seen = first_visit.len();
                first_visit.entry(layer_of[node]).or_insert(seen);
            }
            match parents[node].get(next) {
                Some(&parent) => {
                    top.1 += 1;
                    if !done[parent] {
                        stack.push((parent, 0));
                    }
                }
                None => {
                    stack.pop();
                    if !done[node] {
                        done[node] = true;
                        finished.push(node);
                    }
                }
            }
        }
    }
    let mut depth = vec![0usize; parents.len()];
    let mut layer_depth: HashMap<usize, usize> = HashMap::new();
    for &node in finished.iter().rev() {
        let layer = layer_depth.entry(layer_of[node]).or_insert(0);
        let d = depth[node].max(*layer);
        *layer = d;
        depth[node] = d;
        for &parent in &parents[node] {
            depth[parent] = depth[parent].max(d + 1);
        }
    }
    let mut order: Vec<usize> = layer_depth.keys().copied().collect();
    order.sort_by_key(|l| (std::cmp::Reverse(layer_depth[l]), first_visit[l]));
    order
}
