//! The enumerator: rayon workers take index ranges of the mixed-radix product, evaluate
//! constraints, cheap budgets (params) and then the full metrics of the survivors, and
//! keep either all survivors, a bounded top-K, or a Pareto front per block, merged at
//! the end. Only the survivors become columns.
use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering as Atomic};
use std::sync::Arc;

use rayon::prelude::*;

use super::cancel::{Cancel, POLL_EVERY};
use super::family::{Evaluator, Metrics, METRIC_NAMES};
use super::timing::{self, ESTIMATE_NAMES};
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
    fn record(&self, stats: &Stats) {
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
fn blocks(start: u64, stop: u64) -> impl ParallelIterator<Item = (u64, u64)> {
    let len = stop - start;
    (0..len.div_ceil(BLOCK)).into_par_iter().map(move |i| {
        (
            start + i * BLOCK,
            start + len.min((i + 1).saturating_mul(BLOCK)),
        )
    })
}

/// How rows compare under `--sort` (ties by candidate index, so results are deterministic).
pub(super) enum SortKey {
    Metric(usize),
    Axis(usize),
    /// A time column of [`ESTIMATE_NAMES`] (a named GPU only).
    Estimate(usize),
    Index,
}

pub(super) fn sort_key(space: &Space, opts: &SweepOptions) -> Result<SortKey> {
    match &opts.sort {
        None => Ok(SortKey::Index),
        Some(name) => METRIC_NAMES
            .iter()
            .position(|m| m == name)
            .map(SortKey::Metric)
            .or_else(|| {
                space
                    .axes
                    .iter()
                    .position(|a| &a.name == name)
                    .map(SortKey::Axis)
            })
            .or_else(|| {
                ESTIMATE_NAMES
                    .iter()
                    .position(|m| m == name)
                    .filter(|_| opts.gpu.is_some())
                    .map(SortKey::Estimate)
            })
            .ok_or_else(|| {
                let axes: Vec<&str> = space.axes.iter().map(|a| a.name.as_str()).collect();
                let times = if opts.gpu.is_some() {
                    format!("; times: {}", ESTIMATE_NAMES.join(", "))
                } else {
                    "; times with a GPU named".into()
                };
                space_err(
                    &space.location,
                    format!(
                        "cannot sort by '{name}': not a column (metrics: {}; axes: {}{times})",
                        METRIC_NAMES.join(", "),
                        axes.join(", ")
                    ),
                )
            }),
    }
}

fn compare_scalars(a: &Scalar, b: &Scalar) -> Ordering {
    match (a, b) {
        (Scalar::Str(x), Scalar::Str(y)) => x.cmp(y),
        (Scalar::Bool(x), Scalar::Bool(y)) => x.cmp(y),
        _ => {
            let f = |s: &Scalar| match s {
                Scalar::Int(i) => *i as f64,
                Scalar::Float(f) => *f,
                _ => f64::NAN,
            };
            f(a).total_cmp(&f(b))
        }
    }
}

pub(super) struct Ranker<'a> {
    pub(super) space: &'a Space,
    pub(super) key: SortKey,
    pub(super) descending: bool,
    /// What [`SortKey::Estimate`] needs to compute a row's time.
    timing: Option<(Evaluator<'a>, GpuPlan)>,
}

impl Ranker<'_> {
    fn estimate(&self, row: &Row, i: usize) -> f64 {
        self.timing
            .as_ref()
            .and_then(|(eval, plan)| {
                timing::row_estimates(eval, plan, row.index, &row.metrics).ok()
            })
            .map_or(f64::NAN, |values| values[i])
    }

    fn cmp(&self, a: &Row, b: &Row) -> Ordering {
        let primary = match self.key {
            SortKey::Index => Ordering::Equal,
            SortKey::Estimate(i) => {
                return self.cmp_times(self.estimate(a, i), self.estimate(b, i), a, b)
            }
            SortKey::Metric(m) => a.metrics.get(m).cmp(&b.metrics.get(m)),
            SortKey::Axis(i) => {
                let n = self.space.axes.len();
                let (mut da, mut db) = (vec![0; n], vec![0; n]);
                self.space.digits(a.index, &mut da);
                self.space.digits(b.index, &mut db);
                compare_scalars(
                    &self.space.axes[i].values[da[i]],
                    &self.space.axes[i].values[db[i]],
                )
            }
        };
        let primary = if self.descending {
            primary.reverse()
        } else {
            primary
        };
        primary.then(a.index.cmp(&b.index))
    }

    /// Rows ranked by a time column: `x` and `y` are the rows' figures (NaN where a row
    /// has none, ranked last whichever the direction), ties by candidate index.
    fn cmp_times(&self, x: f64, y: f64, a: &Row, b: &Row) -> Ordering {
        let primary = match (x.is_nan(), y.is_nan()) {
            (false, false) if self.descending => y.total_cmp(&x),
            (false, false) => x.total_cmp(&y),
            (nan_a, nan_b) => nan_a.cmp(&nan_b),
        };
        primary.then(a.index.cmp(&b.index))
    }

    /// Keep the best `k` of `rows`, sorted.
    fn keep_top(&self, rows: &mut Vec<Row>, k: usize) {
        self.rank(rows, Some(k));
    }

    /// Sort `rows` in ranking order, keeping the first `top`. A time column is computed
    /// once per row, not once per comparison: each computation parses the row's run
    /// settings, and a row merged from a shard re-evaluates its decode figures.
    fn rank(&self, rows: &mut Vec<Row>, top: Option<usize>) {
        let SortKey::Estimate(i) = self.key else {
            return rank_by(rows, top, |a, b| self.cmp(a, b));
        };
        let mut keyed: Vec<(f64, Row)> =
            rows.par_iter().map(|r| (self.estimate(r, i), *r)).collect();
        rank_by(&mut keyed, top, |(x, a), (y, b)| {
            self.cmp_times(*x, *y, a, b)
        });
        *rows = keyed.into_iter().map(|(_, r)| r).collect();
    }
}

/// Sort `items` by `cmp`, keeping the first `top`.
fn rank_by<T: Send>(
    items: &mut Vec<T>,
    top: Option<usize>,
    cmp: impl Fn(&T, &T) -> Ordering + Sync,
) {
    if let Some(k) = top.filter(|&k| items.len() > k) {
        items.select_nth_unstable_by(k, &cmp);
        items.truncate(k);
    }
    items.par_sort_by(cmp);
}

/// The candidates no other beats: more parameters (capacity) for no more peak memory
/// and no more FLOPs. A candidate is dominated by one at least as good on all three and
/// better on one.
pub(super) fn pareto_front(rows: Vec<Row>) -> Vec<Row> {
    let keys: Vec<ParetoKey> = rows
        .iter()
        .map(|r| ParetoKey {
            params: r.metrics.params,
            peak_bytes: r.metrics.peak_bytes,
            flops: r.metrics.flops_fwd_bwd,
            index: r.index,
        })
        .collect();
    pareto_positions(&keys)
        .into_iter()
        .map(|i| rows[i])
        .collect()
}

/// What the Pareto front compares; `index` breaks ties (of rows equal on all three,
/// the smallest index stays).
#[derive(Debug, Clone, Copy)]
pub struct ParetoKey {
    pub params: u64,
    pub peak_bytes: u64,
    pub flops: u64,
    pub index: u64,
}

/// The positions in `keys` of the Pareto front (see `pareto_front`), in front order:
/// params descending, then peak bytes, FLOPs and index ascending.
pub fn pareto_positions(keys: &[ParetoKey]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&keys[a], &keys[b]);
        b.params
            .cmp(&a.params)
            .then(a.peak_bytes.cmp(&b.peak_bytes))
            .then(a.flops.cmp(&b.flops))
            .then(a.index.cmp(&b.index))
    });
    let mut front: Vec<usize> = Vec::new();
    for i in order {
        let r = &keys[i];
        // Sorted by params descending: only rows already in the front can dominate `r`,
        // and a row equal on all three to one kept is a duplicate of it.
        let beaten = front.iter().any(|&q| {
            let q = &keys[q];
            q.params >= r.params && q.peak_bytes <= r.peak_bytes && q.flops <= r.flops
        });
        if !beaten {
            front.push(i);
        }
    }
    front
}

fn within_params(opts: &SweepOptions, params: u64) -> bool {
    opts.max_params.is_none_or(|m| params <= m) && opts.min_params.is_none_or(|m| params >= m)
}

fn within_rest(opts: &SweepOptions, m: &Metrics) -> bool {
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
fn note_invalid(stats: &mut Stats, e: Error, space: &Space, index: u64) -> Result<()> {
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
fn note_constraint_error(stats: &mut Stats, e: Error, space: &Space, index: u64) -> Result<()> {
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

/// Ranking on a key known before the memory model runs: params, trainable params or the
/// candidate index. Only the best `k` of a block get their full metrics.
#[derive(Clone, Copy)]
struct Prerank {
    k: usize,
    /// 0 params, 1 trainable params, None the candidate index.
    metric: Option<usize>,
    descending: bool,
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

    /// Keep the best `k` of (key, index) pairs; returns the worst kept key once full.
    fn trim(&self, pre: &mut Vec<(u64, u64)>) -> Option<u64> {
        let order = |x: &(u64, u64), y: &(u64, u64)| {
            let by_key = if self.descending {
                y.0.cmp(&x.0)
            } else {
                x.0.cmp(&y.0)
            };
            by_key.then(x.1.cmp(&y.1))
        };
        if pre.len() > self.k {
            pre.select_nth_unstable_by(self.k, order);
            pre.truncate(self.k);
        }
        pre.sort_unstable_by(order);
        (pre.len() == self.k).then(|| pre[self.k - 1].0)
    }
}

/// Evaluate candidates `a..b`: constraints, the params budget, then full metrics (of all
/// survivors, or with `prerank` of the block's best k only).
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
    // Runs along the innermost axis share every other digit: one lookup per run.
    while index < b {
        space.digits(index, &mut digits);
        let start = digits.last().copied().unwrap_or(0);
        let len = ((inner_len - start) as u64).min(b - index) as usize;
        let fast = space.constraints.is_empty() && eval.params_run(&digits, len, &mut run);
        if let (true, Some(p)) = (fast, prerank.filter(|p| p.metric.is_some())) {
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
            if let Some(p) = prerank {
                let key = match p.metric {
                    Some(0) => params,
                    Some(_) => trainable,
                    None => index,
                };
                // A key no better than the k-th kept cannot enter (its index is larger).
                if threshold.is_some_and(|t| !p.before(key, t)) {
                    continue;
                }
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

/// What a block (or a reduction of blocks) keeps: full rows, or with a prerank the
/// (key, index) pairs whose metrics are computed once, for the final top-k only.
#[derive(Default)]
struct Block {
    rows: Vec<Row>,
    pre: Vec<(u64, u64)>,
    stats: Stats,
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

impl<'a> Ranker<'a> {
    pub(super) fn new(space: &'a Space, opts: &SweepOptions) -> Result<Ranker<'a>> {
        let key = sort_key(space, opts)?;
        let timing = match key {
            SortKey::Estimate(_) => opts.gpu.map(|plan| (Evaluator::new(space), plan)),
            _ => None,
        };
        Ok(Ranker {
            space,
            key,
            descending: opts.descending,
            timing,
        })
    }

    /// Cut `rows` to what a partial result must keep for merges to stay exact: the
    /// top k, or the whole Pareto front (the top k of each part's front need not hold
    /// the top k of the union's front).
    pub(super) fn shrink_part(&self, opts: &SweepOptions, rows: &mut Vec<Row>) {
        if opts.pareto {
            *rows = pareto_front(std::mem::take(rows));
        } else if let Some(k) = opts.top {
            self.keep_top(rows, k);
        }
    }

    /// The final rows of a partial result: its front's top k, in ranking order.
    pub(super) fn finish(&self, opts: &SweepOptions, rows: &mut Vec<Row>) {
        self.shrink_part(opts, rows);
        if let (true, Some(k)) = (opts.pareto, opts.top) {
            self.keep_top(rows, k);
        }
        if opts.sort.is_some() && opts.top.is_none() {
            self.rank(rows, None);
        }
    }
}

/// The rows of candidates `opts.range` cut as `Ranker::shrink_part` cuts.
fn sweep_rows(space: &Space, opts: &SweepOptions, ranker: &Ranker) -> Result<(Vec<Row>, Stats)> {
    let (start, stop) = range_of(space, opts)?;
    let eval = Evaluator::new(space);
    let cheap_rank = !opts.pareto && opts.max_memory.is_none() && opts.max_flops.is_none();
    let prerank = match (&ranker.key, opts.top) {
        (SortKey::Metric(m), Some(k)) if *m < 2 && eval.cheap_params() && cheap_rank && k > 0 => {
            Some(Prerank {
                k,
                metric: Some(*m),
                descending: opts.descending,
            })
        }
        (SortKey::Index, Some(k)) if cheap_rank && k > 0 => Some(Prerank {
            k,
            metric: None,
            descending: false,
        }),
        _ => None,
    };
    // Reduce as blocks finish, so a ranked sweep holds O(threads × k) rows however
    // large the space; rayon's reduce keeps blocks in index order.
    let reduced = blocks(start, stop)
        .map(|(a, b)| {
            if let Some(cancel) = &opts.cancel {
                cancel.check()?;
            }
            let mut block = evaluate_block(&eval, opts, prerank, a, b)?;
            if let Some(progress) = &opts.progress {
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
        })?;
    let (mut rows, mut stats) = (reduced.rows, reduced.stats);
    if prerank.is_some() {
        let complete: Vec<(u64, Result<Metrics>)> = reduced
            .pre
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
        for (index, metrics) in complete {
            match metrics {
                Ok(metrics) => rows.push(Row { index, metrics }),
                Err(e) => note_invalid(&mut stats, e, space, index)?,
            }
        }
    }
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
