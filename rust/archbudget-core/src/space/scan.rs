//! One pass over candidates: constraints, the params budget and the lower bound on the
//! peak (`memory::bound`), then either the full metrics of each survivor, or with a
//! [`Prerank`] the best `k` survivors by a key known before the memory model runs.
//!
//! A ranked sweep with a memory or FLOPs budget ([`lazy_top`]) evaluates those best in
//! rank order until `k` pass, taking the next best in a further pass if too few did.
//! It keeps exactly the rows the evaluation of every candidate would keep: the cheap
//! cuts reject only candidates the full check rejects too (the bound is at most the
//! simulator's peak), and a candidate after the k-th that passes ranks after all k.
//! Ranked by `peak_bytes` ascending, candidates are evaluated in the order of their
//! bounds until the next bound is above the k-th peak found: every candidate left has
//! a peak of at least its bound, so none of them can enter.
use std::cmp::Ordering;

use rayon::prelude::*;

use super::cancel::POLL_EVERY;
use super::enumerate::{
    blocks, note_constraint_error, note_invalid, within_params, within_rest, Row, Stats,
    SweepOptions,
};
use super::family::{Evaluator, Metrics};
use super::rank::Ranker;
use crate::error::Result;

/// Ranking on a key known before the memory model runs. Only the best `k` of a block
/// get their full metrics.
#[derive(Clone, Copy)]
pub(super) struct Prerank {
    pub(super) k: usize,
    pub(super) key: PreKey,
    pub(super) descending: bool,
    /// Only candidates ranking strictly after this (key, index): a further pass.
    pub(super) after: Option<(u64, u64)>,
}

/// What a [`Prerank`] ranks by.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum PreKey {
    Params,
    TrainableParams,
    Index,
    /// The lower bound on the peak, for a ranking by `peak_bytes` ascending: a candidate
    /// whose bound is above the k-th peak found cannot enter.
    PeakBound,
}

impl Prerank {
    /// Whether key `a` ranks strictly before key `b` (ties go to the smaller index,
    /// which within a block is the earlier one).
    fn before(&self, a: u64, b: u64) -> bool {
        if self.descending {
            a > b
        } else {
            a < b
        }
    }

    /// The ranking order of (key, index) pairs: the key, then the index.
    fn order(&self, x: &(u64, u64), y: &(u64, u64)) -> Ordering {
        let by_key = if self.descending {
            y.0.cmp(&x.0)
        } else {
            x.0.cmp(&y.0)
        };
        by_key.then(x.1.cmp(&y.1))
    }

    fn admits(&self, key: u64, index: u64) -> bool {
        self.after
            .is_none_or(|after| self.order(&(key, index), &after) == Ordering::Greater)
    }

    /// Keep the best `k` of (key, index) pairs; returns the worst kept key once full.
    fn trim(&self, pre: &mut Vec<(u64, u64)>) -> Option<u64> {
        let order = |x: &(u64, u64), y: &(u64, u64)| self.order(x, y);
        if pre.len() > self.k {
            pre.select_nth_unstable_by(self.k, order);
            pre.truncate(self.k);
        }
        pre.sort_unstable_by(order);
        (pre.len() == self.k).then(|| pre[self.k - 1].0)
    }
}

/// What a block (or a reduction of blocks) keeps: full rows, or with a prerank the
/// (key, index) pairs whose metrics are computed later, for the final top-k only.
#[derive(Default)]
pub(super) struct Block {
    pub(super) rows: Vec<Row>,
    pub(super) pre: Vec<(u64, u64)>,
    pub(super) stats: Stats,
}

/// Candidates `start..stop` in blocks on every core, reduced as blocks finish, so that a
/// ranked sweep holds O(threads × k) rows however large the space; rayon's reduce keeps
/// blocks in index order.
pub(super) fn scan(
    eval: &Evaluator,
    opts: &SweepOptions,
    ranker: &Ranker,
    prerank: Option<Prerank>,
    (start, stop): (u64, u64),
    record_progress: bool,
) -> Result<Block> {
    blocks(start, stop)
        .map(|(a, b)| {
            if let Some(cancel) = &opts.cancel {
                cancel.check()?;
            }
            let mut block = evaluate_block(eval, opts, prerank, a, b)?;
            if let (Some(progress), true) = (&opts.progress, record_progress) {
                progress.record(&block.stats);
            }
            ranker.shrink_part(opts, &mut block.rows);
            Ok(block)
        })
        .try_reduce(Block::default, |mut left, right| {
            left.rows.extend(right.rows);
            left.pre.extend(right.pre);
            if opts.top.is_some() || opts.pareto {
                ranker.shrink_part(opts, &mut left.rows);
            }
            if let Some(p) = prerank {
                p.trim(&mut left.pre);
            }
            Ok(Block {
                stats: left.stats.merge(right.stats),
                ..left
            })
        })
}

/// Candidates a pass ranks at least: evaluation stops at the k-th that passes whatever
/// the pass holds, so a generous pass costs only its (key, index) pairs, and saves
/// passes over the space when many candidates fail their full check.
const FIRST_PASS: usize = 4096;
/// Candidates evaluated at once per core while looking for the k-th that passes.
const EVALUATE_AT_ONCE: usize = 64;

/// The best `p.k` candidates of `start..stop` in rank order that pass every budget, and
/// the statistics of the whole range (see the module's doc for why this equals
/// evaluating every candidate).
pub(super) fn lazy_top(
    eval: &Evaluator,
    opts: &SweepOptions,
    ranker: &Ranker,
    p: Prerank,
    range: (u64, u64),
) -> Result<(Vec<Row>, Stats)> {
    let space = eval.space();
    // no capacity from `k`: `--top` may exceed any number of rows (2^62 keeps them all)
    let mut rows: Vec<Row> = Vec::new();
    let mut stats: Option<Stats> = None;
    // without a full-check budget every candidate ranked passes (bar invalid ones)
    let filtered = opts.max_memory.is_some() || opts.max_flops.is_some();
    let by_bound = p.key == PreKey::PeakBound;
    let mut pass = Prerank {
        k: if filtered || by_bound {
            p.k.max(FIRST_PASS)
        } else {
            p.k
        },
        ..p
    };
    let threads = rayon::current_num_threads();
    loop {
        // Later passes repeat the first one's cuts: its statistics alone count.
        let block = scan(eval, opts, ranker, Some(pass), range, stats.is_none())?;
        let stats = stats.get_or_insert(block.stats);
        let mut rest = &block.pre[..];
        while !rest.is_empty() {
            if by_bound && rows.len() >= p.k {
                // every candidate left has a peak of at least its bound, the first the
                // smallest: once that is above the k-th peak found, none can enter
                ranker.keep_top(&mut rows, p.k);
                if rest[0].0 > rows[p.k - 1].metrics.peak_bytes {
                    return Ok((rows, std::mem::take(stats)));
                }
            }
            // no more at once than still needed (all may pass), but every core busy
            let needed = if by_bound {
                usize::MAX
            } else {
                p.k - rows.len()
            };
            let (chunk, after) = rest.split_at(
                needed
                    .clamp(threads, EVALUATE_AT_ONCE * threads)
                    .min(rest.len()),
            );
            rest = after;
            let evaluated: Vec<(u64, Result<Metrics>)> = chunk
                .par_iter()
                .map(|&(_, index)| {
                    let mut digits = vec![0; space.axes.len()];
                    space.digits(index, &mut digits);
                    let metrics = match &opts.cancel {
                        Some(cancel) => cancel.check().and_then(|()| eval.metrics(&digits)),
                        None => eval.metrics(&digits),
                    };
                    (index, metrics)
                })
                .collect();
            for (index, metrics) in evaluated {
                match metrics {
                    Ok(metrics) if within_rest(opts, &metrics) => rows.push(Row { index, metrics }),
                    Ok(_) => stats.cut_by_budgets += 1,
                    Err(e) => note_invalid(stats, e, space, index)?,
                }
                if rows.len() == p.k && !by_bound {
                    return Ok((rows, std::mem::take(stats)));
                }
            }
        }
        if block.pre.len() < pass.k {
            return Ok((rows, std::mem::take(stats)));
        }
        // Too few passed: the next best, as many again as the pass rate so far says
        // are needed (at least 4 times this pass, so that few passes are needed).
        let evaluated = block.pre.len();
        pass = Prerank {
            k: pass
                .k
                .saturating_mul(4)
                .max(evaluated.saturating_mul(p.k) / rows.len().max(1)),
            after: block.pre.last().copied(),
            ..pass
        };
    }
}

/// Evaluate candidates `a..b`: constraints, the params budget, the bound on the peak,
/// then full metrics (of all survivors, or with `prerank` of the block's best k only).
// `run[j]` pairs with digit `start + j`: an index loop reads clearest here
#[allow(clippy::needless_range_loop)]
fn evaluate_block(
    eval: &Evaluator,
    opts: &SweepOptions,
    prerank: Option<Prerank>,
    a: u64,
    b: u64,
) -> Result<Block> {
    let poll = |j: usize| match &opts.cancel {
        Some(cancel) if j as u64 % POLL_EVERY == 0 => cancel.check(),
        _ => Ok(()),
    };
    let space = eval.space();
    let mut digits = vec![0; space.axes.len()];
    let mut rows = Vec::new();
    let mut pre: Vec<(u64, u64)> = Vec::new();
    let mut threshold: Option<u64> = None;
    let mut stats = Stats {
        candidates: b - a,
        ..Default::default()
    };
    let inner_len = space.axes.last().map_or(1, |axis| axis.values.len());
    let mut run = Vec::new();
    let mut index = a;
    // The params-only kernel applies where nothing but params decides (no bound to take).
    let params_only = space.constraints.is_empty() && opts.max_memory.is_none();
    // Runs along the innermost axis share every other digit: one lookup per run.
    while index < b {
        space.digits(index, &mut digits);
        let start = digits.last().copied().unwrap_or(0);
        let len = ((inner_len - start) as u64).min(b - index) as usize;
        let fast = params_only && eval.params_run(&digits, len, &mut run);
        let first_pass = prerank.is_some_and(|p| p.after.is_none());
        if let (true, true, Some(p)) = (
            fast,
            first_pass,
            prerank.filter(|p| matches!(p.key, PreKey::Params | PreKey::TrainableParams)),
        ) {
            // The hot loop of a ranked sweep: budget, threshold, keep — params only
            // (trainable equals params where the run kernel applies).
            for (j, &params) in run.iter().enumerate() {
                poll(j)?;
                if !within_params(opts, params) {
                    stats.cut_by_budgets += 1;
                } else if threshold.is_none_or(|t| p.before(params, t)) {
                    pre.push((params, index + j as u64));
                    if pre.len() >= 2 * p.k.max(512) {
                        threshold = p.trim(&mut pre);
                    }
                }
            }
            index += len as u64;
            continue;
        }
        for j in 0..len {
            poll(j)?;
            let index = index + j as u64;
            if let Some(d) = digits.last_mut() {
                *d = start + j;
            }
            if !fast && !space.constraints.is_empty() {
                match space.constraints_hold(&digits) {
                    Ok(true) => {}
                    Ok(false) => {
                        stats.cut_by_constraints += 1;
                        continue;
                    }
                    Err(e) => {
                        note_constraint_error(&mut stats, e, space, index)?;
                        continue;
                    }
                }
            }
            let counted = if fast {
                Ok((run[j], run[j]))
            } else {
                eval.params(&digits)
            };
            let (params, trainable) = match counted {
                Ok(p) => p,
                Err(e) => {
                    note_invalid(&mut stats, e, space, index)?;
                    continue;
                }
            };
            if !within_params(opts, params) {
                stats.cut_by_budgets += 1;
                continue;
            }
            // the bound, computed once whether the key or the budget needs it
            let mut bound = None;
            let key = match prerank.map(|p| p.key) {
                None => None,
                Some(PreKey::Params) => Some(params),
                Some(PreKey::TrainableParams) => Some(trainable),
                Some(PreKey::Index) => Some(index),
                Some(PreKey::PeakBound) => match eval.peak_bound(&digits) {
                    Ok(b) => {
                        bound = Some(b);
                        bound
                    }
                    Err(e) => {
                        note_invalid(&mut stats, e, space, index)?;
                        continue;
                    }
                },
            };
            if let (Some(p), Some(key)) = (prerank, key) {
                // A key no better than the k-th kept cannot enter (its index is larger),
                // nor one a former pass took.
                if threshold.is_some_and(|t| !p.before(key, t)) || !p.admits(key, index) {
                    continue;
                }
            }
            if let Some(max) = opts.max_memory {
                match bound.map_or_else(|| eval.peak_bound(&digits), Ok) {
                    Ok(bound) if bound > max => {
                        stats.cut_by_budgets += 1;
                        continue;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        note_invalid(&mut stats, e, space, index)?;
                        continue;
                    }
                }
            }
            if let (Some(p), Some(key)) = (prerank, key) {
                pre.push((key, index));
                if pre.len() >= p.k.max(512).saturating_mul(2) {
                    threshold = p.trim(&mut pre);
                }
                continue;
            }
            match eval.metrics(&digits) {
                Ok(m) if within_rest(opts, &m) => rows.push(Row { index, metrics: m }),
                Ok(_) => stats.cut_by_budgets += 1,
                Err(e) => note_invalid(&mut stats, e, space, index)?,
            }
        }
        index += len as u64;
    }
    if let Some(p) = prerank {
        p.trim(&mut pre);
    }
    Ok(Block { rows, pre, stats })
}
