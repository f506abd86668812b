//! Activation checkpointing in the step's timeline: which nodes of a checkpointed region
//! the backward reruns, and what the rerun allocates (torch.utils.checkpoint,
//! non-reentrant).
use super::super::compiled::record::Term;
use super::super::ops::AmpCast;
use super::super::{mul, Graph, Op, Result};
use super::{block, Cat, Lowered, Mem, Temp, Val};

/// Where the recomputation of region `f..=l` ends: non-reentrant checkpointing stops
/// as soon as the region's last saved tensor has been saved again (torch.utils.
/// checkpoint's early stop: `_StopRecomputationError` from the pack hook). Returns that
/// node and whether it computes first: autograd saves an op's inputs before running it,
/// so a matmul-like op (Linear, Conv) saving its input stops the rerun before its own
/// product; an op saving what it computes (an output, a mask, statistics) runs. Nodes
/// after it are not rerun (a trailing residual add saves nothing).
pub(super) fn recompute_stop(
    g: &Graph,
    low: &[Lowered],
    f: usize,
    l: usize,
    amp: bool,
) -> (usize, bool) {
    for k in (f..=l).rev() {
        let (lw, c) = (&low[k], &low[k].cost);
        let amp_saved = amp
            && c.params
                .iter()
                .any(|p| matches!(p.amp_cast, AmpCast::Cast { saved: true }));
        if !lw.record
            || (c.save_inputs.is_empty() && c.saved.is_empty() && !c.save_output && !amp_saved)
        {
            continue;
        }
        let saves_inputs_only = matches!(
            g.nodes[k].op,
            Op::Linear(_) | Op::LoraLinear(_) | Op::Conv(_)
        );
        return (k, !saves_inputs_only);
    }
    (l, true)
}

/// Non-reentrant checkpointing: the first backward use of a region reruns its forward
/// (up to [`recompute_stop`]), keeping what autograd saves (now counted as saved) and
/// dropping the rest.
#[allow(clippy::too_many_arguments)]
pub(super) fn recompute(
    g: &Graph,
    low: &[Lowered],
    vals: &mut [Val],
    m: &mut Mem,
    f: usize,
    l: usize,
    n_in: usize,
    amp: bool,
) -> Result<()> {
    let (stop, stop_runs) = recompute_stop(g, low, f, l, amp);
    for (k, lw) in low.iter().enumerate().take(stop + 1).skip(f) {
        let c = &lw.cost;
        let id = n_in + k;
        let runs = k < stop || stop_runs;
        let mut temp = Temp::new();
        if amp {
            for (j, p) in c.params.iter().enumerate() {
                if let AmpCast::Cast { saved: true } = p.amp_cast {
                    m.alloc(Cat::AmpCopies, block(mul(p.numel, 2)?), Term::AmpCopy(k, j))?;
                }
            }
        }
        for (j, &s) in c.saved.iter().enumerate() {
            m.alloc(Cat::Activations, block(s), Term::Saved(k, j))?;
        }
        if runs {
            for (j, &t) in c.fwd_temp.iter().enumerate() {
                temp.add(m, block(t), Term::FwdTemp(k, j))?;
            }
        }
        if lw.record {
            for &i in &c.save_inputs {
                if let Some(&v) = g.nodes[k].inputs.get(i) {
                    let b = vals[v].base;
                    revive(vals, m, b)?;
                    vals[b].saves += 1;
                }
            }
            if c.save_output {
                let b = vals[id].base;
                revive(vals, m, b)?;
                vals[b].saves += 1;
            }
        }
        if runs && vals[id].base == id && !vals[id].alive {
            temp.add(m, vals[id].bytes, Term::Out(k))?;
        }
        m.mark(&temp)?;
    }
    Ok(())
}

fn revive(vals: &mut [Val], m: &mut Mem, b: usize) -> Result<()> {
    if !vals[b].alive && vals[b].base == b && vals[b].bytes > 0 {
        vals[b].alive = true;
        let t = if b < m.n_in {
            Term::Input(b)
        } else {
            Term::Out(b - m.n_in)
        };
        m.alloc(Cat::Activations, vals[b].bytes, t)?;
    }
    Ok(())
}
