//! `archbudget._core`: the thin PyO3 binding over archbudget-core. It converts
//! arguments, releases the GIL while the core works, maps errors to exception classes,
//! and turns a panic into `InternalError` so that none crosses into Python.
use std::panic::{catch_unwind, AssertUnwindSafe};

use archbudget_core::formats::{self, hf};
use archbudget_core::memory::{AttnImpl, Mode, Optimizer, Precision, RunSettings};
use archbudget_core::summary::{OutputShape, Summary};
use archbudget_core::{Error, Result};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyDict, PyList};

mod errors;
mod sweep;

/// Run core work without the GIL; a panic becomes `Error::Internal`.
pub(crate) fn guarded<T: Send>(
    py: Python<'_>,
    work: impl FnOnce() -> Result<T> + Send,
) -> PyResult<T> {
    py.detach(|| {
        catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|panic| {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".into());
            Err(Error::Internal(what))
        })
    })
    .map_err(errors::to_py)
}

fn parse_head(head: Option<&str>) -> PyResult<Option<hf::Head>> {
    match head {
        None => Ok(None),
        Some("base") => Ok(Some(hf::Head::Base)),
        Some("causal_lm") => Ok(Some(hf::Head::CausalLm)),
        Some(other) => Err(errors::InvalidValueError::new_err(format!(
            "--head must be base or causal_lm, got '{other}'"
        ))),
    }
}

fn shape_to_py<'py>(py: Python<'py>, shape: &OutputShape) -> PyResult<Bound<'py, PyAny>> {
    Ok(match shape {
        OutputShape::Single(s) => PyList::new(py, s)?.into_any(),
        OutputShape::Multi(many) => PyList::new(py, many)?.into_any(),
    })
}

fn summary_to_py<'py>(py: Python<'py>, s: &Summary) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    out.set_item("name", &s.name)?;
    out.set_item("format", s.format.as_str())?;
    out.set_item("total_params", s.total_params)?;
    out.set_item("trainable_params", s.trainable_params)?;
    out.set_item("non_trainable_params", s.non_trainable_params)?;
    out.set_item("active_params", s.active_params)?;
    out.set_item("functional", s.functional)?;
    let rows = PyList::empty(py);
    for row in &s.layers {
        let r = PyDict::new(py);
        r.set_item("name", &row.name)?;
        r.set_item("class_name", &row.class_name)?;
        match &row.output_shape {
            Some(shape) => r.set_item("output_shape", shape_to_py(py, shape)?)?,
            None => r.set_item("output_shape", py.None())?,
        }
        r.set_item("params", row.params)?;
        r.set_item("trainable", row.trainable)?;
        r.set_item("non_trainable", row.non_trainable)?;
        r.set_item("explain", &row.explain)?;
        r.set_item("connected_to", &row.connected_to)?;
        rows.append(r)?;
    }
    out.set_item("layers", rows)?;
    Ok(out)
}

/// summary(data, location, head=None) -> dict: rows and totals of a Keras JSON, `.keras`
/// archive or transformers config.json given as bytes.
#[pyfunction]
#[pyo3(signature = (data, location, head=None))]
fn summary<'py>(
    py: Python<'py>,
    data: PyBackedBytes,
    location: String,
    head: Option<&str>,
) -> PyResult<Bound<'py, PyDict>> {
    let head = parse_head(head)?;
    let s = guarded(py, || formats::summary(&data, &location, head))?;
    summary_to_py(py, &s)
}

/// Run settings as the CLI and the API name them (strings checked by the core).
struct RunArgs {
    mode: String,
    batch: u64,
    precision: String,
    optimizer: String,
    attn: String,
    grad_ckpt: bool,
    new_tokens: u64,
    gpus: u64,
    zero_stage: u8,
}

impl RunArgs {
    fn settings(&self) -> Result<RunSettings> {
        if self.batch == 0 {
            return Err(Error::invalid("--batch", "must be a positive integer"));
        }
        Ok(RunSettings {
            mode: Mode::parse(&self.mode)?,
            batch: self.batch,
            precision: Precision::parse(&self.precision)?,
            optimizer: Optimizer::parse(&self.optimizer)?,
            attn: AttnImpl::parse(&self.attn)?,
            grad_ckpt: self.grad_ckpt,
            new_tokens: self.new_tokens,
            gpus: self.gpus,
            zero_stage: self.zero_stage,
            ..RunSettings::default()
        })
    }
}

/// memory(data, location, mode, batch, ...) -> dict: peak bytes, counts, breakdown and
/// FLOPs of one step of the model's PyTorch equivalent.
#[pyfunction]
#[pyo3(signature = (data, location, *, mode, batch, seq=None, precision="fp32".to_string(), optimizer="adamw".to_string(),
                    attn="sdpa".to_string(), grad_ckpt=false, head=None, new_tokens=0, gpus=1, zero_stage=0))]
#[allow(clippy::too_many_arguments)]
fn memory<'py>(
    py: Python<'py>,
    data: PyBackedBytes,
    location: String,
    mode: String,
    batch: u64,
    seq: Option<u64>,
    precision: String,
    optimizer: String,
    attn: String,
    grad_ckpt: bool,
    head: Option<&str>,
    new_tokens: u64,
    gpus: u64,
    zero_stage: u8,
) -> PyResult<Bound<'py, PyDict>> {
    let head = parse_head(head)?;
    let args = RunArgs {
        mode,
        batch,
        precision,
        optimizer,
        attn,
        grad_ckpt,
        new_tokens,
        gpus,
        zero_stage,
    };
    let report = guarded(py, || {
        formats::memory(&data, &location, head, &args.settings()?, seq)
    })?;
    let out = PyDict::new(py);
    out.set_item("peak_bytes", report.peak_bytes)?;
    out.set_item("params", report.params)?;
    out.set_item("buffers", report.buffers)?;
    let breakdown = PyDict::new(py);
    for (name, bytes) in report.breakdown.entries() {
        breakdown.set_item(name, bytes)?;
    }
    out.set_item("breakdown", breakdown)?;
    out.set_item("flops_fwd", report.flops_fwd)?;
    out.set_item("flops_fwd_bwd", report.flops_fwd_bwd)?;
    Ok(out)
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // The default hook would print a panic to stderr before `guarded` turns it into
    // InternalError; the exception carries the message instead.
    std::panic::set_hook(Box::new(|_| {}));
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(summary, m)?)?;
    m.add_function(wrap_pyfunction!(memory, m)?)?;
    m.add_class::<sweep::SearchSpace>()?;
    m.add_class::<sweep::Progress>()?;
    errors::register(m)?;
    Ok(())
}
