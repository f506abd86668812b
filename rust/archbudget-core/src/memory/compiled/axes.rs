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
use super::dominance::Dominance;
use super::tape::{Plan, Scratch, Tape};

mod eval;
mod unchecked;
use super::cache::FxMap;
use eval::Numbers;
use unchecked::Unchecked;

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

/// An axis value's lattice coordinate `t` as Newton's basis reads it: the binomials
/// C(t, 0..=2) ([`AxisModel::coordinates`]).
pub type Coords = [i64; DEGREE + 1];

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
    /// Newton's origin (per axis, its lattice's origin, or its smallest value where the
    /// coefficients would pass the limits there: `shifted`), and each basis's factors:
    /// (axis, order) of each axis it reads, basis `b` being `factors[factor_ends[b -
    /// 1]..factor_ends[b]]` (the constant basis has none).
    base: Vec<i64>,
    factors: Vec<(u8, u8)>,
    factor_ends: Vec<u32>,
    /// The distinct polynomials' nonzero Newton coefficients, as (basis,
    /// coefficient), polynomial `p` being `coefs[ends[p - 1]..ends[p]]`.
    coefs: Vec<(u32, i64)>,
    ends: Vec<u32>,
    /// How many polynomials a candidate evaluates: the first ones (not those only the
    /// counts' sums read); and the counts' own (`Tape::count_sums`).
    evaluated: usize,
    counts: Option<[u32; 5]>,
    /// The largest sum of coefficients' magnitudes among the evaluated polynomials.
    coef_reach: u64,
    /// How a candidate of the box is evaluated with no overflow check (`None` where
    /// one could overflow somewhere in the box).
    unchecked: Option<Unchecked>,
    /// How the tape's values are filled from the polynomials.
    plan: Plan,
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
        let (_, recorded) = Tape::record(&first.graph, &first.run).map_err(|_| Misfit::Unfit)?;
        let (mut tape, marks) = recorded.ok_or(Misfit::Unfit)?;
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
                    // small enough that a candidate's sums cannot overflow (`polys_at`)
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
        // terms of one polynomial are one value at every candidate (`Tape::merge_slots`)
        let mut first_of: HashMap<(u32, bool, bool), u32> = HashMap::new();
        let same: Vec<u32> = tape
            .slot_kinds()
            .enumerate()
            .map(|(slot, (rounded, zero, set_by_tape))| {
                if set_by_tape {
                    slot as u32
                } else {
                    *first_of
                        .entry((number_poly[slot], rounded, zero))
                        .or_insert(slot as u32)
                }
            })
            .collect();
        // which marks bound which over the box, from the polynomials at Newton's
        // origin (the box's smallest values: lattice coordinates from 0)
        let kinds: Vec<(bool, bool)> = tape.slot_kinds().map(|(r, _, set)| (r, set)).collect();
        let poly_at = |slot: usize, t: &[i64]| -> Option<i128> {
            let mut sum = 0i128;
            for &(b, c) in poly_terms(&coefs, &ends, number_poly[slot] as usize) {
                let mut v = c as i128;
                for (a, &t) in t.iter().enumerate() {
                    v = v.checked_mul(binomial(t as i128, bases[b as usize][a] as u32))?;
                }
                sum = sum.checked_add(v)?;
            }
            Some(sum)
        };
        let dominance = Dominance::new(axes, &kinds, &degree, poly_at);
        tape.merge_slots(&marks, &same, dominance.as_ref());
        // the report's counts as one polynomial each, so that the slots only they read
        // are not evaluated per candidate
        let counts = count_polys(&tape, &number_poly, &coefs, &ends).map(|polys| {
            let mut at = [0u32; 5];
            for (a, poly) in at.iter_mut().zip(polys) {
                coefs.extend_from_slice(&poly);
                ends.push(coefs.len() as u32);
                *a = ends.len() as u32 - 1;
            }
            at
        });
        // Newton's origin moved to each lattice's own (the multiple of its step at or
        // below its smallest value), where products of sizes have few terms: b·s·h is
        // one term there, eight at the smallest values
        let origin: Vec<i64> = axes.iter().map(|a| a.min.rem_euclid(a.step)).collect();
        let shifts: Vec<i64> = axes
            .iter()
            .zip(&origin)
            .map(|(a, o)| (a.min - o) / a.step)
            .collect();
        let mut newton_origin = base.clone();
        if let Some((b, c, e)) = shifted(&bases, &coefs, &ends, &shifts) {
            if c.len() <= coefs.len() {
                (bases, coefs, ends) = (b, c, e);
                newton_origin = origin;
            }
        }
        let mut needed = vec![false; ends.len()];
        let plan = tape.plan(&number_poly, counts.is_some());
        let extra_polys = number_poly[number_poly.len() - extras..].iter().copied();
        for p in plan
            .polys()
            .chain(extra_polys)
            .chain(counts.into_iter().flatten())
        {
            needed[p as usize] = true;
        }
        // the polynomials a candidate reads first: it evaluates a prefix of them
        let all = 0..ends.len() as u32;
        let order: Vec<u32> = (all.clone().filter(|&p| needed[p as usize]))
            .chain(all.filter(|&p| !needed[p as usize]))
            .collect();
        let evaluated = needed.iter().filter(|&&n| n).count();
        let mut new_of = vec![0u32; order.len()];
        let (mut new_coefs, mut new_ends) = (Vec::with_capacity(coefs.len()), Vec::new());
        for (new, &old) in order.iter().enumerate() {
            new_of[old as usize] = new as u32;
            new_coefs.extend_from_slice(poly_terms(&coefs, &ends, old as usize));
            new_ends.push(new_coefs.len() as u32);
        }
        (coefs, ends) = (new_coefs, new_ends);
        for p in number_poly.iter_mut() {
            *p = new_of[*p as usize];
        }
        let counts = counts.map(|at| at.map(|p| new_of[p as usize]));
        let plan = tape.plan(&number_poly, counts.is_some());
        let coef_reach = (0..evaluated)
            .map(|p| {
                let terms = poly_terms(&coefs, &ends, p);
                terms.iter().map(|t| t.1.unsigned_abs()).sum::<u64>()
            })
            .max()
            .unwrap_or(0);
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
        let mut factors = Vec::new();
        let mut factor_ends = Vec::with_capacity(bases.len());
        for idx in &bases {
            let orders = idx.iter().enumerate().take(k).filter(|&(_, &j)| j > 0);
            factors.extend(orders.map(|(a, &j)| (a as u8, j)));
            factor_ends.push(factors.len() as u32);
        }
        let mut model = AxisModel {
            tape,
            run: first.run,
            axes: axes.to_vec(),
            base: newton_origin,
            factors,
            factor_ends,
            coefs,
            ends,
            evaluated,
            counts,
            coef_reach,
            unchecked: None,
            plan,
            number_poly,
            extras,
            weights,
            weight_axes,
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            probes: 0,
        };
        model.unchecked = model.unchecked();
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
            if model.numbers(&point).ok_or(misfit)? != raw {
                return Err(misfit);
            }
        }
        model.probes = fitter.seen.len() + verified;
        Ok(model)
    }

    /// The coordinates of value `x` of axis `axis`, or `None` where it is off the
    /// axis's lattice or outside its range. A sweep computes them once per axis value
    /// (`space::symbolic`), so that a candidate divides nothing.
    pub fn coordinates(&self, axis: usize, x: i64) -> Option<Coords> {
        let range = self.axes.get(axis)?;
        let offset = x - self.base[axis];
        if offset % range.step != 0 || x < range.min || x > range.max {
            return None;
        }
        let t = offset / range.step;
        // a binomial past `i64::MAX` (kept as `i64::MAX`) makes every nonzero basis
        // value it enters exceed the limit, as its true value would
        let pairs = t as i128 * (t as i128 - 1) / 2;
        Some([1, t, i64::try_from(pairs).unwrap_or(i64::MAX)])
    }

    /// `read` of the report and the extras at `point` (values in axis order, `coords`
    /// their [`AxisModel::coordinates`]), or `None` where a guard fails or a count
    /// overflows (or `read` says so): the caller then builds the step. `read` keeps
    /// what it needs where it wants it: a report is too large to return up the calls
    /// without a copy at each.
    pub fn evaluate(
        &self,
        point: &[i64],
        coords: &[Coords],
        read: impl FnOnce(&MemoryReport, &[u64]) -> Option<()>,
    ) -> Option<()> {
        if point.len() != self.axes.len() || coords.len() != self.axes.len() {
            return None;
        }
        SCRATCH.with(|s| {
            let AxisScratch { numbers, tape } = &mut *s.borrow_mut();
            self.evaluate_with(point, coords, numbers, tape, read)
        })
    }

    fn evaluate_with(
        &self,
        point: &[i64],
        coords: &[Coords],
        numbers: &mut Numbers,
        scratch: &mut Scratch,
        read: impl FnOnce(&MemoryReport, &[u64]) -> Option<()>,
    ) -> Option<()> {
        self.polys_at(coords, numbers, false)?;
        let counts = self.counts.map(|at| at.map(|p| numbers.polys[p as usize]));
        // the weights of a model met before (a sweep's batch and seq axes vary fastest)
        let mut key = (self.id, [0i64; MAX_AXES]);
        for (a, &x) in point.iter().enumerate() {
            if self.weight_axes[a] {
                key.1[a] = x;
            }
        }
        let known = self.weights.or_else(|| remembered_weights(&key));
        let mut weights = known;
        let report = self.tape.finish_planned(
            &self.plan,
            &numbers.polys,
            &self.run,
            &mut weights,
            counts.as_ref(),
            scratch,
        )?;
        if let (None, Some(w)) = (known, weights) {
            remember_weights(key, w);
        }
        numbers.numbers.clear();
        let extras = &self.number_poly[self.number_poly.len() - self.extras..];
        numbers
            .numbers
            .extend(extras.iter().map(|&p| numbers.polys[p as usize]));
        read(&report, &numbers.numbers)
    }

    /// Every fitted number at `point` (for the fit's verification).
    fn numbers(&self, point: &[i64]) -> Option<Vec<u64>> {
        let coords: Option<Vec<Coords>> = (0..self.axes.len())
            .map(|a| self.coordinates(a, *point.get(a)?))
            .collect();
        let mut out = Numbers::default();
        self.polys_at(&coords?, &mut out, true)?;
        Some(
            self.number_poly
                .iter()
                .map(|&p| out.polys[p as usize])
                .collect(),
        )
    }
}

#[derive(Default)]
struct AxisScratch {
    numbers: Numbers,
    tape: Scratch,
}

/// The report's counts (`Tape::count_sums`) as one polynomial each, from the
/// polynomials of the slots they sum, or `None` where they are not sums of counts or
/// a coefficient passes the limit.
fn count_polys(
    tape: &Tape,
    number_poly: &[u32],
    coefs: &[(u32, i64)],
    ends: &[u32],
) -> Option<Vec<Vec<(u32, i64)>>> {
    tape.count_sums()?
        .iter()
        .map(|terms| {
            let mut sum: std::collections::BTreeMap<u32, i128> = Default::default();
            for &(slot, n) in terms.iter() {
                let p = number_poly[slot as usize] as usize;
                let start = if p == 0 { 0 } else { ends[p - 1] as usize };
                for &(b, c) in &coefs[start..ends[p] as usize] {
                    *sum.entry(b).or_default() += n as i128 * c as i128;
                }
            }
            let mut poly = Vec::new();
            for (b, c) in sum.into_iter().filter(|&(_, c)| c != 0) {
                let c = i64::try_from(c)
                    .ok()
                    .filter(|c| c.unsigned_abs() <= LIMIT as u64)?;
                poly.push((b, c));
            }
            (poly.len() <= MAX_TERMS).then_some(poly)
        })
        .collect()
}

/// Newton's coefficients (`bases`, `coefs`, `ends` as in [`AxisModel`]) with each
/// axis's coordinate `t` replaced by `u − shift` (C(t, j) = Σᵢ C(u, i)·C(−shift, j − i),
/// Vandermonde), or `None` where a coefficient or a polynomial's terms pass the limits.
#[allow(clippy::type_complexity)]
fn shifted(
    bases: &[Index],
    coefs: &[(u32, i64)],
    ends: &[u32],
    shifts: &[i64],
) -> Option<(Vec<Index>, Vec<(u32, i64)>, Vec<u32>)> {
    let k = shifts.len();
    // C(−shift, j − i) of each (j, i): 1; −shift, 1; shift·(shift+1)/2, −shift, 1
    let factor = |a: usize, j: u8, i: u8| -> i128 {
        let u = shifts[a] as i128;
        match (j, i) {
            (1, 0) | (2, 1) => -u,
            (2, 0) => u * (u + 1) / 2,
            _ => 1,
        }
    };
    let (mut new_bases, mut new_coefs, mut new_ends) = (Vec::new(), Vec::new(), Vec::new());
    let mut base_of: HashMap<Index, u32> = HashMap::new();
    let mut start = 0;
    for &end in ends {
        let mut sum: std::collections::BTreeMap<Index, i128> = Default::default();
        for &(b, c) in &coefs[start..end as usize] {
            let j = bases[b as usize];
            for i in boxed(&j, k) {
                let mut w = c as i128;
                for a in 0..k {
                    w = w.checked_mul(factor(a, j[a], i[a]))?;
                }
                let at = sum.entry(i).or_default();
                *at = at.checked_add(w)?;
            }
        }
        start = end as usize;
        let mut terms = 0;
        for (i, c) in sum.into_iter().filter(|&(_, c)| c != 0) {
            if c.abs() > LIMIT as i128 {
                return None;
            }
            let next = new_bases.len() as u32;
            let b = *base_of.entry(i).or_insert_with(|| {
                new_bases.push(i);
                next
            });
            new_coefs.push((b, c as i64));
            terms += 1;
        }
        if terms > MAX_TERMS {
            return None;
        }
        new_ends.push(new_coefs.len() as u32);
    }
    Some((new_bases, new_coefs, new_ends))
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

/// Polynomial `p`'s (basis, coefficient) terms.
fn poly_terms<'c>(coefs: &'c [(u32, i64)], ends: &[u32], p: usize) -> &'c [(u32, i64)] {
    let start = if p == 0 { 0 } else { ends[p - 1] as usize };
    &coefs[start..ends[p] as usize]
}

fn binomial(n: i128, k: u32) -> i128 {
    (0..k as i128).fold(1, |acc, i| acc * (n - i) / (i + 1))
}

/// Models' weights remembered per thread, by model and the axes' values they depend on.
const REMEMBERED_WEIGHTS: usize = 4096;
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

type WeightsKey = (u64, [i64; MAX_AXES]);

thread_local! {
    static WEIGHTS: std::cell::RefCell<FxMap<WeightsKey, u64>> =
        std::cell::RefCell::new(FxMap::default());
    /// The last weights found or remembered: a sweep's next candidates mostly share
    /// them (batch and seq vary fastest), found without hashing the key.
    static LAST_WEIGHTS: std::cell::Cell<Option<(WeightsKey, u64)>> =
        const { std::cell::Cell::new(None) };
    static SCRATCH: std::cell::RefCell<AxisScratch> =
        std::cell::RefCell::new(AxisScratch::default());
}

fn remembered_weights(key: &WeightsKey) -> Option<u64> {
    if let Some((last, w)) = LAST_WEIGHTS.get() {
        if last == *key {
            return Some(w);
        }
    }
    let w = WEIGHTS.with(|w| w.borrow().get(key).copied())?;
    LAST_WEIGHTS.set(Some((*key, w)));
    Some(w)
}

fn remember_weights(key: WeightsKey, weights: u64) {
    LAST_WEIGHTS.set(Some((key, weights)));
    WEIGHTS.with(|remembered| {
        let mut remembered = remembered.borrow_mut();
        if remembered.len() >= REMEMBERED_WEIGHTS {
            remembered.clear();
        }
        remembered.insert(key, weights);
    });
}
