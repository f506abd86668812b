//! `SearchSpace`: a space parsed once in the core, swept whole or chunk by chunk. The
//! result crosses as numpy arrays that own the core's column buffers (no copy, no
//! Python object per candidate).
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use archbudget_core::space::enumerate::AxisColumn;
use archbudget_core::space::Progress as CoreProgress;
use archbudget_core::space::{self, Space, SweepOptions};
use archbudget_core::Error;
use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::guarded;

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

fn load_template(base: &Option<PathBuf>, path: &str) -> archbudget_core::Result<Vec<u8>> {
    let full = match base {
        Some(dir) => dir.join(path),
        None => PathBuf::from(path),
    };
    std::fs::read(&full).map_err(|e| {
        Error::invalid(
            full.display().to_string(),
            format!("cannot read the template: {e}"),
        )
    })
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
    #[pyo3(signature = (text, location, is_toml, base_dir=None, run=None))]
    fn new(
        py: Python<'_>,
        text: String,
        location: String,
        is_toml: bool,
        base_dir: Option<PathBuf>,
        run: Option<String>,
    ) -> PyResult<Self> {
        let space = guarded(py, || {
            let loader = |path: &str| load_template(&base_dir, path);
            let mut value = if is_toml {
                archbudget_core::space::toml_value(&text, &location)?
            } else {
                serde_json::from_str(&text)
                    .map_err(|e| Error::parse(&location, format!("malformed JSON: {e}")))?
            };
            // run settings given beside the space (the command line's run options)
            if let Some(run) = run {
                let run: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&run)
                    .map_err(|e| Error::parse(&location, format!("run settings: {e}")))?;
                Space::with_run(&mut value, &run, &location)?;
            }
            Space::from_value(&value, &location, &loader)
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

    /// (total, in range, satisfying the constraints), without computing rows.
    #[pyo3(signature = (start=None, stop=None))]
    fn count(
        &self,
        py: Python<'_>,
        start: Option<u64>,
        stop: Option<u64>,
    ) -> PyResult<(u64, u64, u64)> {
        let range = self.range(start, stop);
        let c = guarded(py, || space::count(&self.space, range))?;
        Ok((c.total, c.in_range, c.satisfying_constraints))
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
        let opts = SweepOptions {
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
        };
        let cols = guarded(py, || space::sweep(&self.space, &opts))?;
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
