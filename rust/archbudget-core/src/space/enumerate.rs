//! The enumerator: rayon workers take index ranges of the mixed-radix product, evaluate
//! constraints, cheap budgets (params, the bound on the peak) and then the full metrics
//! of the survivors (`scan`), and keep either all survivors, a bounded top-K, or a
//! Pareto front per block, merged at the end. Only the survivors become columns.
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering as Atomic};
use std::sync::Arc;

use rayon::prelude::*;

use super::cancel::{Cancel, POLL_EVERY};
use super::family::{Evaluator, Metrics, METRIC_NAMES};
use super::rank::{Ranker, SortKey};
use super::scan::{self, PreKey, Prerank};
use super::timing;
use super::{space_err, Scalar, Space};
use crate::error::{Error, Result};
use crate::gpu::{self, GpuPlan};

/// Budgets and ranking of a sweep.
#[derive(Debug, Clone, Default)]
pub struct SweepOptions {
    pub max_params: Option<u64>,
    pub min_params: Option<u64>,
    pub max_memory: Option<u64>,
    /// On `flops_fwd_bwd` (the cost of a training step).
    pub max_flops: Option<u64>,
    /// A metric column or an axis name.
    pub sort: Option<String>,
    pub descending: bool,
    pub top: Option<usize>,
    /// Keep the candidates no other beats on params, peak memory and FLOPs together.
    pub pareto: bool,
    /// Only candidates `start..stop` of the space (a shard, or a chunk of a stream).
    pub range: Option<(u64, u64)>,
    /// Counters another thread may read while the sweep runs (a progress bar).
    pub progress: Option<Arc<Progress>>,
    /// A named GPU: its budget joins `max_memory` (the smaller wins) and each row gets
    /// its time estimates ([`ESTIMATE_NAMES`]), which `sort` may then name.
    pub gpu: Option<GpuPlan>,
    /// Set by another thread to stop the sweep with `Error::Cancelled`.
    pub cancel: Option<Arc<Cancel>>,
}

/// Candidates evaluated so far and how many of them passed constraints and budgets.
#[derive(Debug, Default)]
pub struct Progress {
    pub done: AtomicU64,
    pub survivors: AtomicU64,
}

impl Progress {
    pub(super) fn record(&self, stats: &Stats) {
        let cut = stats.cut_by_constraints + stats.cut_by_budgets + stats.invalid;
        self.done.fetch_add(stats.candidates, Atomic::Relaxed);
        self.survivors
            .fetch_add(stats.candidates.saturating_sub(cut), Atomic::Relaxed);
    }
}

/// Why candidates were not kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub candidates: u64,
    pub cut_by_constraints: u64,
    pub cut_by_budgets: u64,
    /// Candidates whose model is impossible (a shape that cannot be built, say).
    pub invalid: u64,
    pub first_invalid: Option<String>,
}

impl Stats {
    pub(super) fn merge(mut self, other: Stats) -> Stats {
        self.candidates += other.candidates;
        self.cut_by_constraints += other.cut_by_constraints;
        self.cut_by_budgets += other.cut_by_budgets;
        self.invalid += other.invalid;
        self.first_invalid = self.first_invalid.or(other.first_invalid);
        self
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Row {
    pub(super) index: u64,
    pub(super) metrics: Metrics,
}

/// The kept rows as columns: candidate index, one column per axis, one per metric.
#[derive(Debug, Clone, Default)]
pub struct Columns {
    pub index: Vec<u64>,
    pub axes: Vec<(String, AxisColumn)>,
    pub metrics: Vec<(&'static str, Vec<u64>)>,
    /// Time estimates on the named GPU (empty without one).
    pub estimates: Vec<(&'static str, Vec<f64>)>,
    pub stats: Stats,
}

#[derive(Debug, Clone)]
pub enum AxisColumn {
    Int(Vec<i64>),
    Float(Vec<f64>),
    Bool(Vec<bool>),
    /// Codes into `categories` (crosses to Polars as an Enum).
    Str {
        codes: Vec<u32>,
        categories: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counts {
    pub total: u64,
    pub in_range: u64,
    pub satisfying_constraints: u64,
    /// Candidates whose constraints cannot be evaluated (a division by zero).
    pub invalid: u64,
    pub first_invalid: Option<String>,
}

/// Candidates per rayon task: large enough to amortise scheduling, small enough to
/// balance 2 to 64 cores and to bound what a task holds before truncating to top-K.
const BLOCK: u64 = 1 << 14;

fn range_of(space: &Space, opts: &SweepOptions) -> Result<(u64, u64)> {
    let (start, stop) = opts.range.unwrap_or((0, space.size));
    if start > stop || stop > space.size {
        return Err(space_err(
            &space.location,
            format!(
                "range {start}..{stop} is outside the space's {} candidates",
                space.size
            ),
        ));
    }
    Ok((start, stop))
}

/// Sizes without computing rows (`--count`).
pub fn count(space: &Space, range: Option<(u64, u64)>) -> Result<Counts> {
    count_until(space, range, &Cancel::default())
}

/// `count`, stopping with `Error::Cancelled` soon after `cancel` is set.
pub fn count_until(space: &Space, range: Option<(u64, u64)>, cancel: &Cancel) -> Result<Counts> {
    let opts = SweepOptions {
        range,
        ..Default::default()
    };
    let (start, stop) = range_of(space, &opts)?;
    let mut counts = Counts {
        total: space.size,
        in_range: stop - start,
        satisfying_constraints: stop - start,
        invalid: 0,
        first_invalid: None,
    };
    if space.constraints.is_empty() {
        return Ok(counts);
    }
    let stats = blocks(start, stop)
        .map(|(a, b)| {
            let mut digits = vec![0; space.axes.len()];
            let mut stats = Stats::default();
            for i in a..b {
                if (i - a) % POLL_EVERY == 0 {
                    cancel.check()?;
                }
                space.digits(i, &mut digits);
                match space.constraints_hold(&digits) {
                    Ok(true) => {}
                    Ok(false) => stats.cut_by_constraints += 1,
                    Err(e) => note_constraint_error(&mut stats, e, space, i)?,
                }
            }
            Ok(stats)
        })
        .try_reduce(Stats::default, |x, y| Ok(x.merge(y)))?;
    counts.satisfying_constraints -= stats.cut_by_constraints + stats.invalid;
    counts.invalid = stats.invalid;
    counts.first_invalid = stats.first_invalid;
    Ok(counts)
}

/// The blocks of `start..stop`, made lazily: a space may hold up to 2^64 candidates, far
/// more blocks than memory holds, and its last block may end at `u64::MAX`.
pub(super) fn blocks(start: u64, stop: u64) -> impl ParallelIterator<Item = (u64, u64)> {
    let len = stop - start;
    (0..len.div_ceil(BLOCK)).into_par_iter().map(move |i| {
        (
            start + i * BLOCK,
            start + len.min((i + 1).saturating_mul(BLOCK)),
        )
    })
}

pub(super) fn within_params(opts: &SweepOptions, params: u64) -> bool {
    opts.max_params.is_none_or(|m| params <= m) && opts.min_params.is_none_or(|m| params >= m)
}

pub(super) fn within_rest(opts: &SweepOptions, m: &Metrics) -> bool {
    opts.max_memory.is_none_or(|x| m.peak_bytes <= x)
        && opts.max_flops.is_none_or(|x| m.flops_fwd_bwd <= x)
}

/// Whether a candidate's metrics are inside every budget (a sweep keeps its row; a
/// single check says it fits).
pub fn within_budgets(opts: &SweepOptions, m: &Metrics) -> bool {
    within_params(opts, m.params) && within_rest(opts, m)
}

/// Record a candidate that cannot be built or whose numbers overflow: skipped and
/// counted, naming the first one and its values. A cancelled sweep stops.
pub(super) fn note_invalid(stats: &mut Stats, e: Error, space: &Space, index: u64) -> Result<()> {
    if matches!(e, Error::Cancelled | Error::Internal(_)) {
        return Err(e);
    }
    stats.invalid += 1;
    stats
        .first_invalid
        .get_or_insert_with(|| format!("{}: {e}", describe(space, index)));
    Ok(())
}

/// A constraint's arithmetic that fails for one candidate (a division by zero, an
/// overflow) makes that candidate invalid; a constraint of the wrong type (a number
/// where true/false is needed) fails for every candidate and stops the sweep.
pub(super) fn note_constraint_error(
    stats: &mut Stats,
    e: Error,
    space: &Space,
    index: u64,
) -> Result<()> {
    match e {
        Error::InvalidValue { .. } | Error::Overflow { .. } => note_invalid(stats, e, space, index),
        fatal => Err(fatal),
    }
}

/// `candidate 7 (depth=2, width=64)`
fn describe(space: &Space, index: u64) -> String {
    let mut digits = vec![0; space.axes.len()];
    space.digits(index, &mut digits);
    let values: Vec<String> = space
        .axes
        .iter()
        .zip(&digits)
        .map(|(a, &d)| format!("{}={}", a.name, a.values[d].to_json()))
        .collect();
    format!("candidate {index} ({})", values.join(", "))
}

/// Run a sweep: the kept candidates as columns.
pub fn sweep(space: &Space, opts: &SweepOptions) -> Result<Columns> {
    let opts = &with_gpu_budget(opts)?;
    let ranker = Ranker::new(space, opts)?;
    let (mut rows, stats) = sweep_rows(space, opts, &ranker)?;
    ranker.finish(opts, &mut rows);
    final_columns(space, opts, &rows, stats)
}

/// Sweep a shard whose result will be merged with others (`merge::merge_parts`): the
/// same rows as `sweep`, except that a Pareto front is kept whole under `top`, and
/// without the time estimates, which `merge::finish` adds to the final rows.
pub fn sweep_part(space: &Space, opts: &SweepOptions) -> Result<Columns> {
    let opts = &with_gpu_budget(opts)?;
    let ranker = Ranker::new(space, opts)?;
    let (rows, stats) = sweep_rows(space, opts, &ranker)?;
    Ok(columns(space, &rows, stats))
}

/// `opts` with a named GPU's budget folded into `max_memory` (the smaller applies).
fn with_gpu_budget(opts: &SweepOptions) -> Result<SweepOptions> {
    Ok(SweepOptions {
        max_memory: gpu::peak_budget(
            opts.gpu.map(|p| p.gpu),
            opts.gpu.map_or(gpu::DEFAULT_HEADROOM, |p| p.headroom),
            opts.max_memory,
        )?,
        ..opts.clone()
    })
}

/// The columns of a sweep's final rows, with the time estimates when a GPU is named.
pub(super) fn final_columns(
    space: &Space,
    opts: &SweepOptions,
    rows: &[Row],
    stats: Stats,
) -> Result<Columns> {
    let mut columns = columns(space, rows, stats);
    if let Some(plan) = &opts.gpu {
        let eval = Evaluator::new(space);
        columns.estimates =
            timing::columns(&eval, plan, rows.iter().map(|r| (r.index, &r.metrics)))?;
    }
    Ok(columns)
}

/// The rows of candidates `opts.range` cut as `Ranker::shrink_part` cuts.
fn sweep_rows(space: &Space, opts: &SweepOptions, ranker: &Ranker) -> Result<(Vec<Row>, Stats)> {
    let range = range_of(space, opts)?;
    let eval = Evaluator::new(space);
    let prerank = |k, key, descending| {
        Some(Prerank {
            k,
            key,
            descending,
            after: None,
        })
    };
    let peak_bytes = METRIC_NAMES.iter().position(|m| *m == "peak_bytes");
    let prerank = match (&ranker.key, opts.top) {
        _ if opts.pareto => None,
        (SortKey::Metric(0), Some(k)) if eval.cheap_params() && k > 0 => {
            prerank(k, PreKey::Params, opts.descending)
        }
        (SortKey::Metric(1), Some(k)) if eval.cheap_params() && k > 0 => {
            prerank(k, PreKey::TrainableParams, opts.descending)
        }
        (SortKey::Metric(m), Some(k))
            if Some(*m) == peak_bytes && !opts.descending && eval.bounds_peak() && k > 0 =>
        {
            prerank(k, PreKey::PeakBound, false)
        }
        (SortKey::Index, Some(k)) if k > 0 => prerank(k, PreKey::Index, false),
        _ => None,
    };
    let (mut rows, stats) = match prerank {
        Some(p) => scan::lazy_top(&eval, opts, ranker, p, range)?,
        None => {
            let block = scan::scan(&eval, opts, ranker, None, range, true)?;
            (block.rows, block.stats)
        }
    };
    ranker.shrink_part(opts, &mut rows);
    Ok((rows, stats))
}

pub(super) fn columns(space: &Space, rows: &[Row], stats: Stats) -> Columns {
    let mut digits = vec![0; space.axes.len()];
    let per_row: Vec<Vec<usize>> = rows
        .iter()
        .map(|r| {
            space.digits(r.index, &mut digits);
            digits.clone()
        })
        .collect();
    let axes = space
        .axes
        .iter()
        .enumerate()
        .map(|(i, axis)| {
            let values = per_row.iter().map(|d| &axis.values[d[i]]);
            let column = if axis.values.iter().all(|v| matches!(v, Scalar::Int(_))) {
                AxisColumn::Int(values.map(|v| v.as_i64().unwrap_or_default()).collect())
            } else if axis
                .values
                .iter()
                .all(|v| matches!(v, Scalar::Int(_) | Scalar::Float(_)))
            {
                AxisColumn::Float(
                    values
                        .map(|v| {
                            if let Scalar::Float(f) = v {
                                *f
                            } else {
                                v.as_i64().unwrap_or_default() as f64
                            }
                        })
                        .collect(),
                )
            } else if axis.values.iter().all(|v| matches!(v, Scalar::Bool(_))) {
                AxisColumn::Bool(values.map(|v| matches!(v, Scalar::Bool(true))).collect())
            } else {
                let text = |v: &Scalar| match v {
                    Scalar::Str(s) => s.clone(),
                    other => other.to_json().to_string(),
                };
                // Each value's code, found once: an axis may hold a million values.
                let mut categories: Vec<String> = Vec::new();
                let mut code_of: HashMap<String, u32> = HashMap::new();
                let value_codes: Vec<u32> = axis
                    .values
                    .iter()
                    .map(|v| {
                        *code_of.entry(text(v)).or_insert_with_key(|t| {
                            categories.push(t.clone());
                            (categories.len() - 1) as u32
                        })
                    })
                    .collect();
                let codes = per_row.iter().map(|d| value_codes[d[i]]).collect();
                AxisColumn::Str { codes, categories }
            };
            (axis.name.clone(), column)
        })
        .collect();
    let metrics = METRIC_NAMES
        .iter()
        .enumerate()
        .map(|(m, name)| (*name, rows.iter().map(|r| r.metrics.values()[m]).collect()))
        .collect();
    Columns {
        index: rows.iter().map(|r| r.index).collect(),
        axes,
        metrics,
        estimates: Vec::new(),
        stats,
    }
}
