//! `archbudget fit`: the largest batch (longest sequence, most new tokens) or the fewest
//! GPUs whose predicted peak fits a budget, by search over the memory model.
//!
//! # What is returned
//!
//! The peak grows with batch, sequence and new tokens (and falls with GPUs under ZeRO)
//! only up to the caching allocator's rounding, so "the largest value that fits" need not
//! be one boundary. The search gallops from the smallest value (steps 1, 2, 4, ...) until
//! a value does not fit, then bisects between the last value that fit and it. Its answer
//! `v` always satisfies
//!
//! `peak(v) <= budget < peak(v + 1)` (for `gpus`: `peak(v) <= budget < peak(v − 1)`),
//!
//! a crossing of the budget. Where the peak is monotonic, as it is but for a few
//! allocator blocks, that crossing is the only one and `v` is the largest (fewest) value
//! that fits. `v + 1` is not probed where `v` is the axis's limit (`next_peak_bytes` is
//! then `None`); a peak beyond 64 bits counts as over any budget.
use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::formats::Prepared;
use crate::memory::{MemoryReport, Mode, RunSettings};

/// The setting `fit` varies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vary {
    Batch,
    /// Tokens per sequence (the prompt in generate mode).
    Seq,
    /// Generate mode: tokens decoded after the prompt.
    NewTokens,
    /// Data-parallel GPUs: the fewest that fit, with the run's ZeRO stage.
    Gpus,
}

/// Largest batch, sequence or new-token count the search considers: beyond any card.
pub const AXIS_LIMIT: u64 = 1 << 40;
/// Most GPUs the search considers.
pub const GPU_LIMIT: u64 = 1 << 20;

impl Vary {
    pub fn parse(s: &str) -> Result<Vary> {
        match s {
            "batch" => Ok(Vary::Batch),
            "seq" => Ok(Vary::Seq),
            "new-tokens" | "new_tokens" => Ok(Vary::NewTokens),
            "gpus" => Ok(Vary::Gpus),
            _ => Err(Error::invalid(
                "--vary",
                format!("'{s}' is not one of batch, seq, new-tokens, gpus"),
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Vary::Batch => "batch",
            Vary::Seq => "seq",
            Vary::NewTokens => "new-tokens",
            Vary::Gpus => "gpus",
        }
    }
}

/// The answer of `fit` (SPEC.md: `fit --format json`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fit {
    pub vary: Vary,
    pub value: u64,
    /// `memory` at `value` with the same settings.
    pub report: MemoryReport,
    pub budget_bytes: u64,
    /// The peak one step beyond `value` (`value + 1`; `value − 1` for gpus); `None` where
    /// `value` is the axis's limit.
    pub next_peak_bytes: Option<u64>,
    /// The run settings at `value` (seq included).
    pub run: RunSettings,
}

/// The `v` in `lo..=limit` with `pred(v)` and not `pred(v + 1)`, or `limit`, given
/// `pred(lo)`: gallop from `lo` with doubling steps until `pred` fails, then bisect.
pub fn last_true(lo: u64, limit: u64, mut pred: impl FnMut(u64) -> Result<bool>) -> Result<u64> {
    let (mut good, mut step) = (lo, 1u64);
    let mut bad = loop {
        if good >= limit {
            return Ok(limit);
        }
        let probe = good.saturating_add(step).min(limit);
        if pred(probe)? {
            good = probe;
            step = step.saturating_mul(2);
        } else {
            break probe;
        }
    };
    while bad - good > 1 {
        let mid = good + (bad - good) / 2;
        if pred(mid)? {
            good = mid;
        } else {
            bad = mid;
        }
    }
    Ok(good)
}

/// Peaks by value, each simulated once; an overflowing peak is `None` (over any budget).
struct Peaks<'a> {
    model: &'a Prepared,
    run: RunSettings,
    seq: Option<u64>,
    vary: Vary,
    seen: HashMap<u64, Option<MemoryReport>>,
}

impl Peaks<'_> {
    fn settings(&self, v: u64) -> (RunSettings, Option<u64>) {
        let mut run = self.run;
        let mut seq = self.seq;
        match self.vary {
            Vary::Batch => run.batch = v,
            Vary::Seq => seq = Some(v),
            Vary::NewTokens => run.new_tokens = v,
            Vary::Gpus => run.gpus = v,
        }
        (run, seq)
    }

    fn at(&mut self, v: u64) -> Result<Option<MemoryReport>> {
        if let Some(r) = self.seen.get(&v) {
            return Ok(*r);
        }
        let (run, seq) = self.settings(v);
        let report = match self.model.memory(&run, seq) {
            Ok(r) => Some(r),
            Err(Error::Overflow { .. }) => None,
            Err(e) => return Err(e),
        };
        self.seen.insert(v, report);
        Ok(report)
    }

    fn fits(&mut self, v: u64, budget: u64) -> Result<bool> {
        Ok(self.at(v)?.is_some_and(|r| r.peak_bytes <= budget))
    }
}

/// The largest `vary` (fewest GPUs) at which `model` run as `run` (with `seq`) fits
/// `budget` bytes of peak; see the module's "What is returned". Even the smallest value
/// not fitting is [`Error::DoesNotFit`].
pub fn fit(
    model: &Prepared,
    run: &RunSettings,
    seq: Option<u64>,
    vary: Vary,
    budget: u64,
    location: &str,
) -> Result<Fit> {
    let (min, limit) = axis(model, run, seq, vary, location)?;
    let mut peaks = Peaks {
        model,
        run: *run,
        seq,
        vary,
        seen: HashMap::new(),
    };
    let human = |b: u64| format!("{:.2} GiB", b as f64 / (1u64 << 30) as f64);
    // below stage 3 some state stays whole on every GPU, however many share the work
    let hint = if vary == Vary::Gpus && run.zero_stage < 3 {
        format!(
            "; ZeRO stage {} keeps some state whole on every GPU (try --zero-stage 3)",
            run.zero_stage
        )
    } else {
        String::new()
    };
    let no_fit = |value: u64, peak: Option<MemoryReport>| {
        let peak = peak.map_or("beyond 64 bits".into(), |r| {
            format!("{} ({} bytes)", human(r.peak_bytes), r.peak_bytes)
        });
        Error::DoesNotFit {
            location: location.to_string(),
            message: format!(
                "does not fit even at {} {value}: peak {peak} > budget {} ({budget} bytes){hint}",
                vary.name(),
                human(budget)
            ),
        }
    };
    let (value, next) = if vary == Vary::Gpus {
        if peaks.fits(min, budget)? {
            (min, None)
        } else {
            let last_over = last_true(min, limit, |v| Ok(!peaks.fits(v, budget)?))?;
            if last_over == limit {
                let peak = peaks.at(limit)?;
                return Err(no_fit(limit, peak));
            }
            (last_over + 1, Some(last_over))
        }
    } else {
        if !peaks.fits(min, budget)? {
            let peak = peaks.at(min)?;
            return Err(no_fit(min, peak));
        }
        let v = last_true(min, limit, |v| peaks.fits(v, budget))?;
        (v, (v < limit).then_some(v + 1))
    };
    let report = peaks
        .at(value)?
        .ok_or_else(|| Error::Internal("fit: a fitting value overflowed".into()))?;
    let next_peak_bytes = match next {
        Some(n) => peaks.at(n)?.map(|r| r.peak_bytes),
        None => None,
    };
    let (mut run, seq) = peaks.settings(value);
    run.seq = seq.unwrap_or(run.seq);
    Ok(Fit {
        vary,
        value,
        report,
        budget_bytes: budget,
        next_peak_bytes,
        run,
    })
}

/// The smallest and largest value `vary` may take for this model and run.
fn axis(
    model: &Prepared,
    run: &RunSettings,
    seq: Option<u64>,
    vary: Vary,
    location: &str,
) -> Result<(u64, u64)> {
    let max_seq = model.max_positions().unwrap_or(AXIS_LIMIT);
    match vary {
        Vary::Batch => Ok((1, AXIS_LIMIT)),
        Vary::Gpus => Ok((1, GPU_LIMIT)),
        Vary::Seq if !model.takes_seq() => Err(Error::invalid(
            location,
            "--vary seq: the model's sequence is fixed (no unknown time axis, or a vision transformer)",
        )),
        Vary::Seq => {
            let reserved = if run.mode == Mode::Generate { run.new_tokens } else { 0 };
            match max_seq.checked_sub(reserved) {
                Some(limit) if limit >= 1 => Ok((1, limit)),
                _ => Err(Error::invalid(location, format!("--new-tokens {reserved} leaves no room for a prompt within the model's {max_seq} positions"))),
            }
        }
        Vary::NewTokens if run.mode != Mode::Generate => Err(Error::invalid(
            "--vary new-tokens",
            "needs --mode generate",
        )),
        Vary::NewTokens => {
            let prompt = seq.ok_or_else(|| Error::invalid(location, "--vary new-tokens needs --seq (the prompt)"))?;
            match max_seq.checked_sub(prompt) {
                Some(limit) if limit >= 1 => Ok((1, limit)),
                _ => Err(Error::invalid(location, format!("--seq {prompt} leaves no room for new tokens within the model's {max_seq} positions"))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::last_true;

    #[test]
    fn last_true_finds_the_crossing() {
        for limit in [1u64, 2, 7, 100, 1 << 40] {
            for edge in [1u64, 2, 3, 50, 99, 1 << 39] {
                let v = last_true(1, limit, |x| Ok(x <= edge)).unwrap();
                assert_eq!(v, edge.min(limit), "limit {limit} edge {edge}");
            }
        }
    }
}
