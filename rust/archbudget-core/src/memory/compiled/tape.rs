//! The symbolic tape: a step's timeline lowered once per structure, evaluated per
//! candidate from its sizes.
//!
//! The simulator's timeline depends on a graph's structure (its ops' kinds and wiring,
//! the run's mode and precision) and on whether each tensor is empty, not on the
//! tensors' sizes: every mark of the running maximum is a sum of blocks, each block the
//! allocator's rounding of one size an op declares. [`Tape::compile`] records one step
//! (`sim::simulate_recorded`) with every block named by its source ([`Term`]) and
//! every node assigned to a class of identical nodes; a candidate of the same structure
//! is then evaluated by lowering each class's first node once, evaluating the terms
//! (rounded as `alloc::block` rounds them), and taking the largest of the recorded
//! marks, ties to the earliest, as the simulator does. No mark is replayed and no value
//! bookkeeping is done.
//!
//! Guards, checked per candidate, say when the recording holds: the same structure
//! (op kinds, inputs, checkpoint regions, held values, frozen nodes), every member of a
//! class the same op as its first node, each class's cost of the recorded shape (its
//! vectors' lengths, its output's kind and dtype, what it saves), every value and gradient
//! empty where it was empty, every view as partial as it was. A candidate that fails a guard is
//! simulated and recorded as a new tape of its structure (see `cache`).
//!
//! Marks are pruned once per tape, exactly: a mark whose terms are all covered by an
//! earlier mark's is never the earliest maximum; the marks one node makes in each of N
//! identical blocks, where their terms grow by the same amount block after block, peak
//! at the first or the last block (ties to the first), so the ones between are dropped.
//! The weights as the caching allocator packs them (a replay of every parameter's
//! allocation, remembered for recent models: `allocator::recent_construction_bytes`),
//! the optimizer state and its temporaries are recomputed from their terms.
use std::mem::Discriminant;

use super::super::alloc::block;
use super::super::graph::{CacheGrowth, DType, Graph, InputKind, ValueId};
use super::super::ops::{AttnImpl, Cost, Ctx, Op, Out};
use super::super::shards::{optimizer_state, optimizer_temp, weight_bytes};
use super::super::sim::{self, breakdown, Weights};
use super::super::{MemoryReport, Mode, Optimizer, Precision, Result, RunSettings};
use super::record::{merge_duplicates, CostShape, Numel, RecMark, Recorder, Term, Terms};
use super::trace::Phase;

/// Where a value's element count comes from, by class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Src {
    Input(usize),
    New(usize),
    View(usize),
    Nothing,
}

/// A term by class, as a candidate evaluates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Const(u64),
    /// Input `i`, bytes per element.
    Input(usize, u64),
    Out(usize),
    Saved(usize, usize),
    FwdTemp(usize, usize),
    BwdTemp(usize, usize),
    ParamBlock(usize, usize),
    AmpCopy(usize, usize),
    Grad(Src, u64),
    ParamNumel(usize, usize),
    BufferNumel(usize, usize),
    Stored(usize, usize, usize),
    FlopsFwd(usize),
    FlopsBwd(usize),
    Weights,
    Optimizer,
    OptTemp,
}

#[derive(Debug)]
struct ClassPlan {
    rep: usize,
    in_dtype: Vec<DType>,
    in_grad: Vec<bool>,
    in_numel: Vec<Src>,
    record: bool,
    frozen: bool,
    shape: CostShape,
}

/// A mark kept after pruning: its terms summed over categories, and per category.
#[derive(Debug)]
struct KeptMark {
    total: Terms,
    state: [Terms; 8],
}

/// What besides its nodes a graph must share with the recorded one.
#[derive(Debug, PartialEq)]
struct Metadata {
    train_only_tail: usize,
    checkpoint_regions: Vec<(usize, usize)>,
    forward_held: Vec<ValueId>,
    held_caches: Vec<(ValueId, CacheGrowth)>,
    decode_from: Option<usize>,
    infer_output: Option<ValueId>,
    frozen: Vec<usize>,
}

impl Metadata {
    fn of(g: &Graph) -> Self {
        Metadata {
            train_only_tail: g.train_only_tail,
            checkpoint_regions: g.checkpoint_regions.clone(),
            forward_held: g.forward_held.clone(),
            held_caches: g.held_caches.clone(),
            decode_from: g.decode_from,
            infer_output: g.infer_output,
            frozen: g.frozen.clone(),
        }
    }

    fn matches(&self, g: &Graph) -> bool {
        self.train_only_tail == g.train_only_tail
            && self.checkpoint_regions == g.checkpoint_regions
            && self.forward_held == g.forward_held
            && self.held_caches == g.held_caches
            && self.decode_from == g.decode_from
            && self.infer_output == g.infer_output
            && self.frozen == g.frozen
    }
}

/// The run settings the timeline depends on (batch and seq act through the graph).
#[derive(Debug, Clone, Copy, PartialEq)]
struct RunKey {
    mode: Mode,
    precision: Precision,
    optimizer: Optimizer,
    attn: AttnImpl,
}

impl RunKey {
    fn of(run: &RunSettings) -> Self {
        RunKey {
            mode: run.mode,
            precision: run.precision,
            optimizer: run.optimizer,
            attn: run.attn,
        }
    }
}

/// One structure's step, lowered once.
#[derive(Debug)]
pub struct Tape {
    run: RunKey,
    inputs: Vec<InputKind>,
    /// Each node's op kind and the range of its inputs in `node_inputs`.
    nodes: Vec<(Discriminant<Op>, u32, u32)>,
    node_inputs: Vec<ValueId>,
    metadata: Metadata,
    classes: Vec<ClassPlan>,
    /// Nodes that are not their class's first, and that first node.
    members: Vec<(usize, usize)>,
    slots: Vec<Slot>,
    /// Whether each slot was 0 where recorded (an empty value or gradient is not
    /// allocated).
    zero: Vec<bool>,
    views: Vec<(Src, Src, bool)>,
    /// Counts that must agree (a class member's inputs and its representative's).
    same_numel: Vec<(Src, Src)>,
    marks: Vec<KeptMark>,
    /// Marks the simulator made, for the figures.
    pub recorded_marks: usize,
    params: Terms,
    trainable: Terms,
    buffers: Terms,
    flops_fwd: Terms,
    flops_bwd: Terms,
    param_blocks: Terms,
    param_grads: Terms,
    construct: Vec<(u32, u64, bool)>,
}

/// The step a tape can be recorded for: training or inference on one GPU.
pub fn applies(run: &RunSettings) -> bool {
    run.mode != Mode::Generate && run.gpus == 1 && run.zero_stage <= 3
}

impl Tape {
    /// Records the step of `g` under `run`; returns the simulator's report and the tape
    /// (`None` where no tape applies, or where the tape does not give back the report).
    pub fn compile(g: &Graph, run: &RunSettings) -> Result<(MemoryReport, Option<Tape>)> {
        if !applies(run) {
            return Ok((super::fold::estimate(g, run)?, None));
        }
        let mut rec = Recorder::default();
        let report = sim::simulate_recorded(g, run, &mut rec)?;
        let tape = Tape::from_recording(g, run, rec);
        let tape = tape.filter(|t| t.evaluate(g, run).as_ref() == Some(&report));
        Ok((report, tape))
    }

    /// Marks the tape evaluates per candidate.
    pub fn kept_marks(&self) -> usize {
        self.marks.len()
    }

    /// Classes the tape lowers per candidate.
    pub fn classes(&self) -> usize {
        self.classes.len()
    }

    /// Whether evaluating the tape beats simulating `g`: the tape lowers each class
    /// once where the simulator lowers every node, and checks the other nodes; with as
    /// many classes as nodes (a cnn's convolutions all differ) it saves little and costs
    /// its guards (`benches/compiled_speed.rs`: small cnn and lstm graphs were 0.6-0.9x).
    pub fn pays(&self, g: &Graph) -> bool {
        self.classes.len() * 2 <= g.nodes.len()
    }

    fn from_recording(g: &Graph, run: &RunSettings, rec: Recorder) -> Option<Tape> {
        let class_of = |rep: usize| rec.class_of[rep];
        let src = |n: Numel| match n {
            Numel::Input(i) => Src::Input(i),
            Numel::New(k) => Src::New(class_of(k)),
            Numel::View(k) => Src::View(class_of(k)),
            Numel::Nothing => Src::Nothing,
        };
        let param_bytes = if run.precision == Precision::Bf16 {
            2
        } else {
            4
        };
        let slots = rec
            .terms
            .iter()
            .map(|&t| match t {
                Term::Const(b) => Slot::Const(b),
                Term::Input(i) => Slot::Input(
                    i,
                    match g.inputs[i].kind {
                        InputKind::Float => param_bytes,
                        InputKind::Index => 8,
                    },
                ),
                Term::Out(k) => Slot::Out(class_of(k)),
                Term::Saved(k, j) => Slot::Saved(class_of(k), j),
                Term::FwdTemp(k, j) => Slot::FwdTemp(class_of(k), j),
                Term::BwdTemp(k, j) => Slot::BwdTemp(class_of(k), j),
                Term::ParamBlock(k, j) => Slot::ParamBlock(class_of(k), j),
                Term::AmpCopy(k, j) => Slot::AmpCopy(class_of(k), j),
                Term::Grad(n, b) => Slot::Grad(src(n), b),
                Term::ParamNumel(k, j) => Slot::ParamNumel(class_of(k), j),
                Term::BufferNumel(k, j) => Slot::BufferNumel(class_of(k), j),
                Term::Stored(k, j, t) => Slot::Stored(class_of(k), j, t),
                Term::FlopsFwd(k) => Slot::FlopsFwd(class_of(k)),
                Term::FlopsBwd(k) => Slot::FlopsBwd(class_of(k)),
                Term::Weights => Slot::Weights,
                Term::Optimizer => Slot::Optimizer,
                Term::OptTemp => Slot::OptTemp,
            })
            .collect::<Vec<_>>();
        let classes = rec
            .classes
            .iter()
            .map(|c| ClassPlan {
                rep: c.rep,
                in_dtype: c.in_dtype.clone(),
                in_grad: c.in_grad.clone(),
                in_numel: c.in_numel.iter().map(|&n| src(n)).collect(),
                record: c.record,
                frozen: c.frozen,
                shape: c.shape.clone(),
            })
            .collect();
        let n_nodes = rec.class_of.len();
        let members = (0..n_nodes)
            .filter_map(|k| {
                let rep = rec.rep(k);
                (rep != k).then_some((k, rep))
            })
            .collect();
        let mut node_inputs = Vec::new();
        let nodes = g
            .nodes
            .iter()
            .map(|n| {
                let lo = node_inputs.len() as u32;
                node_inputs.extend_from_slice(&n.inputs);
                (std::mem::discriminant(&n.op), lo, node_inputs.len() as u32)
            })
            .collect();
        let kept = prune(&rec.marks, &rec.class_of);
        let sorted = |m: &std::collections::HashMap<u32, i64>| {
            let mut t: Terms = m.iter().map(|(&s, &n)| (s, n)).collect();
            t.sort_unstable();
            merge_duplicates(&mut t);
            t
        };
        let mut tape = Tape {
            run: RunKey::of(run),
            inputs: g.inputs.iter().map(|i| i.kind).collect(),
            nodes,
            node_inputs,
            metadata: Metadata::of(g),
            classes,
            members,
            zero: vec![false; slots.len()],
            slots,
            views: rec
                .views
                .iter()
                .map(|&(v, s, partial)| (src(v), src(s), partial))
                .collect(),
            same_numel: {
                let mut pairs: Vec<(Src, Src)> = Vec::new();
                for (a, b) in &rec.same_numel {
                    for (&x, &y) in a.iter().zip(b) {
                        let pair = (src(x), src(y));
                        if x != y && !pairs.contains(&pair) {
                            pairs.push(pair);
                        }
                    }
                }
                pairs
            },
            recorded_marks: rec.marks.len(),
            marks: kept
                .into_iter()
                .map(|i| {
                    let state = rec.marks[i].state.clone();
                    KeptMark {
                        total: total(&state),
                        state,
                    }
                })
                .collect(),
            params: sorted(&rec.params),
            trainable: sorted(&rec.trainable),
            buffers: sorted(&rec.buffers),
            flops_fwd: sorted(&rec.flops_fwd),
            flops_bwd: sorted(&rec.flops_bwd),
            param_blocks: sorted(&rec.param_blocks),
            param_grads: sorted(&rec.param_grads),
            construct: rec.construct,
        };
        // which terms were empty: the recording's own sizes
        let mut scratch = Scratch::default();
        let values = tape.values(g, run, &mut scratch, false)?;
        tape.zero = values.iter().map(|&v| v == 0).collect();
        Some(tape)
    }

    /// Whether `g` under `run` has the recorded structure.
    fn same_structure(&self, g: &Graph, run: &RunSettings) -> bool {
        RunKey::of(run) == self.run
            && applies(run)
            && g.inputs.len() == self.inputs.len()
            && g.nodes.len() == self.nodes.len()
            && g.inputs.iter().zip(&self.inputs).all(|(i, &k)| i.kind == k)
            && g.nodes.iter().zip(&self.nodes).all(|(n, &(kind, lo, hi))| {
                std::mem::discriminant(&n.op) == kind
                    && n.inputs == self.node_inputs[lo as usize..hi as usize]
            })
            && self.metadata.matches(g)
    }

    /// The report of `g` under `run` from the tape, or `None` where a guard fails (or a
    /// count overflows: the simulator then names the error).
    pub fn evaluate(&self, g: &Graph, run: &RunSettings) -> Option<MemoryReport> {
        SCRATCH.with(|s| self.evaluate_in(g, run, &mut s.borrow_mut()))
    }

    fn evaluate_in(&self, g: &Graph, run: &RunSettings, s: &mut Scratch) -> Option<MemoryReport> {
        if !self.same_structure(g, run) {
            return None;
        }
        let values = self.values(g, run, s, true)?;
        let dot = |terms: &Terms| -> Option<u64> {
            let mut acc = 0i128;
            for &(slot, n) in terms {
                acc += values[slot as usize] as i128 * n as i128;
            }
            u64::try_from(acc).ok()
        };
        // the largest mark, ties to the earliest (the simulator's strict `>`)
        let mut peak = 0u64;
        let mut at_peak: Option<&KeptMark> = None;
        for m in &self.marks {
            let t = dot(&m.total)?;
            if t > peak {
                peak = t;
                at_peak = Some(m);
            }
        }
        let mut state = [0u64; 8];
        if let Some(m) = at_peak {
            for (c, terms) in m.state.iter().enumerate() {
                state[c] = dot(terms)?;
            }
        }
        let flops_fwd = dot(&self.flops_fwd)?;
        let flops_fwd_bwd = if run.mode == Mode::Train {
            flops_fwd.checked_add(dot(&self.flops_bwd)?)?
        } else {
            0
        };
        Some(MemoryReport {
            peak_bytes: peak,
            params: dot(&self.params)?,
            trainable_params: dot(&self.trainable)?,
            buffers: dot(&self.buffers)?,
            breakdown: breakdown(state),
            flops_fwd,
            flops_fwd_bwd,
            decode: None,
        })
    }

    /// Every slot's value for `g`: each class's first node lowered, the guards checked
    /// (`check`: also every slot empty where it was), the step's constants computed.
    fn values<'s>(
        &self,
        g: &Graph,
        run: &RunSettings,
        s: &'s mut Scratch,
        check: bool,
    ) -> Option<&'s [u64]> {
        let train = run.mode == Mode::Train;
        s.costs.clear();
        for c in &self.classes {
            s.in_numel.clear();
            for &src in &c.in_numel {
                s.in_numel.push(numel(src, g, &s.costs)?);
            }
            let cx = Ctx {
                record: c.record,
                train_mode: train,
                precision: run.precision,
                attn: run.attn,
                in_dtype: &c.in_dtype,
                in_numel: &s.in_numel,
                in_grad: &c.in_grad,
                frozen: c.frozen,
            };
            let cost = g.nodes[c.rep].op.lower(&cx).ok()?;
            if !c.shape.matches(&cost) {
                return None;
            }
            s.costs.push(cost);
        }
        if !self
            .members
            .iter()
            .all(|&(k, rep)| g.nodes[k].op == g.nodes[rep].op)
        {
            return None;
        }
        for &(a, b) in &self.same_numel {
            if numel(a, g, &s.costs)? != numel(b, g, &s.costs)? {
                return None;
            }
        }
        for &(v, src, partial) in &self.views {
            if (numel(v, g, &s.costs)? != numel(src, g, &s.costs)?) != partial {
                return None;
            }
        }
        let param_dt = if run.precision == Precision::Bf16 {
            DType::BF16
        } else {
            DType::F32
        };
        s.values.clear();
        for (i, &slot) in self.slots.iter().enumerate() {
            let v = slot_value(slot, g, &s.costs, param_dt)?;
            // the timeline allocates a value or a gradient only where it is not empty;
            // every other term is only added up
            let decides = matches!(slot, Slot::Out(_) | Slot::Input(..) | Slot::Grad(..));
            if check && decides && (v == 0) != self.zero[i] {
                return None;
            }
            s.values.push(v);
        }
        // the step's constants, from their terms
        let sum = |terms: &Terms, values: &[u64]| -> Option<u64> {
            let mut acc = 0i128;
            for &(slot, n) in terms {
                acc += values[slot as usize] as i128 * n as i128;
            }
            u64::try_from(acc).ok()
        };
        s.construct.clear();
        for &(slot, bytes, converted) in &self.construct {
            s.construct
                .push((s.values[slot as usize], bytes, converted));
        }
        let weights = weight_bytes(run, &s.construct, 0, 0, Weights::Recent).ok()?;
        let state = optimizer_state(run, sum(&self.param_blocks, &s.values)?).ok()?;
        let opt_temp = optimizer_temp(run, sum(&self.param_grads, &s.values)?);
        for (slot, v) in self.slots.iter().zip(s.values.iter_mut()) {
            match slot {
                Slot::Weights => *v = weights,
                Slot::Optimizer => *v = state,
                Slot::OptTemp => *v = opt_temp,
                _ => {}
            }
        }
        Some(&s.values)
    }
}

fn numel(src: Src, g: &Graph, costs: &[Cost]) -> Option<u64> {
    Some(match src {
        Src::Input(i) => g.inputs.get(i)?.numel,
        Src::New(c) => match costs.get(c)?.out {
            Some(Out::New { numel, .. }) => numel,
            _ => return None,
        },
        Src::View(c) => match costs.get(c)?.out {
            Some(Out::View { numel, .. }) => numel,
            _ => return None,
        },
        Src::Nothing => 0,
    })
}

fn slot_value(slot: Slot, g: &Graph, costs: &[Cost], param_dt: DType) -> Option<u64> {
    let blocked = |numel: u64, bytes: u64| numel.checked_mul(bytes).map(block);
    let param = |c: usize, j: usize| costs.get(c)?.params.get(j).copied();
    Some(match slot {
        Slot::Const(b) => b,
        Slot::Input(i, bytes) => blocked(g.inputs.get(i)?.numel, bytes)?,
        Slot::Out(c) => match costs.get(c)?.out {
            Some(Out::New { numel, dtype }) => blocked(numel, dtype.bytes())?,
            _ => return None,
        },
        Slot::Saved(c, j) => block(*costs.get(c)?.saved.get(j)?),
        Slot::FwdTemp(c, j) => block(*costs.get(c)?.fwd_temp.get(j)?),
        Slot::BwdTemp(c, j) => block(*costs.get(c)?.bwd_temp.get(j)?),
        Slot::ParamBlock(c, j) => {
            let p = param(c, j)?;
            blocked(p.numel, p.dtype.unwrap_or(param_dt).bytes())?
        }
        Slot::AmpCopy(c, j) => blocked(param(c, j)?.numel, 2)?,
        Slot::Grad(src, bytes) => blocked(numel(src, g, costs)?, bytes)?,
        Slot::ParamNumel(c, j) => param(c, j)?.numel,
        Slot::BufferNumel(c, j) => costs.get(c)?.buffers.get(j)?.0,
        Slot::Stored(c, j, t) => *param(c, j)?.stored?.get(t)?,
        Slot::FlopsFwd(c) => costs.get(c)?.flops_fwd,
        Slot::FlopsBwd(c) => costs.get(c)?.flops_bwd,
        // computed from the other slots afterwards
        Slot::Weights | Slot::Optimizer | Slot::OptTemp => 0,
    })
}

/// A mark's terms summed over its categories.
fn total(state: &[Terms; 8]) -> Terms {
    let mut t: Terms = state.iter().flatten().copied().collect();
    t.sort_unstable();
    merge_duplicates(&mut t);
    t
}

/// Whether every term of `a` is in `b` at least as often (so `b`'s total ≥ `a`'s for
/// every candidate: terms are bytes, never negative).
fn covered(a: &Terms, b: &Terms) -> bool {
    let mut j = 0;
    for &(s, n) in a {
        while j < b.len() && b[j].0 < s {
            j += 1;
        }
        if j == b.len() || b[j].0 != s || b[j].1 < n {
            return false;
        }
    }
    true
}

/// `b − a`, term by term.
fn difference(a: &Terms, b: &Terms) -> Terms {
    let mut d: Terms = b
        .iter()
        .copied()
        .chain(a.iter().map(|&(s, n)| (s, -n)))
        .collect();
    d.sort_unstable_by_key(|e| e.0);
    merge_duplicates(&mut d);
    d
}

/// The marks that can be the earliest maximum for some candidate, in time order (see
/// the module's doc).
fn prune(marks: &[RecMark], class_of: &[usize]) -> Vec<usize> {
    let totals: Vec<Terms> = marks.iter().map(|m| total(&m.state)).collect();
    // a node's marks in the order it makes them; its class stands for the node
    let mut groups: std::collections::HashMap<(Phase, usize, usize), Vec<usize>> =
        std::collections::HashMap::new();
    let mut ordinal = 0;
    for (i, m) in marks.iter().enumerate() {
        let same_node = i > 0 && (marks[i - 1].phase, marks[i - 1].node) == (m.phase, m.node);
        ordinal = if same_node { ordinal + 1 } else { 0 };
        let class = match m.phase {
            Phase::Forward | Phase::Backward => class_of.get(m.node).copied().unwrap_or(0),
            _ => usize::MAX,
        };
        groups.entry((m.phase, class, ordinal)).or_default().push(i);
    }
    let mut keep = vec![true; marks.len()];
    for members in groups.values() {
        // interior marks of a run growing by equal steps
        let steps: Vec<Terms> = members
            .windows(2)
            .map(|w| difference(&totals[w[0]], &totals[w[1]]))
            .collect();
        for t in 1..members.len().saturating_sub(1) {
            if steps[t - 1] == steps[t] {
                keep[members[t]] = false;
            }
        }
    }
    // marks covered by an earlier kept mark
    let mut kept: Vec<usize> = Vec::new();
    for i in (0..marks.len()).filter(|&i| keep[i]) {
        if !kept.iter().any(|&b| covered(&totals[i], &totals[b])) {
            kept.push(i);
        }
    }
    kept
}

/// Per-thread buffers of an evaluation (no allocation per candidate but the costs').
#[derive(Default)]
struct Scratch {
    costs: Vec<Cost>,
    in_numel: Vec<u64>,
    values: Vec<u64>,
    construct: Vec<(u64, u64, bool)>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}
