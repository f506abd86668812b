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
//! marks, ties to the earliest, as the simulator does (`timeline`: the marks as running
//! sums of their changes, identical layers' repeats evaluated at their first and last
//! period). No op is replayed and no value bookkeeping is done.
//!
//! Guards, checked per candidate, say when the recording holds: the same structure
//! (op kinds, inputs, checkpoint regions, held values, frozen nodes), every member of a
//! class the same op as its first node, each class's cost of the recorded shape (its
//! vectors' lengths, its output's kind and dtype, what it saves), every value and gradient
//! empty where it was empty, every view as partial as it was. A candidate that fails a guard is
//! simulated and recorded as a new tape of its structure (see `cache`).
//!
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
use super::dominance::Dominance;
use super::record::{merge_duplicates, CostShape, Numel, RecMark, Recorder, Term, Terms};
use super::timeline::Timeline;

mod plan;
pub(crate) use plan::Plan;

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
    /// Whether each slot is a value or gradient the timeline allocates only where it is
    /// not empty (its emptiness is guarded).
    decides: Vec<bool>,
    /// Whether each slot is bytes rounded to an allocator block (else a count).
    rounded: Vec<bool>,
    /// Each slot, or an earlier slot whose value it takes ([`Tape::merge_slots`]).
    copy_of: Vec<u32>,
    /// The slots computed from the others (weights, optimizer state and temporaries).
    step_constants: Vec<u32>,
    /// Element counts the guards compare, after the slots in a raw vector.
    guard_numels: Vec<Src>,
    /// Each view's count, its source's (indices into `guard_numels`), and whether it
    /// was partial.
    views: Vec<(u32, u32, bool)>,
    /// Counts that must agree (a class member's inputs and its representative's).
    same_numel: Vec<(u32, u32)>,
    timeline: Timeline,
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

/// A tape and the marks it was recorded from ([`Tape::record`]).
pub(crate) type Recorded = (Tape, Vec<RecMark>);

/// The step a tape can be recorded for: training or inference on one GPU.
pub fn applies(run: &RunSettings) -> bool {
    run.mode != Mode::Generate && run.gpus == 1 && run.zero_stage <= 3
}

impl Tape {
    /// Records the step of `g` under `run`; returns the simulator's report and the tape
    /// (`None` where no tape applies, or where the tape does not give back the report).
    pub fn compile(g: &Graph, run: &RunSettings) -> Result<(MemoryReport, Option<Tape>)> {
        let (report, recorded) = Tape::record(g, run)?;
        Ok((report, recorded.map(|(tape, _)| tape)))
    }

    /// As [`Tape::compile`], with the recorded marks (for [`Tape::merge_slots`]).
    pub(crate) fn record(g: &Graph, run: &RunSettings) -> Result<(MemoryReport, Option<Recorded>)> {
        if !applies(run) {
            return Ok((super::fold::estimate(g, run)?, None));
        }
        let mut rec = Recorder::default();
        let report = sim::simulate_recorded(g, run, &mut rec)?;
        let marks = std::mem::take(&mut rec.marks);
        let tape = Tape::from_recording(g, run, rec, &marks);
        let tape = tape.filter(|t| t.evaluate(g, run).as_ref() == Some(&report));
        Ok((report, tape.map(|t| (t, marks))))
    }

    /// Reads every slot as `same[slot]` (itself or an earlier slot), whose value equals
    /// it at every candidate the caller evaluates (`axes`: two terms of one polynomial,
    /// both rounded or both not, both empty where recorded or both not): its value is
    /// copied, its emptiness guarded once, and the timeline rebuilt from `marks` over
    /// the merged slots. Equal terms then merge: a layer's output allocated and the
    /// next op's equal saved input freed cancel, and more marks are covered by earlier
    /// ones, so a candidate applies fewer changes.
    /// `dominance`: which marks' totals bound which over the fit's box (`Timeline::new`).
    pub(crate) fn merge_slots(
        &mut self,
        marks: &[RecMark],
        same: &[u32],
        dominance: Option<&Dominance>,
    ) {
        for (slot, &first) in same.iter().enumerate() {
            let first = first as usize;
            if first != slot {
                self.decides[first] |= self.decides[slot];
                self.decides[slot] = false;
            }
        }
        self.copy_of = same.to_vec();
        let merged: Vec<RecMark> = marks
            .iter()
            .map(|m| RecMark {
                state: m.state.clone().map(|mut terms| {
                    for t in terms.iter_mut() {
                        t.0 = same[t.0 as usize];
                    }
                    terms.sort_unstable();
                    merge_duplicates(&mut terms);
                    terms
                }),
            })
            .collect();
        self.timeline = Timeline::new(&merged, dominance);
    }

    /// The sums a report's counts are ([`Counts`]), where every slot they read is a
    /// count (not rounded, not set by the tape): a caller with each slot as a
    /// polynomial then sums each into one polynomial (`axes`).
    pub(crate) fn count_sums(&self) -> Option<[&Terms; 5]> {
        let sums = [
            &self.params,
            &self.trainable,
            &self.buffers,
            &self.flops_fwd,
            &self.flops_bwd,
        ];
        let counts_only = sums.iter().all(|terms| {
            terms.iter().all(|&(slot, _)| {
                !self.rounded[slot as usize] && !self.step_constants.contains(&slot)
            })
        });
        counts_only.then_some(sums)
    }

    /// Per slot: whether its value is its bytes rounded to an allocator block, whether
    /// it was empty where recorded, and whether the tape sets it itself (the weights,
    /// optimizer state and temporaries).
    pub(crate) fn slot_kinds(&self) -> impl Iterator<Item = (bool, bool, bool)> + '_ {
        self.slots.iter().zip(&self.zero).map(|(&slot, &zero)| {
            (
                rounds(slot),
                zero,
                matches!(slot, Slot::Weights | Slot::Optimizer | Slot::OptTemp),
            )
        })
    }

    /// Marks the tape compares per candidate.
    pub fn kept_marks(&self) -> usize {
        self.timeline.compared()
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

    fn from_recording(
        g: &Graph,
        run: &RunSettings,
        rec: Recorder,
        marks: &[RecMark],
    ) -> Option<Tape> {
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
        let sorted = |m: &std::collections::HashMap<u32, i64>| {
            let mut t: Terms = m.iter().map(|(&s, &n)| (s, n)).collect();
            t.sort_unstable();
            merge_duplicates(&mut t);
            t
        };
        let mut guard_numels: Vec<Src> = Vec::new();
        let mut guard = |x: Src| -> u32 {
            let at = guard_numels
                .iter()
                .position(|&y| y == x)
                .unwrap_or_else(|| {
                    guard_numels.push(x);
                    guard_numels.len() - 1
                });
            at as u32
        };
        let views: Vec<(u32, u32, bool)> = rec
            .views
            .iter()
            .map(|&(v, s, partial)| (guard(src(v)), guard(src(s)), partial))
            .collect();
        let mut same_numel: Vec<(u32, u32)> = Vec::new();
        for (a, b) in &rec.same_numel {
            for (&x, &y) in a.iter().zip(b) {
                let pair = (guard(src(x)), guard(src(y)));
                if x != y && !same_numel.contains(&pair) {
                    same_numel.push(pair);
                }
            }
        }
        let mut tape = Tape {
            run: RunKey::of(run),
            inputs: g.inputs.iter().map(|i| i.kind).collect(),
            nodes,
            node_inputs,
            metadata: Metadata::of(g),
            classes,
            members,
            zero: vec![false; slots.len()],
            decides: slots
                .iter()
                .map(|slot| matches!(slot, Slot::Out(_) | Slot::Input(..) | Slot::Grad(..)))
                .collect(),
            rounded: slots.iter().map(|&slot| rounds(slot)).collect(),
            copy_of: (0..slots.len() as u32).collect(),
            step_constants: (0..slots.len() as u32)
                .filter(|&i| {
                    matches!(
                        slots[i as usize],
                        Slot::Weights | Slot::Optimizer | Slot::OptTemp
                    )
                })
                .collect(),
            slots,
            guard_numels,
            views,
            same_numel,
            recorded_marks: marks.len(),
            timeline: Timeline::new(marks, None),
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
        let raw = tape.raw(g, run)?;
        tape.zero = raw[..tape.slots.len()].iter().map(|&v| v == 0).collect();
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
        SCRATCH.with(|s| {
            let s = &mut *s.borrow_mut();
            let mut raw = std::mem::take(&mut s.raw);
            let report = self
                .raw_into(g, run, s, &mut raw)
                .and_then(|()| self.finish(&raw, run, &mut None, None, s));
            s.raw = raw;
            report
        })
    }

    /// How many numbers [`Tape::raw`] gives: one per term, then the element counts the
    /// view and class guards compare.
    pub(crate) fn raw_len(&self) -> usize {
        self.slots.len() + self.guard_numels.len()
    }

    /// The slots of the weights' sizes in construction order.
    pub(crate) fn construct_slots(&self) -> impl Iterator<Item = usize> + '_ {
        self.construct.iter().map(|c| c.0 as usize)
    }

    /// The weights' bytes from the numbers [`Tape::raw`] gives (the construction
    /// replayed).
    pub(crate) fn weights_of(&self, raw: &[u64], run: &RunSettings) -> Option<u64> {
        let construct: Vec<(u64, u64, bool)> = self
            .construct
            .iter()
            .map(|&(slot, bytes, converted)| {
                let r = raw[slot as usize];
                let v = if self.rounded[slot as usize] {
                    block(r)
                } else {
                    r
                };
                (v, bytes, converted)
            })
            .collect();
        weight_bytes(run, &construct, 0, 0, Weights::Replay).ok()
    }

    /// The numbers the report of `g` is computed from (see [`Tape::finish`]), or `None`
    /// where a guard on the structure or on a class's lowering fails: each term's bytes
    /// before allocator rounding (or its count), then the guards' element counts.
    pub(crate) fn raw(&self, g: &Graph, run: &RunSettings) -> Option<Vec<u64>> {
        let mut raw = Vec::with_capacity(self.raw_len());
        SCRATCH.with(|s| self.raw_into(g, run, &mut s.borrow_mut(), &mut raw))?;
        Some(raw)
    }

    fn raw_into(
        &self,
        g: &Graph,
        run: &RunSettings,
        s: &mut Scratch,
        raw: &mut Vec<u64>,
    ) -> Option<()> {
        if !self.same_structure(g, run) {
            return None;
        }
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
        let param_dt = if run.precision == Precision::Bf16 {
            DType::BF16
        } else {
            DType::F32
        };
        raw.clear();
        for &slot in &self.slots {
            raw.push(slot_raw(slot, g, &s.costs, param_dt)?);
        }
        for &src in &self.guard_numels {
            raw.push(numel(src, g, &s.costs)?);
        }
        Some(())
    }

    /// The report from the numbers [`Tape::raw`] gives, or `None` where a guard fails
    /// (a value or gradient empty where it was not, a view partial where it was not,
    /// class members' counts that differ) or a count overflows. `weights`: the weights'
    /// bytes where the caller knows them (else the construction is replayed, and they
    /// are set). `counts`: the count sums where the caller has them.
    pub(crate) fn finish(
        &self,
        raw: &[u64],
        run: &RunSettings,
        weights: &mut Option<u64>,
        counts: Option<&Counts>,
        s: &mut Scratch,
    ) -> Option<MemoryReport> {
        let n = self.slots.len();
        let guard = |i: u32| raw[n + i as usize];
        if self.same_numel.iter().any(|&(a, b)| guard(a) != guard(b))
            || self
                .views
                .iter()
                .any(|&(v, src, partial)| (guard(v) != guard(src)) != partial)
        {
            return None;
        }
        s.values.clear();
        let mut largest = 0;
        for (i, &r) in raw[..n].iter().enumerate() {
            let first = self.copy_of[i] as usize;
            if first != i {
                let v = s.values[first];
                s.values.push(v);
                continue;
            }
            // the timeline allocates a value or a gradient only where it is not empty;
            // every other term is only added up
            if self.decides[i] && (r == 0) != self.zero[i] {
                return None;
            }
            let v = if self.rounded[i] { block(r) } else { r };
            largest = largest.max(v);
            s.values.push(v);
        }
        self.conclude(run, weights, counts, largest, s)
    }

    /// The report from the slots' values in `s.values` (`largest`: the largest of those
    /// the timeline may read): the weights, the optimizer's state and temporaries, the
    /// timeline's peak and the counts.
    fn conclude(
        &self,
        run: &RunSettings,
        weights: &mut Option<u64>,
        counts: Option<&Counts>,
        largest: u64,
        s: &mut Scratch,
    ) -> Option<MemoryReport> {
        let weights = match *weights {
            Some(w) => w,
            None => {
                s.construct.clear();
                for &(slot, bytes, converted) in &self.construct {
                    s.construct
                        .push((s.values[slot as usize], bytes, converted));
                }
                *weights.insert(weight_bytes(run, &s.construct, 0, 0, Weights::Recent).ok()?)
            }
        };
        let values = &mut s.values;
        let state = optimizer_state(run, dot(&self.param_blocks, values)?).ok()?;
        let opt_temp = optimizer_temp(run, dot(&self.param_grads, values)?);
        for &i in &self.step_constants {
            values[i as usize] = match self.slots[i as usize] {
                Slot::Weights => weights,
                Slot::Optimizer => state,
                _ => opt_temp,
            };
        }
        let largest = largest.max(weights).max(state).max(opt_temp);
        let values = &*values;
        let (peak, state) = self.timeline.peak(values, largest)?;
        let [params, trainable_params, buffers, flops_fwd, flops_bwd] = match counts {
            Some(&counts) => counts,
            None => [
                dot(&self.params, values)?,
                dot(&self.trainable, values)?,
                dot(&self.buffers, values)?,
                dot(&self.flops_fwd, values)?,
                if run.mode == Mode::Train {
                    dot(&self.flops_bwd, values)?
                } else {
                    0
                },
            ],
        };
        let flops_fwd_bwd = if run.mode == Mode::Train {
            flops_fwd.checked_add(flops_bwd)?
        } else {
            0
        };
        Some(MemoryReport {
            peak_bytes: peak,
            params,
            trainable_params,
            buffers,
            breakdown: breakdown(state),
            flops_fwd,
            flops_fwd_bwd,
            decode: None,
        })
    }
}

/// A report's counts summed from its slots: parameters, trainable parameters, buffers,
/// forward and backward FLOPs.
pub(crate) type Counts = [u64; 5];

/// The sum of `terms` over the slots' `values` (`None` where it is negative or
/// overflows).
fn dot(terms: &Terms, values: &[u64]) -> Option<u64> {
    let mut acc = 0i128;
    for &(slot, n) in terms {
        acc += values[slot as usize] as i128 * n as i128;
    }
    u64::try_from(acc).ok()
}

/// Whether a slot's value is its raw bytes rounded to an allocator block (else a count,
/// taken as it is).
fn rounds(slot: Slot) -> bool {
    matches!(
        slot,
        Slot::Input(..)
            | Slot::Out(_)
            | Slot::Saved(..)
            | Slot::FwdTemp(..)
            | Slot::BwdTemp(..)
            | Slot::ParamBlock(..)
            | Slot::AmpCopy(..)
            | Slot::Grad(..)
    )
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

/// A slot's bytes before allocator rounding, or its count (see [`rounds`]).
fn slot_raw(slot: Slot, g: &Graph, costs: &[Cost], param_dt: DType) -> Option<u64> {
    let param = |c: usize, j: usize| costs.get(c)?.params.get(j).copied();
    Some(match slot {
        Slot::Const(b) => b,
        Slot::Input(i, bytes) => g.inputs.get(i)?.numel.checked_mul(bytes)?,
        Slot::Out(c) => match costs.get(c)?.out {
            Some(Out::New { numel, dtype }) => numel.checked_mul(dtype.bytes())?,
            _ => return None,
        },
        Slot::Saved(c, j) => *costs.get(c)?.saved.get(j)?,
        Slot::FwdTemp(c, j) => *costs.get(c)?.fwd_temp.get(j)?,
        Slot::BwdTemp(c, j) => *costs.get(c)?.bwd_temp.get(j)?,
        Slot::ParamBlock(c, j) => {
            let p = param(c, j)?;
            p.numel.checked_mul(p.dtype.unwrap_or(param_dt).bytes())?
        }
        Slot::AmpCopy(c, j) => param(c, j)?.numel.checked_mul(2)?,
        Slot::Grad(src, bytes) => numel(src, g, costs)?.checked_mul(bytes)?,
        Slot::ParamNumel(c, j) => param(c, j)?.numel,
        Slot::BufferNumel(c, j) => costs.get(c)?.buffers.get(j)?.0,
        Slot::Stored(c, j, t) => *param(c, j)?.stored?.get(t)?,
        Slot::FlopsFwd(c) => costs.get(c)?.flops_fwd,
        Slot::FlopsBwd(c) => costs.get(c)?.flops_bwd,
        // computed from the other slots in `finish`
        Slot::Weights | Slot::Optimizer | Slot::OptTemp => 0,
    })
}

/// Per-thread buffers of an evaluation (no allocation per candidate but the costs').
#[derive(Default)]
pub(crate) struct Scratch {
    costs: Vec<Cost>,
    in_numel: Vec<u64>,
    raw: Vec<u64>,
    values: Vec<u64>,
    construct: Vec<(u64, u64, bool)>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}
