//! Generation ([`Mode::Generate`]): the inference of the prompt (`sim`), extended to the
//! decoded tokens by the formula on that variant, and the bytes of the cache `generate`
//! leaves behind.
use super::alloc::block;
use super::graph::Graph;
use super::sim::simulate_step;
use super::{add, Breakdown, MemoryReport, Mode, Result, RunSettings};

/// What [`Mode::Generate`] needs from the prompt's inference besides its report.
#[derive(Default)]
pub(super) struct Seen {
    pub weights: u64,
    pub inputs: u64,
    /// (numel, dtype bytes, sliding window) of each kv tensor the model keeps.
    pub held: Vec<(u64, u64, Option<u64>)>,
    /// (numel, dtype bytes) of the output the caller keeps.
    pub out: (u64, u64),
}

/// [`Mode::Generate`]: the formula documented there.
pub(super) fn generate(g: &Graph, run: &RunSettings) -> Result<MemoryReport> {
    let infer = RunSettings {
        mode: Mode::Infer,
        ..*run
    };
    let mut seen = Seen::default();
    let prefill = simulate_step(g, &infer, Some(&mut seen))?;
    let n = run.new_tokens;
    if n == 0 {
        return Ok(prefill);
    }
    let p = run.seq.max(1);
    let t = add(p, n)?;
    let scale = |numel: u64, tokens: u64| -> Result<u64> { super::mul(numel / p, tokens) };
    let (mut kv_prompt, mut kv, mut kv_layer) = (0u64, 0u64, 0u64);
    for &(numel, dt, window) in &seen.held {
        // a sliding layer's cache keeps its last window−1 positions, as a view of the
        // `torch.cat` storage that holds one more: min(t, window) positions
        let cap = |tokens: u64| window.map_or(tokens, |w| tokens.min(w));
        kv_prompt = add(kv_prompt, block(super::mul(numel, dt)?))?;
        kv = add(kv, block(super::mul(scale(numel, cap(t))?, dt)?))?;
        kv_layer = kv_layer.max(block(super::mul(scale(numel, cap(t - 1))?, dt)?));
    }
    let out_row = block(super::mul(seen.out.0 / p, 4)?);
    let act = prefill
        .peak_bytes
        .saturating_sub(add(add(seen.weights, seen.inputs)?, kv_prompt)?)
        / p;
    let inputs = super::mul(seen.inputs.div_ceil(p), t)?;
    let transients = add(add(kv_layer, act)?, out_row)?;
    let decode = add(add(add(seen.weights, inputs)?, kv)?, transients)?;
    let flops_fwd = add(prefill.flops_fwd, super::mul(prefill.flops_fwd / p, n)?)?;
    if decode <= prefill.peak_bytes {
        return Ok(MemoryReport {
            flops_fwd,
            ..prefill
        });
    }
    Ok(MemoryReport {
        peak_bytes: decode,
        breakdown: Breakdown {
            weights: seen.weights,
            inputs,
            activations: kv,
            transients,
            ..Breakdown::default()
        },
        flops_fwd,
        ..prefill
    })
}

/// [`super::generate_cache_bytes`].
pub(crate) fn generate_cache_bytes(g: &Graph, run: &RunSettings) -> Result<u64> {
    let infer = RunSettings {
        mode: Mode::Infer,
        ..*run
    };
    let mut seen = Seen::default();
    simulate_step(g, &infer, Some(&mut seen))?;
    let p = run.seq.max(1);
    let t = add(p, run.new_tokens.saturating_sub(1))?;
    let mut total = 0u64;
    for &(numel, dt, window) in &seen.held {
        let positions = match (window, run.new_tokens) {
            (Some(w), n) if n > 0 => t.min(w),
            _ => t,
        };
        total = add(total, super::mul(super::mul(numel / p, positions)?, dt)?)?;
    }
    Ok(total)
}
