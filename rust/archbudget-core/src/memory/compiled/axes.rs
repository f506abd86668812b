//! A structure's step as a function of its candidates' size axes: no Graph per
//! candidate.
//!
//! Within one structure (a family's depth and flags, the run's mode, precision and
//! optimizer: whatever changes the timeline's events) every number a tape reads
//! (`Tape::raw`: each term's bytes before allocator rounding, each count, the counts the
//! guards compare) is a polynomial of the size axes on the lattice of their values
//! (`hidden / heads` is linear in `hidden` where `hidden` steps by a multiple of
//! `heads`). [`AxisModel::fit`] builds the step at probe points of that lattice around a
//! generic point, finds each number's degree per axis (at most 2: its third difference
//! along each axis must vanish), interpolates it exactly in Newton form (integer
//! coefficients: the finite differences at the generic point, times binomials of each
//! axis's lattice coordinate), and verifies the fit at the axes' extremes. A candidate
//! is then evaluated by evaluating the polynomials, rounding each term as the allocator
//! does (`alloc::block`) and taking the largest of the tape's marks (`Tape::finish`,
//! which also checks every guard that depends on sizes: emptiness, views partial or
//! not, class members' counts). No node is visited per candidate.
//!
//! The fit is exact where it verifies; a number that is not a polynomial of degree ≤ 2
//! per axis over the lattice (a ceiling division, a regime switch inside the range)
//! makes `fit` give `None` or a later candidate's guard fail, and the caller builds that
//! candidate's step as before. The property tests (`tests/compiled_memory.rs`) compare
//! the two paths over random candidates of every family.
use std::collections::HashMap;

use super::super::graph::Graph;
use super::super::{MemoryReport, RunSettings};
use super::tape::{Scratch, Tape};

/// Highest degree per axis a fitted number may have.
const DEGREE: usize = 2;
/// Axes a model is fitted over at most.
pub const MAX_AXES: usize = 8;
/// The largest Newton coefficient and basis value a model evaluates, and the most terms
/// per polynomial: their products' sums then stay within `i128` without a check per
/// term.
const LIMIT: i64 = 1 << 60;
const MAX_TERMS: usize = 64;
/// Axes (of two values or more) up to which a fit is verified at every corner of its
/// box (`2^k − 1` probes besides the base).
const MAX_CORNER_AXES: usize = 6;

/// One size axis: its values' lattice (`min + k·step`) and its largest value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AxisRange {
    pub min: i64,
    pub max: i64,
    pub step: i64,
}

/// What a probe gives: the step built at a point (graph and run settings) and numbers
/// fitted beside the tape's (the family's parameter counts).
pub struct Probed {
    pub graph: Graph,
    pub run: RunSettings,
    pub extras: Vec<u64>,
}

/// A multi-index of Newton coefficients (per axis, the difference order).
type Index = [u8; MAX_AXES];

/// Why a fit failed, and where the step stops being one polynomial of the axes: the
/// caller fits the part of the box the candidate lies in (`space::symbolic`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misfit {
    /// Not located (no tape applies, the recording point fails to build, a count
    /// overflows).
    Unfit,
    /// Along this axis: a third difference that does not vanish, a guard that fails
    /// between probes on its line, or a verification at its largest value.
    Along(usize),
    /// The axis's smallest value is a regime of its own: moving off it from the
    /// recording point fails the tape's guards (a cost of another shape, a
    /// convolution's workspace that starts at 16 input channels).
    AtMin(usize),
}

/// One structure's step as polynomials of its size axes.
#[derive(Debug)]
pub struct AxisModel {
    tape: Tape,
    run: RunSettings,
    axes: Vec<AxisRange>,
    /// Newton's origin (each axis's smallest value), and the bases' multi-indices.
    base: Vec<i64>,
    bases: Vec<Index>,
    /// The distinct polynomials' nonzero Newton coefficients, as (index into `bases`,
    /// coefficient), polynomial `p` being `coefs[ends[p - 1]..ends[p]]`.
    coefs: Vec<(u32, i64)>,
    ends: Vec<u32>,
    /// Each number's polynomial (the tape's raw numbers, then the extras): many are
    /// equal (a layer's output and the next one's saved input).
    number_poly: Vec<u32>,
    extras: usize,
    /// The weights' bytes where no parameter's size depends on the axes.
    weights: Option<u64>,
    /// Which axes the parameters' sizes depend on, and this model's number among the
    /// process's (the key of the weights remembered per thread: `WEIGHTS`).
    weight_axes: [bool; MAX_AXES],
    id: u64,
    /// Probes the fit built.
    pub probes: usize,
}

impl AxisModel {
    /// Fits the step `probe` builds at any point of `axes` (values in axis order; an
    /// axis of one value, `min == max`, is a constant), or says where it does not fit.
    pub fn fit(
        axes: &[AxisRange],
        probe: &mut dyn FnMut(&[i64]) -> Option<Probed>,
    ) -> Result<AxisModel, Misfit> {
        let k = axes.len();
        if k == 0 || k > MAX_AXES || axes.iter().any(|a| a.step <= 0 || a.max < a.min) {
            return Err(Misfit::Unfit);
        }
        // Newton's nodes are each axis's smallest values (inside the axis's range where
        // it has 4 values or more: a regime outside it, flash attention's head_dim
        // limit, is never probed); the tape is recorded one step in, away from the
        // coincidences of the smallest sizes (a layer's width equal to the input's),
        // which it would record as one class
        let base: Vec<i64> = axes.iter().map(|a| a.min).collect();
        let mut generic = base.clone();
        for (g, a) in generic.iter_mut().zip(axes) {
            *g = (*g + a.step).min(a.max);
        }
        let first = probe(&generic).ok_or(Misfit::Unfit)?;
        let (_, tape) = Tape::compile(&first.graph, &first.run).map_err(|_| Misfit::Unfit)?;
        let tape = tape.ok_or(Misfit::Unfit)?;
        let extras = first.extras.len();
        let mut fitter = Fitter {
            axes,
            base: &base,
            extras,
            probe,
            seen: HashMap::new(),
        };
        let mut at_generic = tape.raw(&first.graph, &first.run).ok_or(Misfit::Unfit)?;
        at_generic.extend_from_slice(&first.extras);
        let mut one_in: Index = [0; MAX_AXES];
        for (i, a) in one_in.iter_mut().zip(axes) {
            *i = (a.max > a.min) as u8;
        }
        fitter.seen.insert(one_in, at_generic);
        let zero: Index = [0; MAX_AXES];
        let Some(at_base) = fitter.at(&tape, zero) else {
            // which axis's smallest value leaves the recorded regime
            for a in (0..k).filter(|&a| one_in[a] == 1) {
                let mut idx = one_in;
                idx[a] = 0;
                if fitter.at(&tape, idx).is_none() {
                    return Err(Misfit::AtMin(a));
                }
            }
            return Err(Misfit::Unfit);
        };
        let count = at_base.len();
        // each number's degree along each axis, from 4 points on that axis's line; an
        // axis with 3 values or fewer on its lattice is interpolated through all of
        // them, exact at every candidate whatever the function
        let mut degree = vec![[0u8; MAX_AXES]; count];
        for a in 0..k {
            let points = ((axes[a].max - axes[a].min) / axes[a].step + 1).min(DEGREE as i64 + 2);
            let mut line = vec![at_base.clone()];
            for j in 1..points {
                let mut idx = zero;
                idx[a] = j as u8;
                line.push(fitter.at(&tape, idx).ok_or(Misfit::Along(a))?);
            }
            for (q, deg) in degree.iter_mut().enumerate() {
                let f: Vec<i128> = line.iter().map(|v| v[q] as i128).collect();
                let d1: Vec<i128> = f.windows(2).map(|w| w[1] - w[0]).collect();
                let d2: Vec<i128> = d1.windows(2).map(|w| w[1] - w[0]).collect();
                if d2.len() == 2 && d2[1] != d2[0] {
                    return Err(Misfit::Along(a));
                }
                deg[a] = if d2.first().is_some_and(|&d| d != 0) {
                    2
                } else if d1.first().is_some_and(|&d| d != 0) {
                    1
                } else {
                    0
                };
            }
        }
        // Newton coefficients over each number's box of indices
        let mut bases: Vec<Index> = Vec::new();
        let mut base_of: HashMap<Index, u32> = HashMap::new();
        let (mut coefs, mut ends, mut number_poly) = (Vec::new(), Vec::new(), Vec::new());
        let mut poly_of: HashMap<Vec<(u32, i64)>, u32> = HashMap::new();
        for (q, deg) in degree.iter().enumerate() {
            let mut poly = Vec::new();
            for j in boxed(deg, k) {
                let mut c = 0i128;
                for i in boxed(&j, k) {
                    let mut w = 1i128;
                    for a in 0..k {
                        w *= binomial(j[a] as i128, i[a] as u32);
                        if (j[a] - i[a]) % 2 == 1 {
                            w = -w;
                        }
                    }
                    // a point off every line: blame its farthest axis
                    let farthest = (0..k).max_by_key(|&a| i[a]).unwrap_or(0);
                    c += w * fitter.at(&tape, i).ok_or(Misfit::Along(farthest))?[q] as i128;
                }
                if c != 0 {
                    let next = bases.len() as u32;
                    let b = *base_of.entry(j).or_insert_with(|| {
                        bases.push(j);
                        next
                    });
                    // small enough that a candidate's sums cannot overflow (`numbers_at`)
                    if c.abs() > LIMIT as i128 {
                        return Err(Misfit::Unfit);
                    }
                    poly.push((b, c as i64));
                }
            }
            if poly.len() > MAX_TERMS {
                return Err(Misfit::Unfit);
            }
            let next = ends.len() as u32;
            number_poly.push(*poly_of.entry(poly).or_insert_with_key(|poly| {
                coefs.extend_from_slice(poly);
                ends.push(coefs.len() as u32);
                next
            }));
        }
        let slots = tape.raw_len();
        let mut weight_axes = [false; MAX_AXES];
        for s in tape.construct_slots() {
            for a in 0..k {
                weight_axes[a] |= degree[s][a] > 0;
            }
        }
        let constant_weights = !weight_axes.contains(&true);
        let weights = if constant_weights {
            Some(tape.weights_of(&at_base, &first.run).ok_or(Misfit::Unfit)?)
        } else {
            None
        };
        let mut model = AxisModel {
            tape,
            run: first.run,
            axes: axes.to_vec(),
            base: base.clone(),
            bases,
            coefs,
            ends,
            number_poly,
            extras,
            weights,
            weight_axes,
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            probes: 0,
        };
        debug_assert_eq!(count, slots + extras);
        // verified at the extremes: the largest value of each axis, the others one
        // step in; and every corner of the box, where a regime boundary that crosses it
        // shows (a threshold on one axis, `max(embed, hidden)` across two), each blamed
        // on the axis of most values among those at their largest
        let varying: Vec<usize> = (0..k).filter(|&a| axes[a].max > axes[a].min).collect();
        let values = |a: usize| (axes[a].max - axes[a].min) / axes[a].step;
        let mut checks: Vec<(Vec<i64>, usize)> = varying
            .iter()
            .map(|&a| {
                let mut p = generic.clone();
                p[a] = axes[a].max;
                (p, a)
            })
            .collect();
        let corners = if varying.len() <= MAX_CORNER_AXES {
            1usize << varying.len()
        } else {
            // too many corners: the largest values together only
            let widest = varying
                .iter()
                .copied()
                .max_by_key(|&a| values(a))
                .unwrap_or(0);
            checks.push((axes.iter().map(|a| a.max).collect(), widest));
            0
        };
        for corner in 1..corners {
            let mut p = base.clone();
            let at_max = varying
                .iter()
                .enumerate()
                .filter(|&(bit, _)| corner >> bit & 1 == 1)
                .map(|(_, &a)| a);
            for a in at_max.clone() {
                p[a] = axes[a].max;
            }
            checks.push((p, at_max.max_by_key(|&a| values(a)).unwrap_or(0)));
        }
        let verified = checks.len();
        for (point, blamed) in checks {
            let misfit = Misfit::Along(blamed);
            let built = (fitter.probe)(&point).ok_or(misfit)?;
            let mut raw = model.tape.raw(&built.graph, &built.run).ok_or(misfit)?;
            raw.extend_from_slice(&built.extras);
            if model.numbers_at(&point).ok_or(misfit)? != raw {
                return Err(misfit);
            }
        }
        model.probes = fitter.seen.len() + verified;
        Ok(model)
    }

    /// The report and the extras at `point` (values in axis order), or `None` where
    /// the point is off the lattice, a guard fails or a count overflows: the caller
    /// then builds the step.
    pub fn evaluate(&self, point: &[i64]) -> Option<(MemoryReport, Vec<u64>)> {
        let numbers = self.numbers_at(point)?;
        let slots = numbers.len() - self.extras;
        // the weights of a model met before (a sweep's batch and seq axes vary fastest)
        let mut key = (self.id, [0i64; MAX_AXES]);
        for (a, &x) in point.iter().enumerate() {
            if self.weight_axes[a] {
                key.1[a] = x;
            }
        }
        let known = self
            .weights
            .or_else(|| WEIGHTS.with(|w| w.borrow().get(&key).copied()));
        let mut weights = known;
        let report = SCRATCH.with(|s| {
            self.tape.finish(
                &numbers[..slots],
                &self.run,
                &mut weights,
                &mut s.borrow_mut(),
            )
        })?;
        if let (None, Some(w)) = (known, weights) {
            WEIGHTS.with(|remembered| {
                let mut remembered = remembered.borrow_mut();
                if remembered.len() >= REMEMBERED_WEIGHTS {
                    remembered.clear();
                }
                remembered.insert(key, w);
            });
        }
        Some((report, numbers[slots..].to_vec()))
    }

    /// Every fitted number at `point`.
    fn numbers_at(&self, point: &[i64]) -> Option<Vec<u64>> {
        if point.len() != self.axes.len() {
            return None;
        }
        // each axis's lattice coordinate and its binomials C(t, 0..=2)
        let mut binom = [[0i128; DEGREE + 1]; MAX_AXES];
        for (a, (&x, axis)) in point.iter().zip(&self.axes).enumerate() {
            let offset = x - self.base[a];
            if offset % axis.step != 0 || x < axis.min || x > axis.max {
                return None;
            }
            let t = (offset / axis.step) as i128;
            binom[a] = [1, t, t * (t - 1) / 2];
        }
        let mut basis = Vec::with_capacity(self.bases.len());
        for idx in &self.bases {
            let mut v = 1i128;
            for (a, &j) in idx.iter().enumerate().take(self.axes.len()) {
                if j > 0 {
                    v = v.checked_mul(binom[a][j as usize])?;
                }
            }
            // past the limit the sums below could overflow: the caller builds the step
            if v.abs() > LIMIT as i128 {
                return None;
            }
            basis.push(v as i64);
        }
        let mut start = 0;
        let mut polys = Vec::with_capacity(self.ends.len());
        for &end in &self.ends {
            // at most MAX_TERMS products of two numbers of at most LIMIT: no overflow
            let mut acc = 0i128;
            for &(b, c) in &self.coefs[start..end as usize] {
                acc += c as i128 * basis[b as usize] as i128;
            }
            polys.push(u64::try_from(acc).ok()?);
            start = end as usize;
        }
        Some(
            self.number_poly
                .iter()
                .map(|&p| polys[p as usize])
                .collect(),
        )
    }
}

/// The probes of one fit, each point built once (`base`: Newton's origin).
struct Fitter<'a> {
    axes: &'a [AxisRange],
    base: &'a [i64],
    extras: usize,
    probe: &'a mut dyn FnMut(&[i64]) -> Option<Probed>,
    seen: HashMap<Index, Vec<u64>>,
}

impl Fitter<'_> {
    /// The numbers at `base + idx·step`.
    fn at(&mut self, tape: &Tape, idx: Index) -> Option<Vec<u64>> {
        if let Some(v) = self.seen.get(&idx) {
            return Some(v.clone());
        }
        let point: Vec<i64> = (0..self.axes.len())
            .map(|a| self.base[a] + idx[a] as i64 * self.axes[a].step)
            .collect();
        let built = (self.probe)(&point)?;
        let mut raw = tape.raw(&built.graph, &built.run)?;
        if built.extras.len() != self.extras {
            return None;
        }
        raw.extend_from_slice(&built.extras);
        self.seen.insert(idx, raw.clone());
        Some(raw)
    }
}

/// Every multi-index `i ≤ top` over the first `k` axes.
fn boxed(top: &Index, k: usize) -> Vec<Index> {
    let mut out = vec![[0u8; MAX_AXES]];
    for a in 0..k {
        let mut next = Vec::with_capacity(out.len() * (top[a] as usize + 1));
        for idx in &out {
            for j in 0..=top[a] {
                let mut i = *idx;
                i[a] = j;
                next.push(i);
            }
        }
        out = next;
    }
    out
}

fn binomial(n: i128, k: u32) -> i128 {
    (0..k as i128).fold(1, |acc, i| acc * (n - i) / (i + 1))
}

/// Models' weights remembered per thread, by model and the axes' values they depend on.
const REMEMBERED_WEIGHTS: usize = 4096;
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

thread_local! {
    static WEIGHTS: std::cell::RefCell<HashMap<(u64, [i64; MAX_AXES]), u64>> =
        std::cell::RefCell::new(HashMap::new());
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}
