//! The compiled memory model: the simulator's answers (`sim`), byte for byte, at a
//! fraction of its cost for the graphs sweeps, `Budget.check` and `fit` evaluate again
//! and again. The simulator stays the reference: the property tests
//! (`tests/compiled_memory.rs`) compare the two over random candidates of every family.
//!
//! - [`fold`]: a graph of N identical blocks (transformer layers, an mlp's hidden
//!   layers) is simulated with 3 and 4 blocks and scaled to N.
//!
//! Where a rule does not apply (generation, fewer than [`fold::MIN_COPIES`] identical
//! blocks, blocks that differ), [`estimate`] runs the simulator.
pub mod fold;
pub(crate) mod trace;

use super::{Graph, MemoryReport, Result, RunSettings};

/// Peak memory, counts and FLOPs of one step of `graph` run as `run` says: what
/// `memory::estimate` gives, computed by the fastest exact rule that applies.
pub fn estimate(graph: &Graph, run: &RunSettings) -> Result<MemoryReport> {
    fold::estimate(graph, run)
}
