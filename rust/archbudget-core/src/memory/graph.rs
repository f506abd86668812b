//! The IR: a graph of PyTorch ops with concrete shapes. Inputs come first (value ids
//! `0..inputs.len()`), then node `i` produces value `inputs.len() + i`. An op that
//! PyTorch implements as a view (flatten, reshape, transpose without copy) produces no
//! new storage; the simulator aliases it to its input.
use super::ops::Op;

/// Element types PyTorch allocates in a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    F32,
    BF16,
    I64,
    Bool,
}

impl DType {
    pub fn bytes(self) -> u64 {
        match self {
            DType::F32 => 4,
            DType::BF16 => 2,
            DType::I64 => 8,
            DType::Bool => 1,
        }
    }
}

/// A tensor handed to the model (or the loss) by the caller; it stays alive all step.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    pub numel: u64,
    /// `Float` follows the run precision (bfloat16 in `bf16` runs, as gpu_memory.py casts
    /// the batch); `Index` is int64 (token ids, class labels).
    pub kind: InputKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Float,
    Index,
}

pub type ValueId = usize;

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub op: Op,
    pub inputs: Vec<ValueId>,
}

/// A model: its inputs and its ops in execution order. In training the last node must
/// be the loss (a scalar); in inference the last node's output is what the caller keeps.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Graph {
    pub inputs: Vec<Input>,
    pub nodes: Vec<Node>,
    /// Number of nodes at the end that only exist in training (the loss).
    pub train_only_tail: usize,
    /// Nodes grouped for activation checkpointing: `(first, last)` node indices (inclusive)
    /// of each checkpointed region (e.g. one HF decoder layer).
    pub checkpoint_regions: Vec<(usize, usize)>,
    /// Values the model keeps until its output is dropped (HF's kv cache): freed after
    /// the forward in training, alive to the end in inference.
    pub forward_held: Vec<ValueId>,
    /// Held values (of `forward_held`) that do not grow from the prompt's positions
    /// in generation, with how they do grow.
    pub held_caches: Vec<(ValueId, CacheGrowth)>,
    /// First node of what each decoded token runs again (t5's decoder, run on one
    /// token in the prefill); `None`: the whole graph, at 1/seq of the prompt's cost.
    pub decode_from: Option<usize>,
    /// In inference the value the caller keeps (default: the last node's output).
    pub infer_output: Option<ValueId>,
    /// Nodes whose parameters are frozen (`requires_grad=False`): they get no gradient
    /// and no optimizer state, backward skips their weight-gradient work (autograd then
    /// saves only what the input gradient needs), and autocast does not cache their
    /// bf16 casts (`cached_cast` caches leaves that require grad only).
    pub frozen: Vec<usize>,
    /// Inputs generation does not grow (an encoder's audio features); the others grow
    /// with the tokens as token ids do.
    pub fixed_inputs: Vec<ValueId>,
}

/// How a held cache tensor grows over generation's decoding forwards; a tensor not
/// listed grows by one position per forward from the prompt's `seq` positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheGrowth {
    /// A sliding-window layer: at most `window` positions once decoding has begun.
    Window(u64),
    /// Computed once and kept as is (cross-attention k/v of the encoder output).
    Fixed,
    /// Grows by one position per forward from the `positions` it was built with
    /// (t5's decoder self-attention, which starts from one token).
    From(u64),
}

impl Graph {
    pub fn input(&mut self, numel: u64, kind: InputKind) -> ValueId {
        self.inputs.push(Input { numel, kind });
        self.inputs.len() - 1
    }

    /// Dropout of probability `p` on `x`, or `x` itself when `p` is 0 (a zero-rate dropout
    /// returns its input: no op, no mask kept).
    pub fn dropout(&mut self, x: ValueId, p: f64) -> ValueId {
        match p > 0.0 {
            true => self.push(Op::Dropout(super::ops::Dropout { p }), &[x]),
            false => x,
        }
    }

    /// Append `op` reading `inputs`; returns the value it produces.
    pub fn push(&mut self, op: Op, inputs: &[ValueId]) -> ValueId {
        self.nodes.push(Node {
            op,
            inputs: inputs.to_vec(),
        });
        self.inputs.len() + self.nodes.len() - 1
    }

    /// Append `op` reading the last value produced.
    pub fn then(&mut self, op: Op) -> ValueId {
        let last = self.last();
        self.push(op, &[last])
    }

    /// Freeze the parameters of nodes `nodes` (indices into `self.nodes`).
    pub fn freeze(&mut self, nodes: std::ops::Range<usize>) {
        self.frozen.extend(nodes);
    }

    pub fn last(&self) -> ValueId {
        self.inputs.len() + self.nodes.len() - 1
    }
}
