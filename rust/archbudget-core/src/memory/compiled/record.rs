//! What the simulator tells the symbolic tape (`tape`) when asked
//! (`sim::simulate_recorded`): every byte count it charges, as a [`Term`] naming where
//! the count comes from (an op's saved tensor, an input, a value's gradient, ...)
//! instead of its value, and every mark of the running maximum as the multiset of terms
//! alive per category. Terms name the first node of each class of identical nodes (same
//! op, same inputs' sizes, dtypes and grad requirements), so that a transformer's 32
//! layers share their terms and a candidate needs each class lowered once.
use std::collections::HashMap;

use super::super::graph::{DType, Node};
use super::super::ops::{AmpCast, Cost, Ctx, Out, Param};

/// Where a byte count or a count of the step comes from. Node indices are those of the
/// class representatives (`Recorder::class`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Term {
    /// A fixed number of bytes (the loss scalar's block).
    Const(u64),
    /// The block of input `i` (its kind's dtype).
    Input(usize),
    /// The block of node `k`'s new output.
    Out(usize),
    /// The block of `Cost::saved[j]` / `fwd_temp[j]` / `bwd_temp[j]` of node `k`.
    Saved(usize, usize),
    FwdTemp(usize, usize),
    BwdTemp(usize, usize),
    /// The block of parameter `j` of node `k` at its dtype (its gradient's block too).
    ParamBlock(usize, usize),
    /// The block of autocast's bf16 copy of parameter `j` of node `k`.
    AmpCopy(usize, usize),
    /// The block of a gradient of value `v` (`numel · dtype bytes` of that value).
    Grad(Numel, u64),
    /// Counts, not blocks: parameter `j`'s numel, buffer `j`'s numel, stored tensor
    /// `t` of quantized parameter `j`, node `k`'s forward and backward FLOPs.
    ParamNumel(usize, usize),
    BufferNumel(usize, usize),
    Stored(usize, usize, usize),
    FlopsFwd(usize),
    FlopsBwd(usize),
    /// The step's constants: the weights as built, the optimizer state, the optimizer's
    /// temporaries.
    Weights,
    Optimizer,
    OptTemp,
}

/// Where a value's element count comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Numel {
    Input(usize),
    /// `Out::New` of node `k`.
    New(usize),
    /// `Out::View` of node `k`.
    View(usize),
    /// A node without an output.
    Nothing,
}

/// A node's class: the representative, and what it was lowered with.
#[derive(Debug, Clone)]
pub(crate) struct Class {
    pub rep: usize,
    pub in_dtype: Vec<DType>,
    pub in_grad: Vec<bool>,
    /// Where each input's element count comes from, and the counts recorded.
    pub in_numel: Vec<Numel>,
    in_counts: Vec<u64>,
    pub record: bool,
    pub frozen: bool,
    /// The representative's cost shape, which every candidate's must equal.
    pub shape: CostShape,
}

/// Terms with their multiplicity (signed: counts are corrected downwards).
pub(crate) type Terms = Vec<(u32, i64)>;

#[derive(Debug, Clone)]
pub(crate) struct RecMark {
    /// Alive per category (the simulator's order), the op's transients in the last.
    pub state: [Terms; 8],
}

#[derive(Debug, Default)]
pub(crate) struct Recorder {
    /// Interned terms: slot `s` is `terms[s]`.
    pub terms: Vec<Term>,
    index: HashMap<Term, u32>,
    /// Class of each node (index into `classes`), in node order.
    pub class_of: Vec<usize>,
    pub classes: Vec<Class>,
    /// Where each value's element count comes from (aliases resolved to their source).
    pub numel_of: Vec<Numel>,
    /// Each view's count, its source's, and whether it was partial (smaller).
    pub views: Vec<(Numel, Numel, bool)>,
    /// Inputs of class members and of their representatives, whose counts must agree.
    pub same_numel: Vec<(Vec<Numel>, Vec<Numel>)>,
    /// The running state per category.
    cur: [HashMap<u32, i64>; 8],
    pub marks: Vec<RecMark>,
    pub params: HashMap<u32, i64>,
    pub trainable: HashMap<u32, i64>,
    pub buffers: HashMap<u32, i64>,
    pub flops_fwd: HashMap<u32, i64>,
    pub flops_bwd: HashMap<u32, i64>,
    pub param_blocks: HashMap<u32, i64>,
    pub param_grads: HashMap<u32, i64>,
    /// The weights in construction order: (numel term, bytes per element, converted).
    pub construct: Vec<(u32, u64, bool)>,
}

impl Recorder {
    /// Node `k` (lowered in `cx` to `cost`) joins the class of an earlier identical node
    /// or starts one.
    pub fn lower(&mut self, nodes: &[Node], k: usize, cx: &Ctx, cost: &Cost) {
        let in_numel: Vec<Numel> = nodes[k].inputs.iter().map(|&i| self.numel_of[i]).collect();
        let found = self.classes.iter().position(|c| {
            nodes[c.rep].op == nodes[k].op
                && c.record == cx.record
                && c.frozen == cx.frozen
                && c.in_dtype == cx.in_dtype
                && c.in_grad == cx.in_grad
                && c.in_counts == cx.in_numel
        });
        // a member whose inputs come from elsewhere than its representative's: a
        // candidate's counts must agree for the two to stay one class
        if let Some(c) = found.map(|c| &self.classes[c]) {
            if c.in_numel != in_numel {
                let pair = (in_numel.clone(), c.in_numel.clone());
                if !self.same_numel.contains(&pair) {
                    self.same_numel.push(pair);
                }
            }
        }
        let class = found.unwrap_or_else(|| {
            self.classes.push(Class {
                rep: k,
                in_dtype: cx.in_dtype.to_vec(),
                in_grad: cx.in_grad.to_vec(),
                in_numel,
                in_counts: cx.in_numel.to_vec(),
                record: cx.record,
                frozen: cx.frozen,
                shape: CostShape::of(cost),
            });
            self.classes.len() - 1
        });
        self.class_of.push(class);
    }

    /// Node `k`'s output value, as its cost says (`partial`: a view smaller than its
    /// source).
    pub fn output(&mut self, k: usize, out: Option<Out>, inputs: &[usize], partial: bool) {
        let rep = self.rep(k);
        let n = match out {
            Some(Out::New { .. }) => {
                // named even where empty: its size decides whether it is allocated
                self.slot(Term::Out(k));
                Numel::New(rep)
            }
            Some(Out::Alias(i)) => self.numel_of[inputs[i]],
            Some(Out::View { input, .. }) => {
                self.views
                    .push((Numel::View(rep), self.numel_of[inputs[input]], partial));
                Numel::View(rep)
            }
            None => Numel::Nothing,
        };
        self.numel_of.push(n);
    }

    /// The representative of node `k`'s class.
    pub fn rep(&self, k: usize) -> usize {
        self.classes[self.class_of[k]].rep
    }

    /// Input `i`, the next value.
    pub fn input(&mut self, i: usize) {
        self.slot(Term::Input(i));
        self.numel_of.push(Numel::Input(i));
    }

    /// Slot of `t`, node indices mapped to their representatives.
    pub fn slot(&mut self, t: Term) -> u32 {
        let t = self.canonical(t);
        if let Some(&s) = self.index.get(&t) {
            return s;
        }
        let s = self.terms.len() as u32;
        self.terms.push(t);
        self.index.insert(t, s);
        s
    }

    fn canonical(&self, t: Term) -> Term {
        let r = |k: usize| self.rep(k);
        match t {
            Term::Out(k) => Term::Out(r(k)),
            Term::Saved(k, j) => Term::Saved(r(k), j),
            Term::FwdTemp(k, j) => Term::FwdTemp(r(k), j),
            Term::BwdTemp(k, j) => Term::BwdTemp(r(k), j),
            Term::ParamBlock(k, j) => Term::ParamBlock(r(k), j),
            Term::AmpCopy(k, j) => Term::AmpCopy(r(k), j),
            Term::ParamNumel(k, j) => Term::ParamNumel(r(k), j),
            Term::BufferNumel(k, j) => Term::BufferNumel(r(k), j),
            Term::Stored(k, j, t) => Term::Stored(r(k), j, t),
            Term::FlopsFwd(k) => Term::FlopsFwd(r(k)),
            Term::FlopsBwd(k) => Term::FlopsBwd(r(k)),
            other => other,
        }
    }

    /// The gradient term of value `v` (of `dtype_bytes` per element), named even where
    /// empty: its size decides whether the gradient is allocated.
    pub fn grad(&mut self, v: usize, dtype_bytes: u64) -> Term {
        let t = Term::Grad(self.numel_of[v], dtype_bytes);
        self.slot(t);
        t
    }

    // A `Const(0)` term (an empty gradient slot, ZeRO's shards on one GPU) is no charge.
    pub fn alloc(&mut self, cat: usize, t: Term) {
        if t != Term::Const(0) {
            let s = self.slot(t);
            *self.cur[cat].entry(s).or_default() += 1;
        }
    }

    pub fn free(&mut self, cat: usize, t: Term) {
        if t != Term::Const(0) {
            let s = self.slot(t);
            *self.cur[cat].entry(s).or_default() -= 1;
        }
    }

    /// Adds `t` to a count (`by` = 1, or −1 where the simulator takes it back).
    pub fn count(map: &mut HashMap<u32, i64>, s: u32, by: i64) {
        *map.entry(s).or_default() += by;
    }

    pub fn mark(&mut self, temp: &[Term]) {
        let mut state: [Terms; 8] = Default::default();
        for (c, cur) in self.cur.iter().enumerate() {
            state[c] = cur
                .iter()
                .filter(|e| *e.1 != 0)
                .map(|(&s, &n)| (s, n))
                .collect();
        }
        for &t in temp.iter().filter(|&&t| t != Term::Const(0)) {
            let s = self.slot(t);
            state[7].push((s, 1));
        }
        for terms in state.iter_mut() {
            terms.sort_unstable();
            merge_duplicates(terms);
        }
        self.marks.push(RecMark { state });
    }
}

/// Sums the multiplicities of equal slots of a sorted list.
pub(crate) fn merge_duplicates(terms: &mut Terms) {
    let mut out: Terms = Vec::with_capacity(terms.len());
    for &(s, n) in terms.iter() {
        match out.last_mut() {
            Some(last) if last.0 == s => last.1 += n,
            _ => out.push((s, n)),
        }
    }
    out.retain(|e| e.1 != 0);
    *terms = out;
}

/// What the recorder needs besides a cost: the shape a candidate's cost must have for
/// the recorded timeline to hold (its vectors' lengths, its output's kind and dtype, what
/// it saves, its parameters' flags).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CostShape {
    params: Vec<ParamShape>,
    buffers: Vec<DType>,
    out: Option<(u8, Option<DType>, usize)>,
    save_inputs: Vec<usize>,
    save_output: bool,
    lens: [usize; 3],
}

impl CostShape {
    pub fn of(c: &Cost) -> Self {
        CostShape {
            params: c.params.iter().map(param_shape).collect(),
            buffers: c.buffers.iter().map(|b| b.1).collect(),
            out: c.out.map(out_shape),
            save_inputs: c.save_inputs.clone(),
            save_output: c.save_output,
            lens: [c.saved.len(), c.fwd_temp.len(), c.bwd_temp.len()],
        }
    }

    /// `CostShape::of(c) == self`, without allocating.
    pub fn matches(&self, c: &Cost) -> bool {
        self.lens == [c.saved.len(), c.fwd_temp.len(), c.bwd_temp.len()]
            && self.save_output == c.save_output
            && self.save_inputs == c.save_inputs
            && self.out == c.out.map(out_shape)
            && self.params.len() == c.params.len()
            && self
                .params
                .iter()
                .zip(&c.params)
                .all(|(a, p)| *a == param_shape(p))
            && self.buffers.len() == c.buffers.len()
            && self.buffers.iter().zip(&c.buffers).all(|(d, b)| *d == b.1)
    }
}

type ParamShape = (bool, Option<[bool; 6]>, Option<DType>, AmpCast);

fn param_shape(p: &Param) -> ParamShape {
    (
        p.shared,
        p.stored.map(|s| s.map(|t| t > 0)),
        p.dtype,
        p.amp_cast,
    )
}

fn out_shape(o: Out) -> (u8, Option<DType>, usize) {
    match o {
        Out::New { dtype, .. } => (0, Some(dtype), 0),
        Out::Alias(i) => (1, None, i),
        Out::View { input, .. } => (2, None, input),
    }
}
