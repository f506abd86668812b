//! What the simulator records for the compiled model when asked (`sim::simulate_traced`):
//! every mark of the running maximum with the state per category, and the totals the
//! per-step constants (weights, optimizer state, the optimizer's temporaries) come from.

/// Where in the step a mark happens; marks are in time order within a phase, and the
/// phases follow one another in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Phase {
    /// Weights, optimizer state and inputs allocated, before the forward.
    Start,
    /// The forward of node `Mark::node`.
    Forward,
    /// The backward of node `Mark::node` (and the recomputation it triggers).
    Backward,
    /// `optimizer.step()`.
    Optimizer,
}

/// Index of the weights and optimizer categories in `Mark::state` (constant all step),
/// and of the transients.
pub(crate) const WEIGHTS: usize = 0;
pub(crate) const OPTIMIZER: usize = 1;
pub(crate) const TRANSIENTS: usize = 7;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Mark {
    pub phase: Phase,
    pub node: usize,
    /// The simulator's categories at the mark, the op's transients added to the last.
    pub state: [u64; 8],
}

#[derive(Debug, Default)]
pub(crate) struct Trace {
    pub marks: Vec<Mark>,
    /// The weights in construction order (as `allocator::construction_bytes` takes them)
    /// and the node that declares each.
    pub construct: Vec<(u64, u64, bool)>,
    pub construct_nodes: Vec<usize>,
    /// Per-tensor blocks of the weights and of the buffers (several GPUs).
    pub weights: u64,
    pub buffer_bytes: u64,
    /// Blocks of the trainable parameters backward reaches (optimizer state).
    pub param_blocks: u64,
    /// Blocks of the gradients backward made (the optimizer's temporaries).
    pub param_grads: u64,
}

impl Trace {
    pub fn mark(&mut self, phase: Phase, node: usize, cur: [u64; 8], transient: u64) {
        let mut state = cur;
        state[TRANSIENTS] = state[TRANSIENTS].saturating_add(transient);
        self.marks.push(Mark { phase, node, state });
    }
}
