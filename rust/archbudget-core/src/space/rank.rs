//! Ranking of a sweep's rows: `--sort` (a metric, an axis, a time column or the
//! candidate index, ties by index), top-K and the Pareto front.
use std::cmp::Ordering;

use rayon::prelude::*;

use super::enumerate::{Row, SweepOptions};
use super::family::{Evaluator, METRIC_NAMES};
use super::timing::{self, ESTIMATE_NAMES};
use super::{space_err, Scalar, Space};
use crate::error::Result;
use crate::gpu::GpuPlan;

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
    pub(super) fn keep_top(&self, rows: &mut Vec<Row>, k: usize) {
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
