//! `archbudget._core`: the thin PyO3 binding over archbudget-core. It converts
//! arguments, releases the GIL while the core works, maps errors to exception classes,
//! and turns a panic into `InternalError` so that none crosses into Python.
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use archbudget_core::formats::{self, hf, Prepared};
use archbudget_core::memory::{MemoryReport, RunSettings};
use archbudget_core::space::Cancel;
use archbudget_core::summary::{OutputShape, Summary};
use archbudget_core::{Error, Result};
use numpy::PyArray1;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyDict, PyList};
use run::RunArgs;

mod budget;
mod errors;
mod gpu;
mod run;
mod sweep;

// The core builds and frees a tree of many small allocations per model read (a Keras
// JSON of an Application has about 10^5 values): mimalloc does that in about half
// the time of glibc's malloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Load numpy's C API before the numpy crate first needs it: the crate panics where its
/// own import of numpy fails (a KeyboardInterrupt arriving during it), while this import
/// raises. Not at module import: `summary` and `memory` start without numpy.
pub(crate) fn load_numpy(py: Python<'_>) -> PyResult<()> {
    py.import("numpy")?;
    PyArray1::<u64>::zeros(py, 0, false);
    Ok(())
}

/// Run core work; a panic becomes `Error::Internal`.
fn caught<T>(work: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".into());
        Err(Error::Internal(what))
    })
}

/// Run core work without the GIL; a panic becomes `Error::Internal`.
pub(crate) fn guarded<T: Send>(
    py: Python<'_>,
    work: impl FnOnce() -> Result<T> + Send,
) -> PyResult<T> {
    py.detach(|| caught(work)).map_err(errors::to_py)
}

/// How often a waiting caller runs Python's signal handlers.
const SIGNAL_POLL: Duration = Duration::from_millis(20);

/// `guarded` for work that may run long (a sweep, a count): it runs in a worker thread
/// while the calling thread, taking the GIL only for a moment every 20 ms, runs Python's
/// signal handlers. A handler's exception (SIGINT's KeyboardInterrupt, or what a SIGTERM
/// handler raises) cancels the work, which stops within milliseconds, and is raised here,
/// so Ctrl-C works while the core is busy. Signals reach handlers in the main thread only.
pub(crate) fn interruptible<T: Send>(
    py: Python<'_>,
    work: impl FnOnce(Arc<Cancel>) -> Result<T> + Send,
) -> PyResult<T> {
    let cancel = Arc::new(Cancel::default());
    let mut raised: Option<PyErr> = None;
    let outcome = py.detach(|| {
        std::thread::scope(|scope| {
            let (done, finished) = mpsc::channel::<()>();
            // Named, so that `top -H` or a test sees the core at work.
            let worker = std::thread::Builder::new()
                .name("archbudget-work".into())
                .spawn_scoped(scope, || {
                    let _done = done; // dropped when the work ends, waking the caller
                    caught(|| work(Arc::clone(&cancel)))
                })
                .map_err(|e| Error::Internal(format!("cannot start a worker thread: {e}")))?;
            while let Err(mpsc::RecvTimeoutError::Timeout) = finished.recv_timeout(SIGNAL_POLL) {
                if raised.is_none() {
                    if let Err(e) = Python::attach(|py| py.check_signals()) {
                        cancel.cancel();
                        raised = Some(e);
                    }
                }
            }
            worker
                .join()
                .unwrap_or_else(|_| Err(Error::Internal("worker thread panicked".into())))
        })
    });
    match raised {
        Some(e) => Err(e),
        None => outcome.map_err(errors::to_py),
    }
}

pub(crate) fn parse_head(head: Option<&str>) -> PyResult<Option<hf::Head>> {
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
    out.set_item("notes", &s.notes)?;
    let rows = PyList::empty(py);
    // The row keys made once (`intern!`), not once per row of a thousand-layer model.
    for row in &s.layers {
        let r = PyDict::new(py);
        r.set_item(intern!(py, "name"), &row.name)?;
        r.set_item(intern!(py, "class_name"), &row.class_name)?;
        let shape = match &row.output_shape {
            Some(shape) => shape_to_py(py, shape)?,
            None => py.None().into_bound(py),
        };
        r.set_item(intern!(py, "output_shape"), shape)?;
        r.set_item(intern!(py, "params"), row.params)?;
        r.set_item(intern!(py, "trainable"), row.trainable)?;
        r.set_item(intern!(py, "non_trainable"), row.non_trainable)?;
        r.set_item(intern!(py, "explain"), &row.explain)?;
        r.set_item(intern!(py, "connected_to"), &row.connected_to)?;
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
    let (s, undeclared) = guarded(py, || {
        formats::summary_with_undeclared(&data, &location, head)
    })?;
    let out = summary_to_py(py, &s)?;
    // Custom layers neither saved nor declared: their rows, and the one-line error the
    // API raises with this partial summary (totals are lower bounds).
    let names: Vec<&str> = undeclared.iter().map(|(n, _)| n.as_str()).collect();
    out.set_item("undeclared", names)?;
    if let Some(message) = formats::undeclared_message(&undeclared) {
        out.set_item(
            "undeclared_error",
            message.replace('\r', "\\r").replace('\n', "\\n"),
        )?;
    }
    Ok(out)
}

/// The dict of `memory --format json` (SPEC.md).
pub(crate) fn report_to_py<'py>(
    py: Python<'py>,
    report: &MemoryReport,
) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    out.set_item("peak_bytes", report.peak_bytes)?;
    out.set_item("params", report.params)?;
    out.set_item("trainable_params", report.trainable_params)?;
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

/// memory(data, location, mode, batch, ...) -> dict: peak bytes, counts, breakdown and
/// FLOPs of one step of the model's PyTorch equivalent; with `gpu` named, also whether
/// it fits that GPU and time estimates (`gpu`, `estimates`).
#[pyfunction]
#[pyo3(signature = (data, location, run, *, seq=None, head=None,
                    gpu=None, headroom_fraction=None, headroom_bytes=None, mfu=gpu::DEFAULT_MFU))]
#[allow(clippy::too_many_arguments)]
fn memory<'py>(
    py: Python<'py>,
    data: PyBackedBytes,
    location: String,
    run: &Bound<'py, PyDict>,
    seq: Option<u64>,
    head: Option<&str>,
    gpu: Option<String>,
    headroom_fraction: Option<f64>,
    headroom_bytes: Option<u64>,
    mfu: f64,
) -> PyResult<Bound<'py, PyDict>> {
    let head = parse_head(head)?;
    let args = RunArgs::from_dict(run)?;
    let (report, notes, run, plan, tokens) = guarded(py, || {
        let plan = gpu::plan(gpu.as_deref(), headroom_fraction, headroom_bytes, mfu)?;
        let model = Prepared::read(&data, &location, head)?;
        let run = args.settings()?;
        let report = model.memory(&run, seq)?;
        Ok((
            report,
            model.memory_notes(seq),
            RunSettings {
                seq: seq.unwrap_or(run.seq),
                ..run
            },
            plan,
            model.tokens_per_sample(seq),
        ))
    })?;
    let out = report_to_py(py, &report)?;
    if !notes.is_empty() {
        out.set_item("notes", notes)?;
    }
    if let Some(plan) = &plan {
        gpu::add_gpu_keys(&out, plan, &run, &report, tokens)?;
    }
    Ok(out)
}

/// register_custom_layers(text, location, toml) -> list[str]: declare custom layers'
/// weights and output shapes (TOML, or JSON of the same shape); returns their classes.
#[pyfunction]
fn register_custom_layers(
    py: Python<'_>,
    text: String,
    location: String,
    toml: bool,
) -> PyResult<Vec<String>> {
    guarded(py, || {
        archbudget_core::layers::declared::register(&text, toml, &location)
    })
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // The default hook would print a panic to stderr before `guarded` turns it into
    // InternalError; the exception carries the message instead.
    std::panic::set_hook(Box::new(|_| {}));
    m.add(
        "MAX_INPUT_BYTES",
        archbudget_core::formats::keras::MAX_INPUT_BYTES,
    )?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    // The metric columns of a sweep row, in order: what a shard's part carries.
    m.add(
        "METRIC_NAMES",
        archbudget_core::space::family::METRIC_NAMES.to_vec(),
    )?;
    m.add_function(wrap_pyfunction!(summary, m)?)?;
    m.add_function(wrap_pyfunction!(memory, m)?)?;
    m.add_function(wrap_pyfunction!(gpu::fit, m)?)?;
    m.add_function(wrap_pyfunction!(gpu::gpus, m)?)?;
    m.add_function(wrap_pyfunction!(gpu::gpu_budget_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(register_custom_layers, m)?)?;
    m.add_class::<sweep::SearchSpace>()?;
    m.add_class::<sweep::Progress>()?;
    m.add_class::<budget::Budget>()?;
    m.add_function(wrap_pyfunction!(sweep::pareto_front, m)?)?;
    errors::register(m)?;
    Ok(())
}
