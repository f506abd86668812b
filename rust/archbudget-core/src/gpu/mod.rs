//! Planning on a named GPU (SPEC.md, "Planning on a GPU"): the catalog ([`catalog`]),
//! what "fits" means ([`budget_bytes`]), the largest setting that fits ([`fit`]) and
//! time estimates ([`time`]).
//!
//! # What fits
//!
//! A run fits a GPU when
//!
//! `peak_bytes + CUDA_CONTEXT_BYTES + LIBRARY_WORKSPACE_BYTES <= memory_bytes × (1 − headroom)`
//!
//! (or `memory_bytes − headroom` when the headroom is a byte amount), where `peak_bytes`
//! is what `memory` predicts (`torch.cuda.max_memory_allocated()` above the baseline),
//! `memory_bytes` the card's memory as CUDA reports it, and the two constants are
//! estimates of what the process holds outside the step's predicted peak:
//!
//! - [`CUDA_CONTEXT_BYTES`] (estimate, 500 MiB): the CUDA context and loaded kernels,
//!   outside PyTorch's allocator. When PyTorch made lazy module loading its default it
//!   measured 287 MB lazy against 667 MB eager (pytorch/pytorch#86509); 500 MiB leaves
//!   room for the larger kernel libraries of current releases (cuDNN, NCCL, Triton).
//! - [`LIBRARY_WORKSPACE_BYTES`] (estimate, 64 MiB): cuBLAS and cuBLASLt workspaces.
//!   PyTorch takes them from its caching allocator once per handle and stream (32 MiB
//!   each on Hopper, `aten/src/ATen/cuda/CublasHandlePool.cpp`, the default
//!   `CUBLAS_WORKSPACE_CONFIG` of `:4096:2:16:8` before), so they sit outside the step's
//!   predicted peak: two Hopper workspaces, the forward thread's and autograd's.
//!
//! The headroom (default [`DEFAULT_HEADROOM`], 5%) covers what neither counts: the
//! caching allocator's fragmentation (reserved above allocated), NCCL buffers, other
//! processes. [`budget_bytes`] is the right-hand side less the two constants: the
//! bytes the predicted peak may reach.
pub mod catalog;
pub mod fit;
pub mod time;

use crate::error::{Error, Result};

/// One card of the catalog. TFLOPs are dense; a figure the card lacks is `None`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gpu {
    pub name: &'static str,
    /// Other names that match this card (`h100` is the H100 SXM).
    pub aliases: &'static [&'static str],
    /// Memory as CUDA reports it (`torch.cuda.get_device_properties().total_memory`).
    pub memory_bytes: u64,
    pub bf16_tflops: Option<f64>,
    pub fp16_tflops: Option<f64>,
    pub fp8_tflops: Option<f64>,
    pub fp32_tflops: Option<f64>,
    pub bandwidth_bytes_per_s: f64,
    /// Where every figure comes from.
    pub source: &'static str,
}

/// Estimate of the CUDA context and loaded kernels, outside PyTorch's allocator (see
/// "What fits").
pub const CUDA_CONTEXT_BYTES: u64 = 500 << 20;
/// Estimate of the cuBLAS(Lt) workspaces held outside the step's peak (see "What fits").
pub const LIBRARY_WORKSPACE_BYTES: u64 = 64 << 20;
/// Share of the card kept free by default.
pub const DEFAULT_HEADROOM: Headroom = Headroom::Fraction(0.05);

/// Memory kept free beyond the context and workspaces.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Headroom {
    /// A share of the card's memory, in [0, 1).
    Fraction(f64),
    Bytes(u64),
}

/// A named GPU as `memory` and `sweep` use it: its budget and its time estimates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GpuPlan {
    pub gpu: &'static Gpu,
    pub headroom: Headroom,
    /// Model FLOPs utilisation of the time estimates.
    pub mfu: f64,
}

impl GpuPlan {
    /// The card called `name` with a checked headroom and MFU.
    pub fn new(name: &str, headroom: Headroom, mfu: f64) -> Result<GpuPlan> {
        let gpu = lookup(name)?;
        budget_bytes(gpu, headroom)?;
        time::check_mfu(mfu)?;
        Ok(GpuPlan { gpu, headroom, mfu })
    }

    pub fn budget_bytes(&self) -> u64 {
        budget_bytes(self.gpu, self.headroom).unwrap_or(0)
    }
}

/// `NAME` as matched: lower case without spaces, `-` and `_`.
fn key(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, ' ' | '-' | '_'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The card called `name` (case-insensitive, ignoring spaces, `-` and `_`; a card's
/// aliases count). An unknown name is an error naming the cards it most resembles.
pub fn lookup(name: &str) -> Result<&'static Gpu> {
    let wanted = key(name);
    let names = |g: &'static Gpu| std::iter::once(g.name).chain(g.aliases.iter().copied());
    if let Some(gpu) = catalog::GPUS
        .iter()
        .find(|g| names(g).any(|n| key(n) == wanted))
    {
        return Ok(gpu);
    }
    // Close: a name containing what was asked or contained in it, else the nearest by
    // edit distance.
    let mut close: Vec<&str> = catalog::GPUS
        .iter()
        .filter(|g| {
            !wanted.is_empty()
                && names(g).any(|n| key(n).contains(&wanted) || wanted.contains(&key(n)))
        })
        .map(|g| g.name)
        .collect();
    if close.is_empty() {
        let mut scored: Vec<(usize, &str)> = catalog::GPUS
            .iter()
            .map(|g| {
                (
                    names(g)
                        .map(|n| edit_distance(&key(n), &wanted))
                        .min()
                        .unwrap_or(usize::MAX),
                    g.name,
                )
            })
            .collect();
        scored.sort();
        close = scored.iter().take(3).map(|&(_, n)| n).collect();
    }
    let what = if close.len() > 1 && close.iter().all(|n| key(n).contains(&wanted)) {
        "is ambiguous"
    } else {
        "is not a known GPU"
    };
    Err(Error::invalid(
        "--gpu",
        format!(
            "'{name}' {what}; did you mean {}? ('archbudget gpus' lists them all)",
            close.join(", ")
        ),
    ))
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let next = (diagonal + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// The bytes a predicted peak may reach on `gpu` (see the module's "What fits"); 0 when
/// the headroom, context and workspaces take the whole card.
pub fn budget_bytes(gpu: &Gpu, headroom: Headroom) -> Result<u64> {
    let usable = match headroom {
        Headroom::Fraction(f) if (0.0..1.0).contains(&f) => {
            (gpu.memory_bytes as f64 * (1.0 - f)).floor() as u64
        }
        Headroom::Fraction(f) => {
            return Err(Error::invalid(
                "--headroom",
                format!("{f} is not a share from 0 to 1 (or a size such as 2GiB)"),
            ))
        }
        Headroom::Bytes(b) => gpu.memory_bytes.saturating_sub(b),
    };
    Ok(usable.saturating_sub(CUDA_CONTEXT_BYTES + LIBRARY_WORKSPACE_BYTES))
}

/// The one budget rule of `memory`, `fit` and `sweep`: the peak may reach the GPU's
/// [`budget_bytes`] and `max_memory`, whichever is smaller; `None` without either.
pub fn peak_budget(
    gpu: Option<&Gpu>,
    headroom: Headroom,
    max_memory: Option<u64>,
) -> Result<Option<u64>> {
    let from_gpu = gpu.map(|g| budget_bytes(g, headroom)).transpose()?;
    Ok(match (from_gpu, max_memory) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_loosely() {
        for name in ["h100-sxm", "H100 SXM", "h100_sxm", "H100", "h100 80gb hbm3"] {
            assert_eq!(lookup(name).unwrap().name, "H100 SXM");
        }
        assert_eq!(lookup("a100-40gb").unwrap().name, "A100 40GB");
        assert_eq!(lookup("rtx6000ada").unwrap().name, "RTX 6000 Ada");
    }

    #[test]
    fn unknown_names_suggest_close_ones() {
        let e = lookup("h1000").unwrap_err().to_string();
        assert!(e.contains("H100 SXM"), "{e}");
        let e = lookup("rtx").unwrap_err().to_string();
        assert!(e.contains("ambiguous") && e.contains("RTX 4090"), "{e}");
    }

    #[test]
    fn every_name_and_alias_is_unique() {
        let mut keys: Vec<String> = catalog::GPUS
            .iter()
            .flat_map(|g| std::iter::once(g.name).chain(g.aliases.iter().copied()))
            .map(key)
            .collect();
        let n = keys.len();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), n);
    }

    #[test]
    fn budget_subtracts_headroom_context_and_workspaces() {
        let gpu = lookup("h100").unwrap();
        let b = budget_bytes(gpu, Headroom::Bytes(1 << 30)).unwrap();
        assert_eq!(
            b,
            gpu.memory_bytes - (1 << 30) - CUDA_CONTEXT_BYTES - LIBRARY_WORKSPACE_BYTES
        );
        assert!(budget_bytes(gpu, Headroom::Fraction(1.0)).is_err());
        assert_eq!(
            peak_budget(Some(gpu), DEFAULT_HEADROOM, Some(10)).unwrap(),
            Some(10)
        );
    }
}
