//! Time estimates on a named GPU. Estimates, not measurements: they assume the step's
//! FLOPs run at a fixed share of the card's peak, and decoding streams memory at the
//! card's full bandwidth.
//!
//! - Training step (`train`) and forward (`infer`):
//!   `step_s = flops / (peak_flops(precision) × mfu)`, with `flops` = `flops_fwd_bwd`
//!   (train) or `flops_fwd` (infer), per GPU; `peak_flops` the card's dense fp32 rate for
//!   `fp32` (PyTorch's default matmul uses no TF32) and its bf16 rate for `bf16` and
//!   `amp_bf16`; `mfu` the model FLOPs utilisation (default [`DEFAULT_MFU`]). The
//!   FLOPs are those the step runs, as torch's counter counts them: with gradient
//!   checkpointing they include the recomputed forward, so `mfu` is then the share of
//!   the peak all executed FLOPs reach (what some call HFU).
//!   `samples_per_s = gpus × batch / step_s`, `tokens_per_s = samples_per_s × seq`.
//! - Generation (`generate`): the prompt's forward as above, then each new token
//!   `i = 1..N` bounded by memory bandwidth, every weight and the kv cache read once:
//!   `token_i_s = max((weights + kv_fixed + kv_per_position × (P + i)) / bandwidth,
//!                    flops_per_token / (peak_flops × mfu))`, `kv_fixed` the caches
//!   that do not grow (cross-attention k and v, state-space states);
//!   `per_token_s` is their mean (the kv term at `P + (N + 1) / 2`),
//!   `step_s = prefill_s + N × per_token_s`, `tokens_per_s = gpus × batch / per_token_s`
//!   (new tokens decoded per second), `samples_per_s = gpus × batch / step_s`.
//!
//! A card without the run's precision (bf16 on a T4 or V100) gives no estimate.
use super::Gpu;
use crate::error::{Error, Result};
use crate::memory::{MemoryReport, Mode, Precision, RunSettings};

/// Model FLOPs utilisation assumed unless told.
pub const DEFAULT_MFU: f64 = 0.4;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeEstimate {
    /// A training step; one forward (`infer`); the whole `generate` call (`generate`).
    pub step_s: f64,
    pub samples_per_s: f64,
    /// Tokens processed per second (`train`, `infer`) or new tokens decoded per second
    /// (`generate`); `None` for models without a sequence.
    pub tokens_per_s: Option<f64>,
    /// `generate` with new tokens: the mean time of one decoding step.
    pub per_token_s: Option<f64>,
}

/// An MFU must be a share of the peak above 0 and at most 1.
pub fn check_mfu(mfu: f64) -> Result<()> {
    if mfu > 0.0 && mfu <= 1.0 {
        Ok(())
    } else {
        Err(Error::invalid(
            "--mfu",
            format!("{mfu} is not a share of the peak above 0 and at most 1"),
        ))
    }
}

/// The card's dense FLOP/s at `precision`.
pub fn peak_flops(gpu: &Gpu, precision: Precision) -> Option<f64> {
    let tflops = match precision {
        Precision::Fp32 => gpu.fp32_tflops,
        Precision::Bf16 | Precision::AmpBf16 => gpu.bf16_tflops,
    };
    tflops.map(|t| t * 1e12)
}

/// The estimate of one run on `gpu` (see the module's formulas); `tokens_per_sample`
/// is the sequence of models that have one. `None` where the card lacks the precision.
pub fn estimate(
    gpu: &Gpu,
    mfu: f64,
    run: &RunSettings,
    report: &MemoryReport,
    tokens_per_sample: Option<u64>,
) -> Option<TimeEstimate> {
    let compute = peak_flops(gpu, run.precision)? * mfu;
    estimate_at(gpu, compute, run, report, tokens_per_sample)
        // a model without FLOPs has no time to report
        .filter(|t| t.step_s > 0.0 && t.step_s.is_finite())
}

fn estimate_at(
    gpu: &Gpu,
    compute: f64,
    run: &RunSettings,
    report: &MemoryReport,
    tokens_per_sample: Option<u64>,
) -> Option<TimeEstimate> {
    let samples = (run.gpus as f64) * (run.batch as f64);
    match (run.mode, report.decode) {
        (Mode::Generate, Some(d)) => {
            let n = run.new_tokens as f64;
            let mean_positions = run.seq as f64 + (n + 1.0) / 2.0;
            let read = (d.weights_bytes + d.kv_fixed_bytes) as f64
                + d.kv_bytes_per_position as f64 * mean_positions;
            let per_token_s =
                (read / gpu.bandwidth_bytes_per_s).max(d.flops_per_token as f64 / compute);
            let step_s = d.prefill_flops as f64 / compute + n * per_token_s;
            Some(TimeEstimate {
                step_s,
                samples_per_s: samples / step_s,
                tokens_per_s: tokens_per_sample.map(|_| samples / per_token_s),
                per_token_s: Some(per_token_s),
            })
        }
        (mode, _) => {
            let flops = if mode == Mode::Train {
                report.flops_fwd_bwd
            } else {
                report.flops_fwd
            };
            let step_s = flops as f64 / compute;
            Some(TimeEstimate {
                step_s,
                samples_per_s: samples / step_s,
                tokens_per_s: tokens_per_sample.map(|t| samples * t as f64 / step_s),
                per_token_s: None,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::lookup;

    #[test]
    fn training_step_is_flops_over_peak_times_mfu() {
        let gpu = lookup("h100").unwrap();
        let report = MemoryReport {
            flops_fwd_bwd: 989_400_000_000_000,
            ..MemoryReport::default()
        };
        let run = RunSettings {
            precision: Precision::Bf16,
            batch: 4,
            ..RunSettings::default()
        };
        let t = estimate(gpu, 0.5, &run, &report, Some(1000)).unwrap();
        assert!((t.step_s - 2.0).abs() < 1e-9);
        assert!((t.tokens_per_s.unwrap() - 2000.0).abs() < 1e-6);
        assert!(estimate(lookup("t4").unwrap(), 0.4, &run, &report, None).is_none());
    }
}
