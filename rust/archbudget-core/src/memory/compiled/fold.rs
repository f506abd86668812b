//! N identical blocks simulated once and scaled.
//!
//! A deep model's graph is a prefix, `m` copies of one block of ops (a transformer
//! layer, an mlp's Linear + ReLU) and a suffix. Every copy allocates and frees the same
//! bytes, so between the first and the last copy each mark of the simulator's timeline
//! is an affine function of the copy's position `i` and of the number `K` of interior
//! copies: a forward mark of copy `i` sees `i − 1` earlier copies' saved tensors, a
//! backward mark `K − i` later copies' gradients. The fold simulates two short graphs
//! cut from the real one (3 and 4 interior copies), fits every mark's state per
//! category, checks the fit on the marks it did not use, and evaluates the fit at the
//! real `K`: the peak is the largest mark, ties to the earliest, as the simulator takes
//! it. What is constant all step but not a sum over copies — the weights as the
//! caching allocator packs them, ZeRO's rounded shards of optimizer state — is
//! recomputed exactly from the traced totals. Anything that does not fit (a block not
//! repeated often enough, a mark that is not affine, a value read across the cut) makes
//! [`fold`] answer `None`, and the caller simulates the whole graph.
use super::super::graph::{Graph, Node, ValueId};
use super::super::sim::{self, breakdown, Weights};
use super::super::{MemoryReport, Mode, Result, RunSettings};
use super::trace::{Phase, Trace, OPTIMIZER, TRANSIENTS, WEIGHTS};

/// Copies a graph needs before folding pays: below this the whole graph is simulated.
pub const MIN_COPIES: usize = 8;
/// Interior copies of the two short graphs.
const SAMPLE_A: usize = 3;
const SAMPLE_B: usize = 4;

/// `m` copies of a block of `period` nodes, the first starting at node `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repeat {
    pub start: usize,
    pub period: usize,
    pub copies: usize,
}

/// The peak, breakdown, counts and FLOPs of `g` under `run`, or `None` where folding
/// does not apply (then `memory::estimate` gives the answer).
pub fn fold(g: &Graph, run: &RunSettings) -> Option<MemoryReport> {
    fold_repeat(g, find_repeat(g)?, run)
}

/// [`fold`] of the blocks `rep` of `g`.
fn fold_repeat(g: &Graph, rep: Repeat, run: &RunSettings) -> Option<MemoryReport> {
    if run.mode == Mode::Generate || run.gpus == 0 || run.zero_stage > 3 {
        return None;
    }
    let a = cut(g, rep, SAMPLE_A)?;
    let b = cut(g, rep, SAMPLE_B)?;
    let (mut ta, mut tb) = (Trace::default(), Trace::default());
    let ra = sim::simulate_traced(&a, run, &mut ta).ok()?;
    let rb = sim::simulate_traced(&b, run, &mut tb).ok()?;
    let interior = rep.copies - 2;
    Extrapolation {
        rep,
        run,
        a: (&ta, &ra),
        b: (&tb, &rb),
        target: interior as i128,
    }
    .report()
}

/// The longest run of identical blocks in `g` (ops equal, each input the same value or
/// the one a period later), at least [`MIN_COPIES`] long, aligned with checkpointed
/// regions where there are any.
pub fn find_repeat(g: &Graph) -> Option<Repeat> {
    let n = g.nodes.len();
    if n < MIN_COPIES * 2 {
        return None;
    }
    let kinds: Vec<_> = g
        .nodes
        .iter()
        .map(|node| (std::mem::discriminant(&node.op), node.inputs.len()))
        .collect();
    // the period: the smallest shift under which the op kinds around the middle repeat
    // for MIN_COPIES blocks (a cheap filter), then checked op for op
    let mid = n / 2;
    for period in 1..=n / MIN_COPIES {
        let same = |k: usize| k + period < n && kinds[k] == kinds[k + period];
        if !same(mid) {
            continue;
        }
        let mut lo = mid;
        while lo > 0 && same(lo - 1) {
            lo -= 1;
        }
        let mut hi = mid;
        while same(hi) {
            hi += 1;
        }
        if hi - lo + period < MIN_COPIES * period {
            continue;
        }
        let n_in = g.inputs.len();
        let equal = |k: usize| same_block_node(&g.nodes[k], &g.nodes[k + period], period);
        let (mut lo, mut hi) = (mid, mid);
        if !equal(mid) {
            continue;
        }
        while lo > 0 && equal(lo - 1) {
            lo -= 1;
        }
        while hi + period < n && equal(hi) {
            hi += 1;
        }
        // nodes lo .. hi + period repeat with this period
        let (mut start, end) = (lo, hi + period);
        if !g.checkpoint_regions.is_empty() {
            // copies begin where checkpointed regions do, so that a cut keeps regions whole
            start = g
                .checkpoint_regions
                .iter()
                .map(|&(f, _)| f)
                .filter(|&f| f >= lo && f < lo + period)
                .min()?;
        }
        let copies = (end.saturating_sub(start)) / period;
        let rep = Repeat {
            start,
            period,
            copies,
        };
        if copies >= MIN_COPIES && periodic_metadata(g, rep, n_in) {
            return Some(rep);
        }
    }
    None
}

/// Node `b` is node `a` a period later: the same op, each input the same value or the
/// value a period later.
fn same_block_node(a: &Node, b: &Node, period: usize) -> bool {
    a.op == b.op
        && a.inputs.len() == b.inputs.len()
        && a.inputs
            .iter()
            .zip(&b.inputs)
            .all(|(&x, &y)| y == x || y == x + period)
}

/// What the graph says besides its nodes repeats with the blocks too: frozen nodes,
/// checkpointed regions, kept caches; and nothing else points into the interior.
fn periodic_metadata(g: &Graph, rep: Repeat, n_in: usize) -> bool {
    let Repeat {
        start,
        period,
        copies,
    } = rep;
    let end = start + copies * period;
    let in_copies = |k: usize| k >= start && k < end;
    let frozen: std::collections::HashSet<usize> = g.frozen.iter().copied().collect();
    let frozen_ok =
        (start..end - period).all(|k| frozen.contains(&k) == frozen.contains(&(k + period)));
    let regions_ok = g.checkpoint_regions.iter().all(|&(f, l)| {
        !(in_copies(f) || in_copies(l))
            || (in_copies(f) && in_copies(l) && (f - start) / period == (l - start) / period)
    });
    let node_of = |v: ValueId| v.checked_sub(n_in);
    // kept caches: as many per copy, with the same growth (one sorted pass: a model
    // holds two per layer)
    let growth = |v: ValueId| g.held_caches.iter().find(|h| h.0 == v).map(|h| h.1);
    let mut held: Vec<_> = g
        .forward_held
        .iter()
        .filter_map(|&v| {
            let k = node_of(v).filter(|&k| in_copies(k))?;
            Some(((k - start) / period, (k - start) % period, growth(v)))
        })
        .collect();
    held.sort_unstable_by_key(|h| (h.0, h.1));
    let of_copy = |c: usize| {
        let lo = held.partition_point(|h| h.0 < c);
        let hi = held.partition_point(|h| h.0 <= c);
        held[lo..hi].iter().map(|h| (h.1, h.2))
    };
    let held_ok = (1..copies).all(|c| of_copy(c).eq(of_copy(0)));
    // what the cut removes or moves: the interior copies
    let interior = |k: usize| k >= start + period && k < end - period;
    let special_ok = g
        .infer_output
        .and_then(node_of)
        .is_none_or(|k| !interior(k))
        && g.decode_from.is_none_or(|k| !interior(k))
        && g.nodes.len() - g.train_only_tail >= end;
    frozen_ok && regions_ok && held_ok && special_ok
}

/// `g` with only `keep` interior copies (the first and the last copy kept), or `None`
/// where a node after the cut reads a value the cut removes (other than the removed
/// block's output, which the first kept block after the cut then reads instead).
pub fn cut(g: &Graph, rep: Repeat, keep: usize) -> Option<Graph> {
    let Repeat {
        start,
        period,
        copies,
    } = rep;
    let removed = copies.checked_sub(2 + keep)?;
    let n_in = g.inputs.len();
    let (r0, r1) = (start + (keep + 1) * period, start + (copies - 1) * period);
    let shift = removed * period;
    // node indices and value ids after the cut
    let node = |k: usize| -> Option<usize> {
        if k < r0 {
            Some(k)
        } else if k >= r1 {
            Some(k - shift)
        } else {
            None
        }
    };
    let value = |v: ValueId| -> Option<ValueId> {
        match v.checked_sub(n_in) {
            None => Some(v),
            Some(k) if k < r0 => Some(v),
            Some(k) if k >= r1 => Some(v - shift),
            // the last removed block's values, read by the block after the cut
            Some(k) if k >= r1 - period => Some(v - shift),
            Some(_) => None,
        }
    };
    let mut nodes = Vec::with_capacity(g.nodes.len() - shift);
    nodes.extend_from_slice(&g.nodes[..r0]);
    for nd in &g.nodes[r1..] {
        let inputs = nd
            .inputs
            .iter()
            .map(|&v| value(v))
            .collect::<Option<Vec<_>>>()?;
        nodes.push(Node {
            op: nd.op.clone(),
            inputs,
        });
    }
    let kept_value = |v: ValueId| match v.checked_sub(n_in) {
        Some(k) if (r0..r1).contains(&k) => None,
        _ => value(v),
    };
    Some(Graph {
        inputs: g.inputs.clone(),
        nodes,
        train_only_tail: g.train_only_tail,
        checkpoint_regions: g
            .checkpoint_regions
            .iter()
            .filter_map(|&(f, l)| Some((node(f)?, node(l)?)))
            .collect(),
        forward_held: g
            .forward_held
            .iter()
            .filter_map(|&v| kept_value(v))
            .collect(),
        held_caches: g
            .held_caches
            .iter()
            .filter_map(|&(v, c)| Some((kept_value(v)?, c)))
            .collect(),
        decode_from: match g.decode_from {
            Some(k) => Some(node(k)?),
            None => None,
        },
        infer_output: match g.infer_output {
            Some(v) => Some(kept_value(v)?),
            None => None,
        },
        frozen: g.frozen.iter().filter_map(|&k| node(k)).collect(),
        fixed_inputs: g.fixed_inputs.clone(),
    })
}

/// Where a mark sits relative to the blocks of a graph with `interior` interior copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Place {
    /// Before the second copy (prefix and first copy), or a mark of no node.
    Before(usize),
    /// Interior copy `i` (1-based), at `offset` within it.
    Interior(usize, usize),
    /// From the last copy on, counted from its first node.
    After(usize),
}

/// A mark's identity across graphs of different depths: its phase, where its node sits
/// (the interior copy left out), and its rank among the marks of that node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    phase: Phase,
    place: Place,
    ordinal: usize,
}

fn place(rep: &Repeat, interior: usize, phase: Phase, node: usize) -> Place {
    let (start, period) = (rep.start, rep.period);
    if matches!(phase, Phase::Start | Phase::Optimizer) {
        return Place::Before(0);
    }
    if node < start + period {
        return Place::Before(node);
    }
    let last = start + (interior + 1) * period;
    if node >= last {
        return Place::After(node - last);
    }
    Place::Interior((node - start) / period, (node - start) % period)
}

/// A trace's marks grouped by key, the keys in order: group `i` is `keys[i] = (key,
/// first, len)`, its states `states[first..first + len]`, interior marks by copy.
struct Grouped {
    keys: Vec<(Key, usize, usize)>,
    states: Vec<[u64; 8]>,
}

/// Each mark of a trace by key (sorted, not hashed: a few hundred marks), or `None`
/// where an interior copy is missing or repeated.
fn marks_by_key(rep: &Repeat, interior: usize, t: &Trace) -> Option<Grouped> {
    let mut tagged: Vec<(Key, usize, usize)> = Vec::with_capacity(t.marks.len());
    let mut ordinal = 0;
    let mut prev = None;
    for (index, m) in t.marks.iter().enumerate() {
        ordinal = if prev == Some((m.phase, m.node)) {
            ordinal + 1
        } else {
            0
        };
        prev = Some((m.phase, m.node));
        let (place, copy) = match place(rep, interior, m.phase, m.node) {
            Place::Interior(i, o) => (Place::Interior(0, o), i),
            p => (p, 1),
        };
        let key = Key {
            phase: m.phase,
            place,
            ordinal,
        };
        tagged.push((key, copy, index));
    }
    tagged.sort_unstable_by_key(|x| (x.0, x.1));
    let mut grouped = Grouped {
        keys: Vec::new(),
        states: Vec::with_capacity(tagged.len()),
    };
    for &(key, copy, index) in &tagged {
        let first = grouped.states.len();
        match grouped.keys.last_mut() {
            Some(last) if last.0 == key => last.2 += 1,
            _ => grouped.keys.push((key, first, 1)),
        }
        // copies 1, 2, … in order within each key
        let rank = grouped.keys.last().map_or(0, |k| k.2);
        if copy != rank {
            return None;
        }
        grouped.states.push(t.marks[index].state);
    }
    Some(grouped)
}

struct Extrapolation<'a> {
    rep: Repeat,
    run: &'a RunSettings,
    a: (&'a Trace, &'a MemoryReport),
    b: (&'a Trace, &'a MemoryReport),
    /// Interior copies of the whole graph.
    target: i128,
}

/// `x + (k − SAMPLE_A) · (y − x)`: a total of graph A (`x`) and B (`y`) at `k` interior copies.
fn affine(x: u64, y: u64, k: i128) -> Option<u64> {
    let v = x as i128 + (k - SAMPLE_A as i128) * (y as i128 - x as i128);
    u64::try_from(v).ok()
}

impl Extrapolation<'_> {
    fn report(&self) -> Option<MemoryReport> {
        let ((ta, ra), (tb, rb)) = (self.a, self.b);
        let k = self.target;
        let run = self.run;
        // the constants of the whole step, exactly
        let construct = self.construct()?;
        let weights = sim::weight_bytes(
            run,
            &construct,
            affine(ta.weights, tb.weights, k)?,
            affine(ta.buffer_bytes, tb.buffer_bytes, k)?,
            Weights::Recent,
        )
        .ok()?;
        let optimizer =
            sim::optimizer_state(run, affine(ta.param_blocks, tb.param_blocks, k)?).ok()?;
        let opt_temp = sim::optimizer_temp(run, affine(ta.param_grads, tb.param_grads, k)?);

        let ma = marks_by_key(&self.rep, SAMPLE_A, ta)?;
        let mb = marks_by_key(&self.rep, SAMPLE_B, tb)?;
        if ma.keys.len() != mb.keys.len() {
            return None;
        }
        // (total, time, state) of the largest mark so far
        let mut best: Option<(u64, Moment, [u64; 8])> = None;
        for (&(key, fa, la), &(key_b, fb, lb)) in ma.keys.iter().zip(&mb.keys) {
            if key != key_b {
                return None;
            }
            let (sa, sb) = (&ma.states[fa..fa + la], &mb.states[fb..fb + lb]);
            let key = &key;
            let candidate = match key.place {
                Place::Interior(_, offset) => self.interior(key, offset, sa, sb)?,
                _ => {
                    if sa.len() != 1 || sb.len() != 1 {
                        return None;
                    }
                    let mut state = [0u64; 8];
                    for c in 0..8 {
                        state[c] = affine(sa[0][c], sb[0][c], k)?;
                    }
                    (state, self.node_at_target(key.place))
                }
            };
            let (mut state, node) = candidate;
            state[WEIGHTS] = weights;
            state[OPTIMIZER] = optimizer;
            if key.phase == Phase::Optimizer {
                state[TRANSIENTS] = opt_temp;
            }
            let total = state.iter().try_fold(0u64, |s, &v| s.checked_add(v))?;
            let time = (key.phase, time_order(key.phase, node), key.ordinal);
            let better = match &best {
                None => true,
                Some((t, when, _)) => total > *t || (total == *t && time < *when),
            };
            if better {
                best = Some((total, time, state));
            }
        }
        let (peak, _, state) = best?;
        Some(MemoryReport {
            peak_bytes: peak,
            params: affine(ra.params, rb.params, k)?,
            trainable_params: affine(ra.trainable_params, rb.trainable_params, k)?,
            buffers: affine(ra.buffers, rb.buffers, k)?,
            breakdown: breakdown(state),
            flops_fwd: affine(ra.flops_fwd, rb.flops_fwd, k)?,
            flops_fwd_bwd: affine(ra.flops_fwd_bwd, rb.flops_fwd_bwd, k)?,
            decode: None,
        })
    }

    /// The largest instance of an interior mark over the copies of the whole graph (ties
    /// to the earliest), fitted as `a₁ + (i − 1)·β + (K − 3)·γ` per category and checked on
    /// the instances the fit did not use. Returns its state and node.
    fn interior(
        &self,
        key: &Key,
        offset: usize,
        sa: &[[u64; 8]],
        sb: &[[u64; 8]],
    ) -> Option<([u64; 8], u64)> {
        if sa.len() != SAMPLE_A || sb.len() != SAMPLE_B {
            return None;
        }
        let mut beta = [0i128; 8];
        let mut gamma = [0i128; 8];
        for c in 0..8 {
            let v = |s: &[[u64; 8]], i: usize| s[i][c] as i128;
            beta[c] = v(sa, 1) - v(sa, 0);
            gamma[c] = v(sb, 0) - v(sa, 0);
            let fits_a = (0..SAMPLE_A).all(|i| v(sa, i) == v(sa, 0) + i as i128 * beta[c]);
            let fits_b =
                (0..SAMPLE_B).all(|i| v(sb, i) == v(sa, 0) + i as i128 * beta[c] + gamma[c]);
            if !(fits_a && fits_b) {
                return None;
            }
        }
        // constants are replaced, and the optimizer's mark is no interior one
        let slope: i128 = (0..8)
            .filter(|&c| c != WEIGHTS && c != OPTIMIZER)
            .map(|c| beta[c])
            .sum();
        let copies = self.target;
        let backward = key.phase == Phase::Backward;
        // copy 1 comes first in the forward, last in the backward
        let i = if slope > 0 || (slope == 0 && backward) {
            copies
        } else {
            1
        };
        let mut state = [0u64; 8];
        for c in 0..8 {
            let v = sa[0][c] as i128 + (i - 1) * beta[c] + (copies - SAMPLE_A as i128) * gamma[c];
            state[c] = u64::try_from(v).ok()?;
        }
        let node = self.rep.start as i128 + i * self.rep.period as i128 + offset as i128;
        Some((state, u64::try_from(node).ok()?))
    }

    fn node_at_target(&self, place: Place) -> u64 {
        match place {
            Place::Before(k) => k as u64,
            Place::Interior(..) => unreachable!("interior marks are placed by `interior`"),
            Place::After(k) => {
                (self.rep.start as u64)
                    + (self.target as u64 + 1) * self.rep.period as u64
                    + k as u64
            }
        }
    }

    /// The whole graph's weights in construction order: graph A's with its second
    /// interior copy repeated as often as the whole graph has interior copies, less two.
    fn construct(&self) -> Option<Vec<(u64, u64, bool)>> {
        let t = self.a.0;
        let (start, period) = (self.rep.start, self.rep.period);
        let (c2, c3) = (start + 2 * period, start + 3 * period);
        let at = |lo: usize| t.construct_nodes.partition_point(|&k| k < lo);
        let (i2, i3) = (at(c2), at(c3));
        let copies = usize::try_from(self.target).ok()?.checked_sub(2)?;
        let mut out = Vec::with_capacity(t.construct.len() + (i3 - i2) * copies);
        out.extend_from_slice(&t.construct[..i2]);
        for _ in 0..copies {
            out.extend_from_slice(&t.construct[i2..i3]);
        }
        out.extend_from_slice(&t.construct[i3..]);
        Some(out)
    }
}

/// When a mark happens: its phase, its node in time order, its rank at that node.
type Moment = (Phase, u64, usize);

/// A node's place in time within its phase: the backward runs the nodes in reverse.
fn time_order(phase: Phase, node: u64) -> u64 {
    if phase == Phase::Backward {
        u64::MAX - node
    } else {
        node
    }
}

/// Identical blocks a graph needs for the fold to beat the simulator: its two short
/// simulations (prefix, suffix and 5 and 6 blocks), the whole model's weights replayed
/// through the allocator, and the fit cost about as much as simulating 40 blocks
/// (`benches/compiled_speed.rs`: 32-layer llamas are 0.8-1.0x folded, 64 mlp layers
/// 1.3x and 80 llama layers 1.5-2.6x).
const FOLD_PAYS: usize = 40;

/// `memory::estimate` through the fold where it applies and pays.
pub fn estimate(g: &Graph, run: &RunSettings) -> Result<MemoryReport> {
    let folded = find_repeat(g)
        .filter(|r| r.copies >= FOLD_PAYS)
        .and_then(|rep| fold_repeat(g, rep, run));
    match folded {
        Some(r) => Ok(r),
        None => sim::simulate_weighing(g, run, Weights::Recent),
    }
}
