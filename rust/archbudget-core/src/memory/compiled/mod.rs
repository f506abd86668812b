//! The compiled memory model: the simulator's answers (`sim`), byte for byte, at a
//! fraction of its cost for the graphs sweeps, `Budget.check` and `fit` evaluate again
//! and again. The simulator stays the reference: the property tests
//! (`tests/compiled_memory.rs`) compare the two over random candidates of every family.
//!
//! - [`tape`]: a structure's step lowered once ([`tape::Tape`]: every mark of the
//!   timeline a sum of terms, each an op's size rounded to allocator blocks; identical
//!   nodes one class), then evaluated per candidate of that structure by lowering each
//!   class once, under guards that say when the recording holds; tapes are kept per
//!   thread by structure and guard outcome ([`cache`]), recorded from a structure's
//!   second candidate on (training and inference on one GPU).
//! - [`timeline`]: a tape's marks as running sums of their changes, each repeat of
//!   identical layers evaluated at its first and last period; [`dominance`]: the marks
//!   a fitted tape need not compare, decided over the fit's box.
//! - [`axes`]: a structure's tape fitted as polynomials of a sweep's size axes
//!   ([`axes::AxisModel`]), so that a sweep candidate (`space::symbolic`) is evaluated
//!   without building its Graph.
//! - [`fold`]: a graph of N identical blocks (transformer layers, an mlp's hidden
//!   layers) is simulated with 3 and 4 blocks and scaled to N, from 40 blocks on.
//! - The weights as the caching allocator packs them while the model is built (a
//!   replay of every parameter's allocation and bf16 conversion) are remembered per
//!   thread for the last 4 models of 64 tensors or more
//!   (`allocator::recent_construction_bytes`): `fit`,
//!   `Budget.check` and sweeps over batch, seq or run settings rebuild the same model.
//!
//! Where no tape applies or its guards fail, the fold; where the fold does not apply
//! (generation, fewer identical blocks, blocks that differ), [`estimate`] runs the
//! simulator, with the remembered weights.
//!
//! The public entry point is [`estimate`] (and [`tape::Tape`], [`cache::stats`],
//! [`fold::fold`], [`fold::find_repeat`] for tests and benches); callers such as `space::family` need nothing else.
pub mod axes;
pub mod cache;
pub(crate) mod dominance;
pub mod fold;
pub(crate) mod record;
pub mod tape;
pub(crate) mod timeline;
pub(crate) mod trace;

use super::{Graph, MemoryReport, Result, RunSettings};

/// Peak memory, counts and FLOPs of one step of `graph` run as `run` says: what
/// `memory::estimate` gives, computed by the fastest exact rule that applies.
pub fn estimate(graph: &Graph, run: &RunSettings) -> Result<MemoryReport> {
    if let Some(report) = cache::estimate(graph, run) {
        return report;
    }
    fold::estimate(graph, run)
}
