//! The time columns of a sweep with a named GPU (`gpu::time`), per kept row, and the
//! values `--sort` ranks by when it names one of them.
use super::family::{Evaluator, Metrics};
use crate::error::Result;
use crate::gpu::{time, GpuPlan};
use crate::memory::{MemoryReport, Mode};

/// The time columns, in output order; NaN where a row has no such figure.
pub const ESTIMATE_NAMES: [&str; 4] = [
    "step_time_s",
    "samples_per_s",
    "tokens_per_s",
    "time_per_token_s",
];

/// The four estimates of candidate `index` with `metrics` on `plan`'s GPU.
pub(crate) fn row_estimates(
    eval: &Evaluator,
    plan: &GpuPlan,
    index: u64,
    metrics: &Metrics,
) -> Result<[f64; 4]> {
    let space = eval.space();
    let mut digits = vec![0; space.axes.len()];
    space.digits(index, &mut digits);
    let run = eval.run(&digits)?;
    // Rows merged from shards carry no decode figures (they are not columns): evaluate
    // those again.
    let recomputed;
    let metrics = if metrics.decode.is_none() && run.mode == Mode::Generate {
        recomputed = eval.metrics(&digits)?;
        &recomputed
    } else {
        metrics
    };
    let report = MemoryReport {
        peak_bytes: metrics.peak_bytes,
        flops_fwd: metrics.flops_fwd,
        flops_fwd_bwd: metrics.flops_fwd_bwd,
        decode: metrics.decode,
        ..MemoryReport::default()
    };
    let tokens = eval.tokens_per_sample(&digits, &run);
    let t = time::estimate(plan.gpu, plan.mfu, &run, &report, tokens);
    let nan = f64::NAN;
    Ok([
        t.map_or(nan, |t| t.step_s),
        t.map_or(nan, |t| t.samples_per_s),
        t.and_then(|t| t.tokens_per_s).unwrap_or(nan),
        t.and_then(|t| t.per_token_s).unwrap_or(nan),
    ])
}

/// The time columns of `rows` (candidate index, metrics).
pub(crate) fn columns<'r>(
    eval: &Evaluator,
    plan: &GpuPlan,
    rows: impl Iterator<Item = (u64, &'r Metrics)>,
) -> Result<Vec<(&'static str, Vec<f64>)>> {
    let mut cols: [Vec<f64>; 4] = Default::default();
    for (index, metrics) in rows {
        for (col, value) in cols
            .iter_mut()
            .zip(row_estimates(eval, plan, index, metrics)?)
        {
            col.push(value);
        }
    }
    Ok(ESTIMATE_NAMES.into_iter().zip(cols).collect())
}
