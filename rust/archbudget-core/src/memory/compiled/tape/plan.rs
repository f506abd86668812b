//! How a fitted model (`axes`) fills a tape's values straight from its polynomials at a
//! candidate: no raw vector gathered, no merged slot copied.
use super::super::super::alloc::block;
use super::super::super::{MemoryReport, RunSettings};
use super::{Counts, Scratch, Tape};

impl Tape {
    /// How a fitted model fills the values [`Tape::finish_planned`] reads straight
    /// from its polynomials (`poly_of`: each raw number's polynomial): every slot the
    /// timeline, the weights' construction and the optimizer read (and the count sums,
    /// where `with_counts` is false: the caller has no polynomial of its own for them),
    /// each from its polynomial, and the guards' counts as polynomials. No raw vector
    /// is gathered and no copy made per candidate.
    pub(crate) fn plan(&self, poly_of: &[u32], with_counts: bool) -> Plan {
        let mut read = vec![false; self.slots.len()];
        let optimizer = self.param_blocks.iter().chain(&self.param_grads);
        let counts = [
            &self.params,
            &self.trainable,
            &self.buffers,
            &self.flops_fwd,
            &self.flops_bwd,
        ];
        let counted = counts.into_iter().flatten().filter(|_| !with_counts);
        for slot in self
            .timeline
            .slots()
            .chain(self.construct.iter().map(|c| c.0 as usize))
            .chain(optimizer.chain(counted).map(|t| t.0 as usize))
        {
            read[slot] = true;
        }
        let (mut plain, mut rounded, mut emptiness) = (Vec::new(), Vec::new(), Vec::new());
        for (i, &read) in read.iter().enumerate() {
            // a step constant is set by `conclude`
            if self.step_constants.contains(&(i as u32)) {
                continue;
            }
            if self.decides[i] {
                emptiness.push((poly_of[i], self.zero[i]));
            }
            if read {
                let to = if self.rounded[i] {
                    &mut rounded
                } else {
                    &mut plain
                };
                to.push((i as u32, poly_of[i]));
            }
        }
        let n = self.slots.len();
        let guard = |g: u32| poly_of[n + g as usize];
        Plan {
            plain,
            rounded,
            emptiness,
            // a guard between one polynomial and itself holds everywhere
            same_numel: self
                .same_numel
                .iter()
                .map(|&(a, b)| (guard(a), guard(b)))
                .filter(|(a, b)| a != b)
                .collect(),
            views: self
                .views
                .iter()
                .map(|&(v, src, partial)| (guard(v), guard(src), partial))
                .filter(|&(v, src, partial)| v != src || partial)
                .collect(),
        }
    }

    /// [`Tape::finish`] from a fitted model's polynomials at a candidate (`polys`),
    /// filled as `plan` says.
    pub(crate) fn finish_planned(
        &self,
        plan: &Plan,
        polys: &[u64],
        run: &RunSettings,
        weights: &mut Option<u64>,
        counts: Option<&Counts>,
        s: &mut Scratch,
    ) -> Option<MemoryReport> {
        let at = |p: u32| polys[p as usize];
        if plan.same_numel.iter().any(|&(a, b)| at(a) != at(b))
            || plan
                .views
                .iter()
                .any(|&(v, src, partial)| (at(v) != at(src)) != partial)
        {
            return None;
        }
        if plan
            .emptiness
            .iter()
            .any(|&(poly, was_zero)| (at(poly) == 0) != was_zero)
        {
            return None;
        }
        // slots no plan entry fills are read by nothing
        s.values.resize(self.slots.len(), 0);
        let values = &mut s.values[..];
        let mut largest = 0;
        for &(slot, poly) in &plan.plain {
            let v = at(poly);
            largest = largest.max(v);
            values[slot as usize] = v;
        }
        for &(slot, poly) in &plan.rounded {
            let v = block(at(poly));
            largest = largest.max(v);
            values[slot as usize] = v;
        }
        self.conclude(run, weights, counts, largest, s)
    }
}

/// How a fitted model fills a tape's values ([`Tape::plan`]): (slot, polynomial) per
/// slot read, its value taken as it is or rounded to an allocator block; the slots
/// whose emptiness decided the recording, (polynomial, empty there); and the guards'
/// counts as pairs of polynomials.
#[derive(Debug)]
pub(crate) struct Plan {
    plain: Vec<(u32, u32)>,
    rounded: Vec<(u32, u32)>,
    emptiness: Vec<(u32, bool)>,
    same_numel: Vec<(u32, u32)>,
    views: Vec<(u32, u32, bool)>,
}

impl Plan {
    /// The polynomials the plan reads.
    pub(crate) fn polys(&self) -> impl Iterator<Item = u32> + '_ {
        let guards = self.same_numel.iter().map(|&(a, b)| [a, b]);
        let views = self.views.iter().map(|&(a, b, _)| [a, b]);
        let filled = self.plain.iter().chain(&self.rounded).map(|f| f.1);
        let emptiness = self.emptiness.iter().map(|e| e.0);
        filled.chain(emptiness).chain(guards.chain(views).flatten())
    }
}
