//! Generation ([`Mode::Generate`]): the prompt's inference (`sim`), extended to the
//! decoded tokens by the formula documented on that variant, with each held cache
//! tensor growing as its [`CacheGrowth`] says.
use super::alloc::block;
use super::graph::{CacheGrowth, Graph};
use super::sim::simulate_step;
use super::{add, Mode, RunSettings};
use super::{Breakdown, Decode, MemoryReport, Result};

/// What [`Mode::Generate`] needs from the prompt's inference besides its report.
pub(super) struct Seen {
    pub weights: u64,
    pub inputs: u64,
    /// Of `inputs`, those of [`Graph::fixed_inputs`].
    pub fixed_inputs: u64,
    /// (numel, dtype bytes, growth) of each kv tensor the model keeps.
    pub held: Vec<(u64, u64, Option<CacheGrowth>)>,
    /// Forward FLOPs of the nodes from `Graph::decode_from` on.
    pub decode_flops: u64,
    /// (numel, dtype bytes) of the output the caller keeps.
    pub out: (u64, u64),
}

/// The prompt's inference, and what generation needs from it.
fn prefill(g: &Graph, run: &RunSettings) -> Result<(MemoryReport, Seen)> {
    let infer = RunSettings {
        mode: Mode::Infer,
        ..*run
    };
    let mut seen = Seen {
        weights: 0,
        inputs: 0,
        fixed_inputs: 0,
        held: Vec::new(),
        decode_flops: 0,
        out: (0, 0),
    };
    let report = simulate_step(g, &infer, Some(&mut seen))?;
    Ok((report, seen))
}

/// Elements a held cache tensor of `numel` at the prefill (`p` prompt positions) holds
/// after `k` decoding forwards: one more position each, or for a sliding layer
/// (`DynamicSlidingWindowLayer.update`: `torch.cat`, then a view of the last
/// `window - 1` positions, which keeps the cat's whole storage) at most `window`.
fn cached_numel(numel: u64, p: u64, k: u64, growth: Option<CacheGrowth>) -> Result<u64> {
    let grown = |from: u64| super::mul(numel / from, add(from, k)?);
    match growth {
        None => grown(p),
        Some(CacheGrowth::Window(_)) if k == 0 => Ok(numel),
        Some(CacheGrowth::Window(w)) => super::mul(numel / p, add(p, k)?.min(w)),
        Some(CacheGrowth::Fixed) => Ok(numel),
        Some(CacheGrowth::From(positions)) => grown(positions.max(1)),
    }
}

/// Bytes of the kv cache tensors (their storage) that `generate` leaves after
/// `run.new_tokens` tokens on a `run.seq`-token prompt: the prefill yields the first
/// token and the last one is returned, not fed, so `new_tokens − 1` forwards follow.
pub(crate) fn generate_cache_bytes(g: &Graph, run: &RunSettings) -> Result<u64> {
    let (_, seen) = prefill(g, run)?;
    let (p, k) = (run.seq.max(1), run.new_tokens.saturating_sub(1));
    seen.held
        .iter()
        .try_fold(0u64, |sum, &(numel, dt, growth)| {
            add(sum, super::mul(cached_numel(numel, p, k, growth)?, dt)?)
        })
}

/// [`Mode::Generate`]: the formula documented there.
pub(super) fn generate(g: &Graph, run: &RunSettings) -> Result<MemoryReport> {
    let (prefill, seen) = prefill(g, run)?;
    if run.new_tokens == 0 {
        return Ok(prefill);
    }
    let p = run.seq.max(1);
    let per_token = match g.decode_from {
        Some(_) => seen.decode_flops,
        None => prefill.flops_fwd / p,
    };
    // what each decoding step reads and computes, for the time estimate (`gpu::time`)
    let decode_reads = Some(Decode {
        weights_bytes: seen.weights,
        kv_bytes_per_position: seen
            .held
            .iter()
            .filter(|h| h.2 != Some(CacheGrowth::Fixed))
            .try_fold(0u64, |acc, &(numel, dt, _)| {
                add(acc, super::mul(numel / p, dt)?)
            })?,
        kv_fixed_bytes: seen
            .held
            .iter()
            .filter(|h| h.2 == Some(CacheGrowth::Fixed))
            .try_fold(0u64, |acc, &(numel, dt, _)| {
                add(acc, super::mul(numel, dt)?)
            })?,
        prefill_flops: prefill.flops_fwd,
        flops_per_token: per_token,
    });
    // the prefill forward yields the first token; each further one costs a forward
    let n = run.new_tokens - 1;
    if n == 0 {
        return Ok(MemoryReport {
            decode: decode_reads,
            ..prefill
        });
    }
    let t = add(p, n)?;
    let (mut kv_prompt, mut kv, mut kv_layer) = (0u64, 0u64, 0u64);
    for &(numel, dt, growth) in &seen.held {
        kv_prompt = add(kv_prompt, block(super::mul(numel, dt)?))?;
        kv = add(
            kv,
            block(super::mul(cached_numel(numel, p, n, growth)?, dt)?),
        )?;
        if growth != Some(CacheGrowth::Fixed) {
            let before = cached_numel(numel, p, n - 1, growth)?;
            kv_layer = kv_layer.max(block(super::mul(before, dt)?));
        }
    }
    let out_row = block(super::mul(seen.out.0 / p, 4)?);
    let act = prefill
        .peak_bytes
        .saturating_sub(add(add(seen.weights, seen.inputs)?, kv_prompt)?)
        / p;
    let growing = seen.inputs.saturating_sub(seen.fixed_inputs);
    let inputs = add(seen.fixed_inputs, super::mul(growing.div_ceil(p), t)?)?;
    let transients = add(add(kv_layer, act)?, out_row)?;
    let decode = add(add(add(seen.weights, inputs)?, kv)?, transients)?;
    let flops_fwd = add(prefill.flops_fwd, super::mul(per_token, n)?)?;
    if decode <= prefill.peak_bytes {
        return Ok(MemoryReport {
            flops_fwd,
            decode: decode_reads,
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
        decode: decode_reads,
        ..prefill
    })
}
