//! A lower bound on a step's peak from parameter counts alone, so that a sweep rejects a
//! candidate whose weights, gradients and optimizer state already break the budget
//! without lowering its graph or simulating it. The bound is ≤ what [`super::estimate`]
//! reports for every run setting (`tests/memory_bound.rs` checks it over random
//! candidates of every family), so a candidate it rejects the simulator rejects too.
//!
//! Why it holds, from `sim::step`:
//! - `Weights` and `Optimizer` are allocated before the first mark and never freed. On
//!   one GPU the weights are the caching allocator's blocks of every parameter and
//!   buffer (`allocator::construction_bytes`), each block at least its tensor's bytes;
//!   over several GPUs the per-tensor blocks, ZeRO-3 dividing their sum by N rounded up.
//!   Each parameter holds at least `numel` elements of the run's dtype: the only dtype
//!   overrides are fp32, and quantized storage (`Param::stored`) is excluded below.
//! - Training marks `optimizer.step()` last, with every gradient `AccumulateGrad` made
//!   still in `Gradients` (never freed before it) and the optimizer's temporaries on
//!   top. The parameters that get gradients, optimizer state and (Adam) a temporary are
//!   the same: the trainable ones backward reaches, each at least its raw bytes.
//! - Inference and generation hold the weights at their first mark (generation's peak
//!   is at least its prefill's).
//!
//! LoRA (frozen base, adapters of their own dtype) and quantized weights have no bound
//! here (0): the counts do not say which tensors train or how they are stored.
use super::{Mode, Optimizer, Precision, RunSettings};

/// The parameters a model holds, as its counts give them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Held {
    /// Every parameter, tied ones once.
    pub params: u64,
    /// A lower bound on the trainable parameters the loss's backward reaches (0 where
    /// not known).
    pub trainable_reached: u64,
}

/// A lower bound on the peak bytes of one step of a model holding `held` under `run`
/// (its `quantize` already resolved from the config, as `hf::run_for_config` does).
pub fn peak_lower_bound(held: Held, run: &RunSettings) -> u64 {
    if run.lora.is_some() || run.quantize.is_some() {
        return 0;
    }
    let dtype_bytes: u128 = if run.precision == Precision::Bf16 {
        2
    } else {
        4
    };
    let n = u128::from(run.gpus.max(1));
    // ZeRO shards a total from `stage` on, rounded up per shard (Σ⌈bᵢ/N⌉ ≥ ⌈Σbᵢ/N⌉)
    let shard = |from_stage: u8, bytes: u128| {
        if run.zero_stage >= from_stage {
            bytes.div_ceil(n)
        } else {
            bytes
        }
    };
    let weights = shard(3, u128::from(held.params) * dtype_bytes);
    let mut bound = weights;
    if run.mode == Mode::Train {
        let one_copy = u128::from(held.trainable_reached) * dtype_bytes;
        let (state_copies, temporaries) = match run.optimizer {
            Optimizer::Sgd => (0, 0),
            Optimizer::SgdMomentum => (1, 0),
            Optimizer::Adam | Optimizer::AdamW => (2, 1),
        };
        bound += shard(1, one_copy * state_copies)
            + shard(2, one_copy)
            + shard(1, one_copy * temporaries);
    }
    u64::try_from(bound).unwrap_or(u64::MAX)
}
