//! A sweep row's metrics, and where a candidate's parameter counts come from.
use crate::memory::{Breakdown, Decode, MemoryReport};

/// Everything a sweep row reports besides the axis values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Metrics {
    /// Counted as the framework that runs the model does (PyTorch for mlp, cnn, lstm and
    /// hf; Keras for the keras family).
    pub params: u64,
    pub trainable_params: u64,
    /// Parameters one token uses (mixture-of-experts hf models); `params` otherwise.
    pub active_params: u64,
    pub peak_bytes: u64,
    pub flops_fwd: u64,
    pub flops_fwd_bwd: u64,
    pub breakdown: Breakdown,
    /// Generate mode: what decoding reads, for the time estimate of a named GPU.
    pub decode: Option<Decode>,
}

/// The metric columns, in output order.
pub const METRIC_NAMES: [&str; 14] = [
    "params",
    "trainable_params",
    "active_params",
    "peak_bytes",
    "flops_fwd",
    "flops_fwd_bwd",
    "weights_bytes",
    "gradients_bytes",
    "optimizer_bytes",
    "activations_bytes",
    "activation_grads_bytes",
    "inputs_bytes",
    "autocast_copies_bytes",
    "transients_bytes",
];

impl Metrics {
    /// The metric of column `i` of METRIC_NAMES.
    pub fn get(&self, i: usize) -> u64 {
        match i {
            0 => self.params,
            1 => self.trainable_params,
            2 => self.active_params,
            3 => self.peak_bytes,
            4 => self.flops_fwd,
            5 => self.flops_fwd_bwd,
            _ => self.values()[i],
        }
    }

    pub fn values(&self) -> [u64; 14] {
        let b = &self.breakdown;
        [
            self.params,
            self.trainable_params,
            self.active_params,
            self.peak_bytes,
            self.flops_fwd,
            self.flops_fwd_bwd,
            b.weights,
            b.gradients,
            b.optimizer,
            b.activations,
            b.activation_grads,
            b.inputs,
            b.autocast_copies,
            b.transients,
        ]
    }

    /// The inverse of `values`.
    pub fn from_values(v: [u64; 14]) -> Metrics {
        Metrics {
            params: v[0],
            trainable_params: v[1],
            active_params: v[2],
            peak_bytes: v[3],
            flops_fwd: v[4],
            flops_fwd_bwd: v[5],
            breakdown: Breakdown {
                weights: v[6],
                gradients: v[7],
                optimizer: v[8],
                activations: v[9],
                activation_grads: v[10],
                inputs: v[11],
                autocast_copies: v[12],
                transients: v[13],
            },
            decode: None,
        }
    }

    fn from_report(r: &MemoryReport, trainable: u64) -> Metrics {
        Metrics {
            params: r.params,
            trainable_params: trainable,
            active_params: r.params,
            peak_bytes: r.peak_bytes,
            flops_fwd: r.flops_fwd,
            flops_fwd_bwd: r.flops_fwd_bwd,
            breakdown: r.breakdown,
            decode: r.decode,
        }
    }
}

/// Where a candidate's parameter counts come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counts {
    /// The memory report's (every parameter trains).
    Report,
    /// The memory report's, the trainable ones as it says (peft's LoRA adapters).
    Adapters,
    /// Counted by the framework's own rules (transformers, Keras).
    Counted {
        params: u64,
        trainable: u64,
        active: u64,
    },
}

impl Counts {
    pub fn metrics(self, report: &MemoryReport) -> Metrics {
        match self {
            Counts::Report => Metrics::from_report(report, report.params),
            Counts::Adapters => Metrics::from_report(report, report.trainable_params),
            Counts::Counted {
                params,
                trainable,
                active,
            } => Metrics {
                params,
                trainable_params: trainable,
                active_params: active,
                ..Metrics::from_report(report, 0)
            },
        }
    }
}
