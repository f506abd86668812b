//! What a step holds per GPU for its whole length, and how ZeRO shards it: the weights,
//! the optimizer state, the optimizer's temporaries (used by `sim` and by the compiled
//! model, which recomputes them for a graph it did not simulate whole).
use super::alloc::block;
use super::graph::DType;
use super::sim::Weights;
use super::{add, Mode, Optimizer, Result, RunSettings};

/// The temporaries of `optimizer.step()` over `param_grads` bytes of gradients.
pub(crate) fn optimizer_temp(run: &RunSettings, param_grads: u64) -> u64 {
    match run.optimizer {
        Optimizer::Adam | Optimizer::AdamW => Zero::new(run).optimizer(param_grads),
        _ => 0,
    }
}

/// Bytes of optimizer state for `param_blocks` bytes of trainable parameters, per GPU.
pub(crate) fn optimizer_state(run: &RunSettings, param_blocks: u64) -> Result<u64> {
    let copies = match (run.mode == Mode::Train, run.optimizer) {
        (false, _) | (true, Optimizer::Sgd) => 0,
        (true, Optimizer::SgdMomentum) => 1,
        (true, Optimizer::Adam | Optimizer::AdamW) => 2,
    };
    Ok(Zero::new(run).optimizer(super::mul(param_blocks, copies)?))
}

/// The weights' bytes per GPU: on one GPU as the caching allocator packs them while the
/// model is built (`construct`), over several the per-tensor blocks (`weights`), sharded
/// by ZeRO-3, plus the replicated buffers.
pub(crate) fn weight_bytes(
    run: &RunSettings,
    construct: &[(u64, u64, bool)],
    weights: u64,
    buffer_bytes: u64,
    by: Weights,
) -> Result<u64> {
    let z = Zero::new(run);
    if z.n == 1 {
        match by {
            Weights::Replay => super::allocator::construction_bytes(construct),
            Weights::Recent => super::allocator::recent_construction_bytes(construct),
        }
    } else {
        add(z.weights(weights), buffer_bytes)
    }
}

/// ZeRO sharding over `n` GPUs at `stage` (see [`RunSettings::zero_stage`]).
pub(super) struct Zero {
    pub n: u64,
    stage: u8,
}

impl Zero {
    pub(super) fn new(run: &RunSettings) -> Self {
        Zero {
            n: run.gpus.max(1),
            stage: run.zero_stage,
        }
    }
    fn shard(&self, from_stage: u8, bytes: u64) -> u64 {
        if self.stage >= from_stage {
            bytes.div_ceil(self.n)
        } else {
            bytes
        }
    }
    pub(super) fn optimizer(&self, bytes: u64) -> u64 {
        self.shard(1, bytes)
    }
    pub(super) fn grads(&self, bytes: u64) -> u64 {
        self.shard(2, bytes)
    }
    pub(super) fn weights(&self, bytes: u64) -> u64 {
        self.shard(3, bytes)
    }
    /// ZeRO-3: bytes an op's all-gathered weights add over their local shards.
    pub(super) fn gathered(&self, params: &[super::ops::Param], dt: DType) -> Result<u64> {
        if self.stage < 3 || self.n == 1 {
            return Ok(0);
        }
        let mut extra = 0u64;
        for p in params.iter().filter(|p| !p.shared) {
            let b = block(super::mul(p.numel, p.dtype.unwrap_or(dt).bytes())?);
            extra = add(extra, b - self.weights(b))?;
        }
        Ok(extra)
    }
}
