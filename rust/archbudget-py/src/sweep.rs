//! `SearchSpace`: a space parsed once in the core, swept whole or chunk by chunk. The
//! result crosses as numpy arrays that own the core's column buffers (no copy, no
//! Python object per candidate).
use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use archbudget_core::space::enumerate::AxisColumn;
use archbudget_core::space::Progress as CoreProgress;
use archbudget_core::formats::keras::MAX_INPUT_BYTES;
use archbudget_core::space::{self, Space, SweepOptions};
use archbudget_core::Error;
use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::{guarded, interruptible};

/// Counters of a running sweep, readable from another thread (a progress bar).
#[pyclass(module = "archbudget._core", frozen)]
#[derive(Default)]
pub struct Progress {
    inner: Arc<CoreProgress>,
}

#[pymethods]
impl Progress {
    #[new]
    fn new() -> Self {
        Progress::default()
    }

    /// Candidates evaluated so far.
    #[getter]
    fn done(&self) -> u64 {
        self.inner.done.load(Ordering::Relaxed)
    }

    /// Of those, the ones inside the constraints and budgets.
    #[getter]
    fn survivors(&self) -> u64 {
        self.inner.survivors.load(Ordering::Relaxed)
    }
}

#[pyclass(module = "archbudget._core", frozen)]
pub struct SearchSpace {
    space: Space,
}

/// The keras family's template: a regular file (a FIFO or a device could block or never
/// end), read no further than the input cap.
fn load_template(base: &Option<PathBuf>, path: &str) -> archbudget_core::Result<Vec<u8>> {
    let full = match base {
        Some(dir) => dir.join(path),
        None => PathBuf::from(path),
    };
    let at = full.display().to_string();
    let cannot = |e: std::io::Error| Error::invalid(&at, format!("cannot read the template: {e}"));
    if !std::fs::metadata(&full).map_err(cannot)?.is_file() {
        return Err(Error::invalid(
            &at,
            "the template is not a regular file (a directory, FIFO or device)",
        ));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(&full)
        .and_then(|f| f.take(MAX_INPUT_BYTES as u64 + 1).read_to_end(&mut bytes))
        .map_err(cannot)?;
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(Error::invalid(
            &at,
            format!("the template is larger than {} MiB", MAX_INPUT_BYTES >> 20),
        ));
    }
    Ok(bytes)
}

impl SearchSpace {
    /// Candidates `start..stop`, either end defaulting to the space's.
    fn range(&self, start: Option<u64>, stop: Option<u64>) -> Option<(u64, u64)> {
        (start.is_some() || stop.is_some())
            .then(|| (start.unwrap_or(0), stop.unwrap_or(self.space.size)))
    }
}

#[pymethods]
impl SearchSpace {
    /// Parse a space from TOML text (`is_toml`) or the JSON of a dict of the same shape;
    /// a keras template path is read relative to `base_dir`.
    #[new]
    #[pyo3(signature = (text, location, is_toml, base_dir=None))]
    fn new(
        py: Python<'_>,
        text: String,
        location: String,
        is_toml: bool,
        base_dir: Option<PathBuf>,
    ) -> PyResult<Self> {
        let space = guarded(py, || {
            let loader = |path: &str| load_template(&base_dir, path);
            if is_toml {
                Space::from_toml(&text, &location, &loader)
            } else {
                let value = serde_json::from_str(&text)
                    .map_err(|e| Error::parse(&location, format!("malformed JSON: {e}")))?;
                Space::from_value(&value, &location, &loader)
            }
        })?;
        Ok(SearchSpace { space })
    }

    /// Number of candidates (the product of the axis lengths).
    #[getter]
    fn size(&self) -> u64 {
        self.space.size
    }

    #[getter]
    fn axis_names(&self) -> Vec<String> {
        self.space.axes.iter().map(|a| a.name.clone()).collect()
    }

    /// Candidates in total, in range, satisfying the constraints, and those whose
    /// constraints cannot be evaluated (`invalid`, the first named), without computing rows.
    #[pyo3(signature = (start=None, stop=None))]
    fn count<'py>(
        &self,
        py: Python<'py>,
        start: Option<u64>,
        stop: Option<u64>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let range = self.range(start, stop);
        let c = interruptible(py, |cancel| space::count_until(&self.space, range, &cancel))?;
        let out = PyDict::new(py);
        out.set_item("candidates", c.total)?;
        out.set_item("in_range", c.in_range)?;
        out.set_item("satisfying_constraints", c.satisfying_constraints)?;
        out.set_item("invalid", c.invalid)?;
        out.set_item("first_invalid", c.first_invalid)?;
        Ok(out)
    }

    /// Sweep candidates `start..stop` (all by default): a dict of numpy columns.
    #[pyo3(signature = (*, max_params=None, min_params=None, max_memory=None, max_flops=None, sort=None,
                        descending=false, top=None, pareto=false, start=None, stop=None, progress=None))]
    #[allow(clippy::too_many_arguments)]
    fn sweep<'py>(
        &self,
        py: Python<'py>,
        max_params: Option<u64>,
        min_params: Option<u64>,
        max_memory: Option<u64>,
        max_flops: Option<u64>,
        sort: Option<String>,
        descending: bool,
        top: Option<usize>,
        pareto: bool,
        start: Option<u64>,
        stop: Option<u64>,
        progress: Option<&Progress>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let mut opts = SweepOptions {
            max_params,
            min_params,
            max_memory,
            max_flops,
            sort,
            descending,
            top,
            pareto,
            range: self.range(start, stop),
            progress: progress.map(|p| Arc::clone(&p.inner)),
            cancel: None,
        };
        let cols = interruptible(py, |cancel| {
            opts.cancel = Some(cancel);
            space::sweep(&self.space, &opts)
        })?;
        let out = PyDict::new(py);
        out.set_item("index", PyArray1::from_vec(py, cols.index))?;
        let axes = PyList::empty(py);
        for (name, column) in cols.axes {
            let entry = PyDict::new(py);
            entry.set_item("name", name)?;
            match column {
                AxisColumn::Int(v) => entry.set_item("values", PyArray1::from_vec(py, v))?,
                AxisColumn::Float(v) => entry.set_item("values", PyArray1::from_vec(py, v))?,
                AxisColumn::Bool(v) => entry.set_item("values", PyArray1::from_vec(py, v))?,
                AxisColumn::Str { codes, categories } => {
                    entry.set_item("values", PyArray1::from_vec(py, codes))?;
                    entry.set_item("categories", categories)?;
                }
            }
            axes.append(entry)?;
        }
        out.set_item("axes", axes)?;
        let metrics = PyList::empty(py);
        for (name, values) in cols.metrics {
            metrics.append((name, PyArray1::from_vec(py, values)))?;
        }
        out.set_item("metrics", metrics)?;
        let stats = PyDict::new(py);
        stats.set_item("candidates", cols.stats.candidates)?;
        stats.set_item("cut_by_constraints", cols.stats.cut_by_constraints)?;
        stats.set_item("cut_by_budgets", cols.stats.cut_by_budgets)?;
        stats.set_item("invalid", cols.stats.invalid)?;
        stats.set_item("first_invalid", cols.stats.first_invalid)?;
        out.set_item("stats", stats)?;
        Ok(out)
    }
}
