//! A tape's marks as a program of changes: the running maximum of the step's timeline
//! evaluated in O(changes) per candidate, not O(marks × terms).
//!
//! Each mark the simulator made is the state of the previous mark plus a few changes
//! (an allocation, a free, the op's transients): [`Timeline::new`] stores those
//! changes (a term and how many blocks of it), and a candidate keeps a running total,
//! comparing it at each mark, ties to the earliest (the simulator's strict `>`); the
//! categories of the mark found at the peak are then summed from its recorded state.
//! Two exact reductions make it cheaper still:
//!
//! - **Repeats.** Where the same changes come back period after period (a transformer's
//!   identical layers: their terms name the same classes), every mark of the `r`-th
//!   period is the first period's plus `r·D`, `D` the period's sum of changes: linear in
//!   `r`, so its largest value is at the first or the last period, strictly above the
//!   periods between unless `D` = 0 (then the first, earlier, wins). A repeat is
//!   evaluated for its first period, jumped by `(reps − 2)·D`, and evaluated for its
//!   last; repeats are found inside periods too (a mixture's experts within a layer).
//! - **Covered marks.** A mark whose terms an earlier compared mark of the same run of
//!   steps holds at least as often is never above it, so never the earliest maximum:
//!   its changes are merged into the next compared mark's. A fitted tape also drops a
//!   mark of its run that a recent earlier compared mark is never below, or a near
//!   later mark always above, at every candidate of the fit's box (`dominance`).
//!
//! The steps (a tree: repeats hold their bodies) are then flattened into one program
//! of [`Op`]s, each repeat's body written out for its first and last period, so that
//! a candidate runs one loop with no recursion and little work per mark.
//!
//! A compared total outside `u64` gives `None` (the simulator then names the overflow);
//! the marks not compared are at most one that is.
use std::collections::HashMap;

use super::dominance::Dominance;
use super::record::{merge_duplicates, RecMark, Terms};

/// One term's change at a mark: its slot, and how many blocks of it are added
/// (negative: freed), over every category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Change {
    slot: u32,
    n: i64,
}

#[derive(Debug, Clone, Copy)]
enum Step {
    /// Apply `changes[lo..hi]`, then, where `compare`, compare the total with the peak;
    /// `mark`: the recorded mark it is (in the first period of every repeat around it).
    Mark {
        lo: u32,
        hi: u32,
        compare: bool,
        mark: u32,
    },
    /// The next `len` steps (a period of `marks` recorded marks), `reps` ≥ 3 times in a
    /// row.
    Repeat { len: u32, reps: u64, marks: u32 },
}

/// Repeats nested deeper than this are written out mark by mark (a flattened
/// program keeps one running total per open repeat).
const MAX_DEPTH: usize = 8;

/// One instruction of the flattened program: apply `changes[lo..hi]`, then act.
#[derive(Debug, Clone, Copy)]
struct Op {
    lo: u32,
    hi: u32,
    act: Act,
}

#[derive(Debug, Clone, Copy)]
enum Act {
    /// Nothing more (changes applied before a repeat or at the end).
    Apply,
    /// Compare the total with the peak; the recorded mark it is.
    Compare(u32),
    /// A repeat at this depth starts: keep the total.
    Open(u8),
    /// The first period of the repeat opened at this depth ends: jump the periods
    /// between it and the last (`reps − 2` times the first's sum of changes).
    Jump(u8, u64),
}

/// The marks of one tape, as changes (see the module's doc).
#[derive(Debug)]
pub(crate) struct Timeline {
    changes: Vec<Change>,
    ops: Vec<Op>,
    /// Marks an evaluation compares (each repeat's body twice).
    compared: usize,
    /// The recorded marks an evaluation compares (sorted), and their state per
    /// category.
    marks_compared: Vec<u32>,
    states: Vec<[Terms; 8]>,
    /// The most blocks an evaluation's running total or a compared state sums, over
    /// every slot (each change's count times the periods it is applied for): with
    /// every value at most `v`, no sum exceeds `v · reach` in magnitude.
    reach: u64,
}

/// A running total's integer: `i64` where the values' bound and the timeline's reach
/// rule out an overflow (`Timeline::peak`), `i128` otherwise.
trait Total: Copy + Ord + std::ops::Add<Output = Self> + std::ops::Sub<Output = Self> {
    const ZERO: Self;
    /// `value · n`, `value` below 2^63.
    fn times(value: u64, n: i64) -> Self;
    fn times_reps(self, reps: u64) -> Self;
    fn to_u64(self) -> Option<u64>;
}

impl Total for i64 {
    const ZERO: i64 = 0;
    #[inline]
    fn times(value: u64, n: i64) -> i64 {
        value as i64 * n
    }
    #[inline]
    fn times_reps(self, reps: u64) -> i64 {
        self * reps as i64
    }
    #[inline]
    fn to_u64(self) -> Option<u64> {
        u64::try_from(self).ok()
    }
}

impl Total for i128 {
    const ZERO: i128 = 0;
    #[inline]
    fn times(value: u64, n: i64) -> i128 {
        value as i64 as i128 * n as i128
    }
    #[inline]
    fn times_reps(self, reps: u64) -> i128 {
        self * reps as i128
    }
    #[inline]
    fn to_u64(self) -> Option<u64> {
        u64::try_from(self).ok()
    }
}

impl Timeline {
    /// The program of `marks` (in time order); `dominance`: which marks' totals bound
    /// which at every candidate, where the tape is fitted over a box.
    pub fn new(marks: &[RecMark], dominance: Option<&Dominance>) -> Timeline {
        let totals: Vec<Terms> = marks.iter().map(|m| total(&m.state)).collect();
        let deltas: Vec<Vec<Change>> = totals
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let before = if i == 0 { &[][..] } else { &totals[i - 1][..] };
                difference(before, t)
                    .into_iter()
                    .map(|(slot, n)| Change { slot, n })
                    .collect()
            })
            .collect();
        let mut interned: HashMap<&[Change], u32> = HashMap::new();
        let ids: Vec<u32> = deltas
            .iter()
            .map(|d| {
                let next = interned.len() as u32;
                *interned.entry(&d[..]).or_insert(next)
            })
            .collect();
        // the next mark with the same changes, for the repeats' candidate periods
        let mut next_same = vec![usize::MAX; ids.len()];
        let mut last_seen: HashMap<u32, usize> = HashMap::new();
        for (i, &id) in ids.iter().enumerate().rev() {
            if let Some(&j) = last_seen.get(&id) {
                next_same[i] = j;
            }
            last_seen.insert(id, i);
        }
        let mut builder = Builder {
            deltas: &deltas,
            ids: &ids,
            next_same: &next_same,
            totals: &totals,
            dominance,
            changes: Vec::new(),
            steps: Vec::new(),
        };
        builder.build(0, marks.len(), 0);
        let steps = builder.steps;
        let mut timeline = Timeline {
            changes: builder.changes,
            ops: Vec::new(),
            compared: 0,
            marks_compared: Vec::new(),
            states: Vec::new(),
            reach: 0,
        };
        timeline.flatten(&steps, 0, 0);
        timeline.compared = timeline
            .ops
            .iter()
            .filter(|op| matches!(op.act, Act::Compare(_)))
            .count();
        let mut compared: Vec<u32> = timeline
            .ops
            .iter()
            .filter_map(|op| match op.act {
                Act::Compare(mark) => Some(mark),
                _ => None,
            })
            .collect();
        compared.sort_unstable();
        compared.dedup();
        timeline.states = compared
            .iter()
            .map(|&m| marks[m as usize].state.clone())
            .collect();
        timeline.marks_compared = compared;
        let states_reach = timeline.states.iter().map(|state| {
            let blocks = state.iter().flatten().map(|t| t.1.unsigned_abs());
            blocks.fold(0u64, u64::saturating_add)
        });
        timeline.reach = timeline
            .reach_of(&steps)
            .max(states_reach.max().unwrap_or(0));
        timeline
    }

    /// Appends the program of `steps` (their first periods `offset` marks on, inside
    /// `depth` open repeats): each repeat's body for its first period, the jump, and
    /// the body for its last period.
    fn flatten(&mut self, steps: &[Step], offset: u32, depth: u8) {
        let mut i = 0;
        while i < steps.len() {
            match steps[i] {
                Step::Mark {
                    lo,
                    hi,
                    compare,
                    mark,
                } => {
                    let act = if compare {
                        Act::Compare(mark + offset)
                    } else {
                        Act::Apply
                    };
                    self.ops.push(Op { lo, hi, act });
                    i += 1;
                }
                Step::Repeat { len, reps, marks } => {
                    let body = &steps[i + 1..i + 1 + len as usize];
                    let none = |act| Op { lo: 0, hi: 0, act };
                    self.ops.push(none(Act::Open(depth)));
                    self.flatten(body, offset, depth + 1);
                    self.ops.push(none(Act::Jump(depth, reps)));
                    self.flatten(body, offset + (reps - 1) as u32 * marks, depth + 1);
                    i += 1 + len as usize;
                }
            }
        }
    }

    /// The blocks `steps` apply, each counted as often as an evaluation applies it
    /// (a repeat's body once per period: its middle periods are jumped by multiples).
    fn reach_of(&self, steps: &[Step]) -> u64 {
        let mut i = 0;
        let mut reach = 0u64;
        while i < steps.len() {
            match steps[i] {
                Step::Mark { lo, hi, .. } => {
                    let changes = &self.changes[lo as usize..hi as usize];
                    for c in changes {
                        reach = reach.saturating_add(c.n.unsigned_abs());
                    }
                    i += 1;
                }
                Step::Repeat { len, reps, .. } => {
                    let body = self.reach_of(&steps[i + 1..i + 1 + len as usize]);
                    reach = reach.saturating_add(body.saturating_mul(reps));
                    i += 1 + len as usize;
                }
            }
        }
        reach
    }

    /// The slots an evaluation reads.
    pub fn slots(&self) -> impl Iterator<Item = usize> + '_ {
        let states = self.states.iter().flatten().flatten();
        self.changes
            .iter()
            .map(|c| c.slot as usize)
            .chain(states.map(|t| t.0 as usize))
    }

    /// Marks an evaluation compares (each repeat's body twice).
    pub fn compared(&self) -> usize {
        self.compared
    }

    /// The largest mark's total and its state per category (the first such mark), or
    /// `None` where a compared total is outside `u64` or a value above `i64::MAX`.
    /// `values`: each slot's value, none of those read above `largest`.
    pub fn peak(&self, values: &[u64], largest: u64) -> Option<(u64, [u64; 8])> {
        if largest > i64::MAX as u64 {
            return None;
        }
        // no sum can leave i64: one 64-bit multiply-add per change
        if (largest as u128) * (self.reach as u128) <= i64::MAX as u128 {
            self.peak_in::<i64>(values)
        } else {
            self.peak_in::<i128>(values)
        }
    }

    fn peak_in<T: Total>(&self, values: &[u64]) -> Option<(u64, [u64; 8])> {
        let (mut total, mut peak) = (T::ZERO, T::ZERO);
        let mut at_peak = None;
        // the total where each open repeat started
        let mut opened = [T::ZERO; MAX_DEPTH];
        for op in &self.ops {
            for c in &self.changes[op.lo as usize..op.hi as usize] {
                total = total + T::times(values[c.slot as usize], c.n);
            }
            match op.act {
                Act::Compare(mark) => {
                    // a peak past u64 is the last one's too: `to_u64` below
                    if total > peak {
                        peak = total;
                        at_peak = Some(mark);
                    }
                }
                Act::Apply => {}
                Act::Open(depth) => opened[depth as usize] = total,
                Act::Jump(depth, reps) => {
                    total = total + (total - opened[depth as usize]).times_reps(reps - 2);
                }
            }
        }
        let mut state = [0u64; 8];
        if let Some(mark) = at_peak {
            let at = self.marks_compared.binary_search(&mark).ok()?;
            for (s, terms) in state.iter_mut().zip(&self.states[at]) {
                let mut sum = T::ZERO;
                for &(slot, n) in terms {
                    sum = sum + T::times(values[slot as usize], n);
                }
                *s = sum.to_u64()?;
            }
        }
        Some((peak.to_u64()?, state))
    }
}

struct Builder<'a> {
    deltas: &'a [Vec<Change>],
    ids: &'a [u32],
    next_same: &'a [usize],
    totals: &'a [Terms],
    dominance: Option<&'a Dominance>,
    changes: Vec<Change>,
    steps: Vec<Step>,
}

/// Marks each mark of a run is checked against for `Dominance` (the nearest later
/// ones, the latest earlier compared ones): a check costs a sum over both marks'
/// terms at every point of its set.
const WINDOW: usize = 8;

impl Builder<'_> {
    /// Steps for marks `lo..hi` inside `depth` repeats, their changes all applied by the
    /// last step.
    fn build(&mut self, lo: usize, hi: usize, depth: usize) {
        let mut pending: Vec<Change> = Vec::new();
        // the marks compared in this run of steps, for the covered ones
        let mut compared: Vec<usize> = Vec::new();
        let below_later = self.below_later(lo, hi, depth);
        let mut own = 0;
        let mut i = lo;
        while i < hi {
            let repeat = (depth < MAX_DEPTH).then(|| self.repeat_at(i, hi)).flatten();
            if let Some((period, reps)) = repeat {
                self.flush(&mut pending, None);
                let at = self.steps.len();
                let marks = period as u32;
                self.steps.push(Step::Repeat {
                    len: 0,
                    reps,
                    marks,
                });
                self.build(i, i + period, depth + 1);
                let len = (self.steps.len() - at - 1) as u32;
                self.steps[at] = Step::Repeat { len, reps, marks };
                i += period * reps as usize;
                continue;
            }
            pending.extend_from_slice(&self.deltas[i]);
            let t = &self.totals[i];
            let dominated = below_later.get(own).is_some_and(|&below| below)
                || compared.iter().any(|&b| covered(t, &self.totals[b]))
                || self.dominance.is_some_and(|d| {
                    let recent = compared.iter().rev().take(WINDOW);
                    recent
                        .into_iter()
                        .any(|&b| d.above(t, &self.totals[b], false))
                });
            if !dominated {
                compared.push(i);
                self.flush(&mut pending, Some(i as u32));
            }
            own += 1;
            i += 1;
        }
        self.flush(&mut pending, None);
    }

    /// Per mark of the run `lo..hi` (not those of a repeat inside it), whether one of
    /// the next `WINDOW` is above it at every candidate (empty without a dominance).
    fn below_later(&self, lo: usize, hi: usize, depth: usize) -> Vec<bool> {
        let Some(d) = self.dominance else {
            return Vec::new();
        };
        let mut own = Vec::new();
        let mut i = lo;
        while i < hi {
            match (depth < MAX_DEPTH).then(|| self.repeat_at(i, hi)).flatten() {
                Some((period, reps)) => i += period * reps as usize,
                None => {
                    own.push(i);
                    i += 1;
                }
            }
        }
        (0..own.len())
            .map(|k| {
                let later = own[k + 1..].iter().take(WINDOW);
                later
                    .into_iter()
                    .any(|&j| d.above(&self.totals[own[k]], &self.totals[j], true))
            })
            .collect()
    }

    /// A mark step of the changes `pending` (merged), comparing recorded mark
    /// `compare` where given, if it has changes to apply or a total to compare.
    fn flush(&mut self, pending: &mut Vec<Change>, compare: Option<u32>) {
        pending.sort_unstable_by_key(|c| c.slot);
        let mut merged: Vec<Change> = Vec::with_capacity(pending.len());
        for &c in pending.iter() {
            match merged.last_mut() {
                Some(last) if last.slot == c.slot => last.n += c.n,
                _ => merged.push(c),
            }
        }
        merged.retain(|c| c.n != 0);
        pending.clear();
        if merged.is_empty() && compare.is_none() {
            return;
        }
        let lo = self.changes.len() as u32;
        self.changes.extend(merged);
        let hi = self.changes.len() as u32;
        self.steps.push(Step::Mark {
            lo,
            hi,
            compare: compare.is_some(),
            mark: compare.unwrap_or(0),
        });
    }

    /// The period and repetitions (3 or more) of the longest repeat of changes from
    /// mark `i` within `..hi` (ties to the shorter period), if any.
    fn repeat_at(&self, i: usize, hi: usize) -> Option<(usize, u64)> {
        let mut best: Option<(usize, u64)> = None;
        let mut j = self.next_same[i];
        while j < hi && (j - i) * 3 <= hi - i {
            let period = j - i;
            let mut matched = 0;
            while j + matched < hi && self.ids[i + matched] == self.ids[j + matched] {
                matched += 1;
            }
            let reps = (1 + matched / period) as u64;
            if reps >= 3 && best.is_none_or(|(p, r)| period * reps as usize > p * r as usize) {
                best = Some((period, reps));
            }
            j = self.next_same[j];
        }
        best
    }
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

/// `b − a`, term by term (both sorted by slot).
fn difference(a: &[(u32, i64)], b: &[(u32, i64)]) -> Terms {
    let mut d: Terms = b
        .iter()
        .copied()
        .chain(a.iter().map(|&(s, n)| (s, -n)))
        .collect();
    d.sort_unstable_by_key(|e| e.0);
    merge_duplicates(&mut d);
    d
}
