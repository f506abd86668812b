//! Which of a fitted tape's marks another mark's total bounds at every candidate of the
//! fit's box, decided once at the fit, so that the timeline need not compare it
//! (`timeline::Builder`): a mark never above an earlier one, or always below a later
//! one, is never the earliest maximum.
//!
//! A mark's total is `Σ n·v` over its slots, each `v` a fitted polynomial `r` of the
//! axes, rounded to an allocator block or not, or a value the tape sets (the weights,
//! the optimizer's state and temporaries). For marks `a` and `b` with `d = b − a` per
//! slot, `r ≤ block(r) ≤ r + SLACK` gives `Σ d·v ≥ Σ d·r − SLACK·Σ_{d<0, rounded} |d|`:
//! a polynomial of the axes less a constant (a set value with `d > 0` adds at least 0;
//! one with `d < 0` decides nothing). The bound is checked at every point of a set on
//! which its minimum over the box's lattice lies: an axis along which every number has
//! degree 1 or less at its two ends (there the bound is affine), the others at each of
//! their lattice values. The figures stay byte-identical: a mark is dropped only where
//! the bound proves it at every candidate of the box.
use super::super::alloc::{MIN_BLOCK, SMALL_SIZE};
use super::axes::{AxisRange, MAX_AXES};
use super::record::Terms;

/// Most `block(r) − r`: `r` rounded up to `MIN_BLOCK`, then, for a large-pool block, up
/// to a segment no more than `SMALL_SIZE` larger (`alloc::block`).
const SLACK: i128 = (MIN_BLOCK - 1 + SMALL_SIZE) as i128;
/// Lattice values an axis of degree 2 may have, and points a check may visit, at most.
const MAX_VALUES: i64 = 16;
const MAX_POINTS: usize = 1024;

/// Each slot's fitted number at every point of the check set.
pub(crate) struct Dominance {
    points: usize,
    /// `values[slot · points + k]`; a slot the tape sets has none (`known` false).
    values: Vec<i128>,
    known: Vec<bool>,
    rounded: Vec<bool>,
}

impl Dominance {
    /// The check set of the box `axes` (Newton's origin at each axis's smallest value)
    /// and each slot's number there: `slots` gives per slot whether it is rounded to a
    /// block and whether the tape sets it, `poly(slot, t)` its polynomial at lattice
    /// coordinates `t`, `degree[slot]` its degree per axis. `None` where the set would
    /// be too large or a number does not fit.
    pub fn new(
        axes: &[AxisRange],
        slots: &[(bool, bool)],
        degree: &[[u8; MAX_AXES]],
        poly: impl Fn(usize, &[i64]) -> Option<i128>,
    ) -> Option<Dominance> {
        let mut per_axis: Vec<Vec<i64>> = Vec::with_capacity(axes.len());
        for (a, range) in axes.iter().enumerate() {
            let top = (range.max - range.min) / range.step;
            let quadratic = degree.iter().take(slots.len()).any(|d| d[a] > 1);
            per_axis.push(match (top, quadratic) {
                (0, _) => vec![0],
                (_, false) => vec![0, top],
                (_, true) if top < MAX_VALUES => (0..=top).collect(),
                _ => return None,
            });
        }
        let count: usize = per_axis.iter().map(Vec::len).product();
        if count > MAX_POINTS {
            return None;
        }
        let mut points: Vec<Vec<i64>> = vec![Vec::new()];
        for values in &per_axis {
            points = points
                .iter()
                .flat_map(|p| {
                    values.iter().map(move |&t| {
                        let mut q = p.clone();
                        q.push(t);
                        q
                    })
                })
                .collect();
        }
        let mut values = Vec::with_capacity(slots.len() * count);
        for (slot, &(_, set_by_tape)) in slots.iter().enumerate() {
            for p in &points {
                values.push(if set_by_tape { 0 } else { poly(slot, p)? });
            }
        }
        Some(Dominance {
            points: count,
            values,
            known: slots.iter().map(|s| !s.1).collect(),
            rounded: slots.iter().map(|s| s.0).collect(),
        })
    }

    /// Whether the total of `b` is at least that of `a` (above it, where `strict`) at
    /// every candidate of the box (both sorted by slot).
    pub fn above(&self, a: &Terms, b: &Terms, strict: bool) -> bool {
        let mut d: Vec<(usize, i128)> = Vec::with_capacity(a.len() + b.len());
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            let (slot, n) = match (a.get(i), b.get(j)) {
                (Some(&(sa, na)), Some(&(sb, _))) if sa < sb => {
                    i += 1;
                    (sa, -na)
                }
                (Some(&(sa, na)), Some(&(sb, nb))) if sa == sb => {
                    (i, j) = (i + 1, j + 1);
                    (sa, nb - na)
                }
                (_, Some(&(sb, nb))) => {
                    j += 1;
                    (sb, nb)
                }
                (Some(&(sa, na)), None) => {
                    i += 1;
                    (sa, -na)
                }
                (None, None) => break,
            };
            if n != 0 {
                d.push((slot as usize, n as i128));
            }
        }
        let mut slack = 0i128;
        for &(slot, n) in &d {
            if n < 0 && !self.known[slot] {
                return false;
            }
            if n < 0 && self.rounded[slot] {
                slack += -n * SLACK;
            }
        }
        let least = slack + strict as i128;
        (0..self.points).all(|k| {
            let mut sum = 0i128;
            for &(slot, n) in &d {
                if self.known[slot] {
                    sum += n * self.values[slot * self.points + k];
                }
            }
            sum >= least
        })
    }
}
