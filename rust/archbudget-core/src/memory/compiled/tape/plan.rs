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
        let mut fill = Vec::new();
        for (i, &read) in read.iter().enumerate() {
            // a step constant is set by `conclude`; an emptiness is guarded where decided
            if self.step_constants.contains(&(i as u32)) || !(read || self.decides[i]) {
                continue;
            }
            let flags = (self.rounded[i] as u8 * ROUNDED)
                | (self.decides[i] as u8 * DECIDES)
                | (self.zero[i] as u8 * WAS_ZERO);
            fill.push((i as u32, poly_of[i], flags));
        }
        let n = self.slots.len();
        let guard = |g: u32| poly_of[n + g as usize];
        Plan {
            fill,
            same_numel: self
                .same_numel
                .iter()
                .map(|&(a, b)| (guard(a), guard(b)))
                .collect(),
            views: self
                .views
                .iter()
                .map(|&(v, src, partial)| (guard(v), guard(src), partial))
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
        // slots no plan entry fills are read by nothing
        s.values.resize(self.slots.len(), 0);
        let mut largest = 0;
        for &(slot, poly, flags) in &plan.fill {
            let r = polys[poly as usize];
            if flags & DECIDES != 0 && (r == 0) != (flags & WAS_ZERO != 0) {
                return None;
            }
            let v = if flags & ROUNDED != 0 { block(r) } else { r };
            largest = largest.max(v);
            s.values[slot as usize] = v;
        }
        self.conclude(run, weights, counts, largest, s)
    }
}

/// How a fitted model fills a tape's values ([`Tape::plan`]): (slot, polynomial,
/// flags) per slot read, and the guards' counts as pairs of polynomials.
#[derive(Debug)]
pub(crate) struct Plan {
    fill: Vec<(u32, u32, u8)>,
    same_numel: Vec<(u32, u32)>,
    views: Vec<(u32, u32, bool)>,
}

impl Plan {
    /// The polynomials the plan reads.
    pub(crate) fn polys(&self) -> impl Iterator<Item = u32> + '_ {
        let guards = self.same_numel.iter().map(|&(a, b)| [a, b]);
        let views = self.views.iter().map(|&(a, b, _)| [a, b]);
        self.fill
            .iter()
            .map(|f| f.1)
            .chain(guards.chain(views).flatten())
    }
}

/// A [`Plan`] slot's flags: rounded to an allocator block, its emptiness guarded, and
/// empty where recorded.
const ROUNDED: u8 = 1;
const DECIDES: u8 = 2;
const WAS_ZERO: u8 = 4;
