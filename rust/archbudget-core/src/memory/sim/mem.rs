//! The step's running state per category: what is charged and freed, the marks of the
//! running maximum, and the report made from them.
use super::super::compiled::record::{Recorder, Term};
use super::super::compiled::trace::{Phase, Trace};
use super::super::{add, Breakdown, MemoryReport, Result};

#[derive(Clone, Copy)]
pub(super) enum Cat {
    Weights = 0,
    Optimizer,
    Gradients,
    Inputs,
    Activations,
    ActivationGrads,
    AmpCopies,
    Transient,
}
pub(super) const NCAT: usize = 8;

pub(super) struct Mem<'t> {
    pub(super) cur: [u64; NCAT],
    pub(super) peak: u64,
    pub(super) at_peak: [u64; NCAT],
    /// The compiled model's recording of every mark (`compiled::trace`), when asked.
    pub(super) trace: Option<&'t mut Trace>,
    /// The symbolic tape's recording of every charge by its source (`compiled::record`).
    pub(super) rec: Option<&'t mut Recorder>,
    pub(super) phase: Phase,
    pub(super) node: usize,
    /// Inputs of the graph (value ids below are inputs, the rest node outputs).
    pub(super) n_in: usize,
}

impl Mem<'_> {
    /// Charges `b` bytes, which term `t` names, to category `c`.
    pub(super) fn alloc(&mut self, c: Cat, b: u64, t: Term) -> Result<()> {
        self.cur[c as usize] = add(self.cur[c as usize], b)?;
        if let Some(r) = self.rec.as_deref_mut() {
            r.alloc(c as usize, t);
        }
        Ok(())
    }
    /// Frees every term of `all`.
    pub(super) fn free_all(&mut self, c: Cat, all: &Temp) {
        self.cur[c as usize] = self.cur[c as usize].saturating_sub(all.bytes);
        if let Some(r) = self.rec.as_deref_mut() {
            for &t in &all.terms {
                r.free(c as usize, t);
            }
        }
    }
    pub(super) fn free(&mut self, c: Cat, b: u64, t: Term) {
        self.cur[c as usize] = self.cur[c as usize].saturating_sub(b);
        if let Some(r) = self.rec.as_deref_mut() {
            r.free(c as usize, t);
        }
    }
    /// Records a candidate peak with the transients `temp` alive on top of the current
    /// state.
    pub(super) fn mark(&mut self, temp: &Temp) -> Result<()> {
        let transient = temp.bytes;
        let mut total = transient;
        for v in self.cur {
            total = add(total, v)?;
        }
        if let Some(t) = self.trace.as_deref_mut() {
            t.mark(self.phase, self.node, self.cur, transient);
        }
        if let Some(r) = self.rec.as_deref_mut() {
            r.mark(&temp.terms);
        }
        if total > self.peak {
            self.peak = total;
            self.at_peak = self.cur;
            self.at_peak[Cat::Transient as usize] =
                add(self.at_peak[Cat::Transient as usize], transient)?;
        }
        Ok(())
    }
}

/// The transients of the op running at a mark: their bytes, and (when recording) the
/// term naming each.
#[derive(Default)]
pub(super) struct Temp {
    pub(super) bytes: u64,
    pub(super) terms: Vec<Term>,
}

impl Temp {
    pub(super) fn new() -> Self {
        Temp::default()
    }
    pub(super) fn add(&mut self, m: &Mem, b: u64, t: Term) -> Result<()> {
        self.bytes = add(self.bytes, b)?;
        if m.rec.is_some() {
            self.terms.push(t);
        }
        Ok(())
    }
    /// Adds every term of `other`.
    pub(super) fn extend(&mut self, other: &Temp) -> Result<()> {
        self.bytes = add(self.bytes, other.bytes)?;
        self.terms.extend_from_slice(&other.terms);
        Ok(())
    }
}

pub(super) struct Counts {
    pub(super) params: u64,
    pub(super) trainable: u64,
    pub(super) buffers: u64,
    pub(super) flops_fwd: u64,
}

pub(super) fn report(m: Mem, c: Counts, flops_fwd_bwd: u64) -> Result<MemoryReport> {
    let p = m.at_peak;
    let Counts {
        params,
        trainable,
        buffers,
        flops_fwd,
    } = c;
    Ok(MemoryReport {
        peak_bytes: m.peak,
        params,
        trainable_params: trainable,
        buffers,
        breakdown: breakdown(p),
        flops_fwd,
        flops_fwd_bwd,
        decode: None,
    })
}

/// The breakdown of a state of the categories (`Mem::at_peak`, `compiled::trace::Mark`).
pub(crate) fn breakdown(p: [u64; NCAT]) -> Breakdown {
    Breakdown {
        weights: p[Cat::Weights as usize],
        gradients: p[Cat::Gradients as usize],
        optimizer: p[Cat::Optimizer as usize],
        activations: p[Cat::Activations as usize],
        activation_grads: p[Cat::ActivationGrads as usize],
        inputs: p[Cat::Inputs as usize],
        autocast_copies: p[Cat::AmpCopies as usize],
        transients: p[Cat::Transient as usize],
    }
}
