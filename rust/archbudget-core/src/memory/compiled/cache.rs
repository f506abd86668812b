//! Tapes per thread, by structure: a candidate whose structure was seen before is
//! evaluated from its tape; the second candidate of a structure records one (the
//! first is simulated: a one-off `memory` call pays no recording); a candidate that
//! fails every tape's guards is recorded as one more tape of its structure (up to
//! [`VARIANTS`]), so a sweep whose candidates differ in what their guards test (a
//! tensor empty or not, two layers equal or not) settles on a tape per outcome.
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use super::super::graph::Graph;
use super::super::{MemoryReport, Result, RunSettings};
use super::tape::{self, Tape};

/// Tapes kept per structure (one per guard outcome).
const VARIANTS: usize = 4;
/// Structures remembered per thread before the cache is emptied.
const STRUCTURES: usize = 256;

#[derive(Default)]
struct Entry {
    sightings: u32,
    recorded: usize,
    tapes: Vec<Tape>,
}

/// What the tapes of this thread did since [`reset_stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Candidates evaluated from a tape.
    pub hits: u64,
    /// Candidates of a known structure whose tapes' guards all failed.
    pub guard_misses: u64,
    /// Tapes recorded.
    pub recorded: u64,
    /// Candidates simulated (a structure's first sighting, or no tape applies).
    pub simulated: u64,
}

thread_local! {
    static TAPES: RefCell<HashMap<u64, Entry>> = RefCell::new(HashMap::new());
    static STATS: Cell<Stats> = const { Cell::new(Stats { hits: 0, guard_misses: 0, recorded: 0, simulated: 0 }) };
}

pub fn stats() -> Stats {
    STATS.with(|s| s.get())
}

pub fn reset_stats() {
    STATS.with(|s| s.set(Stats::default()));
}

fn count(f: impl FnOnce(&mut Stats)) {
    STATS.with(|s| {
        let mut v = s.get();
        f(&mut v);
        s.set(v);
    });
}

/// The report of `g` under `run` from a tape of its structure (recording one where
/// due), or `None`: the caller simulates.
pub fn estimate(g: &Graph, run: &RunSettings) -> Option<Result<MemoryReport>> {
    if !tape::applies(run) {
        return None;
    }
    let key = structure_hash(g, run);
    TAPES.with(|tapes| {
        let mut tapes = tapes.borrow_mut();
        if tapes.len() >= STRUCTURES && !tapes.contains_key(&key) {
            tapes.clear();
        }
        let entry = tapes.entry(key).or_default();
        if let Some(r) = entry.tapes.iter().find_map(|t| t.evaluate(g, run)) {
            count(|s| s.hits += 1);
            return Some(Ok(r));
        }
        if !entry.tapes.is_empty() {
            count(|s| s.guard_misses += 1);
        }
        entry.sightings += 1;
        if entry.sightings < 2 || entry.recorded >= VARIANTS {
            count(|s| s.simulated += 1);
            return None;
        }
        entry.recorded += 1;
        count(|s| s.recorded += 1);
        Some(Tape::compile(g, run).map(|(report, tape)| {
            match tape {
                Some(t) if t.pays(g) => entry.tapes.push(t),
                // a structure whose tape does not pay is simulated from now on
                _ => entry.recorded = VARIANTS,
            }
            report
        }))
    })
}

/// A hash of what a tape's structure guard compares: op kinds, wiring, the graph's
/// other fields and the run settings the timeline reads.
fn structure_hash(g: &Graph, run: &RunSettings) -> u64 {
    let mut h = Fx(0);
    (
        run.mode as u8,
        run.precision as u8,
        run.optimizer as u8,
        run.attn as u8,
    )
        .hash(&mut h);
    h.write_usize(g.inputs.len());
    for i in &g.inputs {
        (i.kind as u8).hash(&mut h);
    }
    h.write_usize(g.nodes.len());
    for n in &g.nodes {
        std::mem::discriminant(&n.op).hash(&mut h);
        for &i in &n.inputs {
            h.write_usize(i);
        }
    }
    g.train_only_tail.hash(&mut h);
    g.checkpoint_regions.hash(&mut h);
    g.forward_held.hash(&mut h);
    g.frozen.hash(&mut h);
    g.infer_output.hash(&mut h);
    g.decode_from.hash(&mut h);
    h.finish()
}

/// A multiply-rotate hash (as rustc's FxHasher): a structure hash costs a few
/// nanoseconds per node.
#[derive(Default)]
pub(crate) struct Fx(u64);

/// Maps keyed by a few integers, hashed with [`Fx`] rather than SipHash (no key comes
/// from outside the process, so no flooding to resist).
pub(crate) type FxMap<K, V> = std::collections::HashMap<K, V, std::hash::BuildHasherDefault<Fx>>;

impl Hasher for Fx {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, x: usize) {
        self.write_u64(x as u64);
    }
    fn write_i64(&mut self, x: i64) {
        self.write_u64(x as u64);
    }
}
