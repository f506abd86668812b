//! Merging the results of shards of one sweep (Ray tasks, `--shard i/N` runs). Each part
//! is `sweep_part` of an index range; budgets and constraints are per candidate, so only
//! the ranking is re-applied over the union: top-k, Pareto front, sort. `merge_parts` is
//! associative (parts reduce in any tree, kept in index order), and `finish` of the
//! merged parts equals `sweep` of the whole range, row for row.
use super::enumerate::{columns, final_columns, Columns, Row, Stats, SweepOptions};
use super::family::{Metrics, METRIC_NAMES};
use super::rank::Ranker;
use super::{space_err, Space};
use crate::error::Result;

/// Merge parts given in index order into one part (still mergeable with others).
pub fn merge_parts(space: &Space, opts: &SweepOptions, parts: Vec<Columns>) -> Result<Columns> {
    let ranker = Ranker::new(space, opts)?;
    let (mut rows, stats) = union(space, parts)?;
    ranker.shrink_part(opts, &mut rows);
    Ok(columns(space, &rows, stats))
}

/// The final rows of merged parts: what `sweep` gives for the union of their ranges.
pub fn finish(space: &Space, opts: &SweepOptions, part: Columns) -> Result<Columns> {
    let ranker = Ranker::new(space, opts)?;
    let (mut rows, stats) = union(space, vec![part])?;
    ranker.finish(opts, &mut rows);
    final_columns(space, opts, &rows, stats)
}

/// The rows of all parts, in candidate order (an unranked sweep's order), and their
/// summed stats.
fn union(space: &Space, parts: Vec<Columns>) -> Result<(Vec<Row>, Stats)> {
    let mut rows = Vec::with_capacity(parts.iter().map(|p| p.index.len()).sum());
    let mut stats = Stats::default();
    for part in parts {
        rows.extend(part_rows(space, &part)?);
        stats = stats.merge(part.stats);
    }
    rows.sort_unstable_by_key(|r| r.index);
    Ok((rows, stats))
}

/// A part's rows back from its columns, checked: a part is data from outside (another
/// process, a file), not trusted to fit this space.
fn part_rows(space: &Space, part: &Columns) -> Result<Vec<Row>> {
    let bad =
        |message: String| space_err(&space.location, format!("cannot merge a part: {message}"));
    let names: Vec<&str> = part.metrics.iter().map(|(n, _)| *n).collect();
    if names != METRIC_NAMES {
        return Err(bad(format!(
            "its metric columns are {names:?}, expected {METRIC_NAMES:?}"
        )));
    }
    let n = part.index.len();
    if let Some((name, _)) = part.metrics.iter().find(|(_, v)| v.len() != n) {
        return Err(bad(format!(
            "column '{name}' does not have the {n} rows of its index"
        )));
    }
    if let Some(i) = part.index.iter().find(|&&i| i >= space.size) {
        return Err(bad(format!(
            "candidate {i} is outside the space's {} candidates",
            space.size
        )));
    }
    Ok((0..n)
        .map(|r| {
            let mut values = [0u64; METRIC_NAMES.len()];
            for (v, (_, column)) in values.iter_mut().zip(&part.metrics) {
                *v = column[r];
            }
            Row {
                index: part.index[r],
                metrics: Metrics::from_values(values),
            }
        })
        .collect())
}
