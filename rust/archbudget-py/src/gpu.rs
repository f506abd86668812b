//! Planning on a GPU: the catalog, the budget helper, `fit`, and what `memory` adds when
//! a GPU is named (fits, margin, time estimates).
use archbudget_core::formats::{hf, Prepared};
use archbudget_core::gpu::fit::{fit as fit_model, Vary};
pub(crate) use archbudget_core::gpu::time::DEFAULT_MFU;
use archbudget_core::gpu::time::{self, TimeEstimate};
use archbudget_core::gpu::{self as core_gpu, catalog, GpuPlan, Headroom};
use archbudget_core::memory::{MemoryReport, RunSettings};
use archbudget_core::{Error, Result};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyDict, PyList};

use crate::run::RunArgs;
use crate::{guarded, parse_head, report_to_py};

/// `--headroom` as a share (`fraction`) or a byte amount (`bytes`), at most one given.
pub(crate) fn headroom(fraction: Option<f64>, bytes: Option<u64>) -> Result<Headroom> {
    match (fraction, bytes) {
        (Some(_), Some(_)) => Err(Error::invalid("--headroom", "a share or a size, not both")),
        (Some(f), None) => Ok(Headroom::Fraction(f)),
        (None, Some(b)) => Ok(Headroom::Bytes(b)),
        (None, None) => Ok(core_gpu::DEFAULT_HEADROOM),
    }
}

/// The named GPU with its headroom and MFU checked; `None` without a name.
pub(crate) fn plan(
    name: Option<&str>,
    fraction: Option<f64>,
    bytes: Option<u64>,
    mfu: f64,
) -> Result<Option<GpuPlan>> {
    name.map(|n| GpuPlan::new(n, headroom(fraction, bytes)?, mfu))
        .transpose()
}

fn opt_f64(x: Option<f64>) -> Option<f64> {
    x.filter(|v| v.is_finite())
}

fn estimates_to_py<'py>(
    py: Python<'py>,
    t: Option<TimeEstimate>,
    mfu: f64,
) -> PyResult<Bound<'py, PyAny>> {
    let Some(t) = t else {
        return Ok(py.None().into_bound(py));
    };
    let d = PyDict::new(py);
    d.set_item("mfu", mfu)?;
    d.set_item("step_time_s", t.step_s)?;
    d.set_item("samples_per_s", t.samples_per_s)?;
    d.set_item("tokens_per_s", opt_f64(t.tokens_per_s))?;
    d.set_item("time_per_token_s", opt_f64(t.per_token_s))?;
    Ok(d.into_any())
}

/// What `memory` adds with a GPU named: `gpu` {name, memory_bytes, budget_bytes, fits,
/// margin_bytes} and `estimates` (None where the card lacks the run's precision).
pub(crate) fn add_gpu_keys(
    out: &Bound<'_, PyDict>,
    plan: &GpuPlan,
    run: &RunSettings,
    report: &MemoryReport,
    tokens_per_sample: Option<u64>,
) -> PyResult<()> {
    let py = out.py();
    let budget = plan.budget_bytes();
    let g = PyDict::new(py);
    g.set_item("name", plan.gpu.name)?;
    g.set_item("memory_bytes", plan.gpu.memory_bytes)?;
    g.set_item("budget_bytes", budget)?;
    g.set_item("fits", report.peak_bytes <= budget)?;
    g.set_item(
        "margin_bytes",
        i128::from(budget) - i128::from(report.peak_bytes),
    )?;
    out.set_item("gpu", g)?;
    let t = time::estimate(plan.gpu, plan.mfu, run, report, tokens_per_sample);
    out.set_item("estimates", estimates_to_py(py, t, plan.mfu)?)?;
    Ok(())
}

/// gpus() -> list of dicts: the catalog (SPEC.md, `gpus --format json`).
#[pyfunction]
pub(crate) fn gpus<'py>(py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
    let rows = PyList::empty(py);
    for g in catalog::GPUS {
        let d = PyDict::new(py);
        d.set_item("name", g.name)?;
        d.set_item("memory_bytes", g.memory_bytes)?;
        d.set_item("bf16_tflops", g.bf16_tflops)?;
        d.set_item("fp16_tflops", g.fp16_tflops)?;
        d.set_item("fp8_tflops", g.fp8_tflops)?;
        d.set_item("fp32_tflops", g.fp32_tflops)?;
        d.set_item("bandwidth_bytes_per_s", g.bandwidth_bytes_per_s)?;
        d.set_item("source", g.source)?;
        d.set_item("aliases", g.aliases.to_vec())?;
        rows.append(d)?;
    }
    Ok(rows)
}

/// gpu_budget_bytes(name, headroom_fraction=None, headroom_bytes=None) -> (canonical
/// name, bytes a predicted peak may reach on that GPU).
#[pyfunction]
#[pyo3(signature = (name, headroom_fraction=None, headroom_bytes=None))]
pub(crate) fn gpu_budget_bytes(
    py: Python<'_>,
    name: &str,
    headroom_fraction: Option<f64>,
    headroom_bytes: Option<u64>,
) -> PyResult<(String, u64)> {
    guarded(py, || {
        let gpu = core_gpu::lookup(name)?;
        let budget = core_gpu::budget_bytes(gpu, headroom(headroom_fraction, headroom_bytes)?)?;
        Ok((gpu.name.to_string(), budget))
    })
}

/// fit(data, location, *, vary, gpu=None, max_memory=None, ...) -> dict: the largest
/// value of `vary` that fits (fewest GPUs), with the SPEC's keys plus `memory` (the
/// report at the value, with the GPU's keys when one is named).
#[pyfunction]
#[pyo3(signature = (data, location, run, *, vary, seq=None, head=None, gpu=None, max_memory=None,
                    headroom_fraction=None, headroom_bytes=None, mfu=DEFAULT_MFU))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn fit<'py>(
    py: Python<'py>,
    data: PyBackedBytes,
    location: String,
    run: &Bound<'py, PyDict>,
    vary: String,
    seq: Option<u64>,
    head: Option<&str>,
    gpu: Option<String>,
    max_memory: Option<u64>,
    headroom_fraction: Option<f64>,
    headroom_bytes: Option<u64>,
    mfu: f64,
) -> PyResult<Bound<'py, PyDict>> {
    let head: Option<hf::Head> = parse_head(head)?;
    let args = RunArgs::from_dict(run)?;
    let (found, plan, tokens) = guarded(py, || {
        let vary = Vary::parse(&vary)?;
        let plan = plan(gpu.as_deref(), headroom_fraction, headroom_bytes, mfu)?;
        let budget = core_gpu::peak_budget(
            plan.map(|p| p.gpu),
            plan.map_or(core_gpu::DEFAULT_HEADROOM, |p| p.headroom),
            max_memory,
        )?
        .ok_or_else(|| Error::invalid("fit", "needs --gpu NAME or --max-memory SIZE"))?;
        let model = Prepared::read(&data, &location, head)?;
        let found = fit_model(&model, &args.settings()?, seq, vary, budget, &location)?;
        let seq_at = (vary == Vary::Seq).then_some(found.run.seq).or(seq);
        Ok((found, plan, model.tokens_per_sample(seq_at)))
    })?;
    let out = PyDict::new(py);
    out.set_item("vary", found.vary.name())?;
    out.set_item("value", found.value)?;
    out.set_item("peak_bytes", found.report.peak_bytes)?;
    out.set_item("budget_bytes", found.budget_bytes)?;
    out.set_item("next_peak_bytes", found.next_peak_bytes)?;
    let memory = report_to_py(py, &found.report)?;
    if let Some(plan) = &plan {
        add_gpu_keys(&memory, plan, &found.run, &found.report, tokens)?;
    }
    out.set_item("memory", memory)?;
    Ok(out)
}
