//! `SearchSpace`: a space parsed once in the core, swept whole or chunk by chunk. The
//! result crosses as numpy arrays that own the core's column buffers (no copy, no
//! Python object per candidate).
use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use archbudget_core::formats::keras::MAX_INPUT_BYTES;
use archbudget_core::space::enumerate::AxisColumn;
use archbudget_core::space::family::METRIC_NAMES;
use archbudget_core::space::Progress as CoreProgress;
use archbudget_core::space::{self, Columns, ParetoKey, Space, Stats, SweepOptions};
use archbudget_core::Error;
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::{errors, guarded, interruptible};

/// Counters of a running sweep, readable from another thread (a progress bar).
#[pyclass(module = "archbudget._core", frozen)]
#[derive(Default)]
pub struct Progress {
    inner: Arc<CoreProgress>,
}

/// `SearchSpace.__new__`'s arguments, for pickling: text, location, is_toml, base_dir, template, run.
type ConstructorArgs = (
    String,
    String,
    bool,
    Option<String>,
    Option<String>,
    Option<String>,
);

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
    /// What the space was made from (text, location, is_toml, run settings JSON), so
    /// that it pickles (to a Ray task, a process pool).
    source: (String, String, bool, Option<String>),
}

/// The keras family's template: a regular file (a FIFO or a device could block or never
/// end), read no further than the input cap.
pub(crate) fn load_template(
    base: &Option<PathBuf>,
    path: &str,
) -> archbudget_core::Result<Vec<u8>> {
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
    /// `template`, the JSON of a keras template, stands for the file the space names
    /// (a space unpickled where that file is not).
    #[new]
    #[pyo3(signature = (text, location, is_toml, base_dir=None, template=None, run=None))]
    fn new(
        py: Python<'_>,
        text: String,
        location: String,
        is_toml: bool,
        base_dir: Option<PathBuf>,
        template: Option<String>,
        run: Option<String>,
    ) -> PyResult<Self> {
        let space = guarded(py, || {
            let loader = |path: &str| match &template {
                Some(json) => Ok(json.clone().into_bytes()),
                None => load_template(&base_dir, path),
            };
            let mut value = if is_toml {
                archbudget_core::space::toml_value(&text, &location)?
            } else {
                serde_json::from_str(&text)
                    .map_err(|e| Error::parse(&location, format!("malformed JSON: {e}")))?
            };
            // run settings given beside the space (the command line's run options)
            if let Some(run) = &run {
                let run: serde_json::Map<String, serde_json::Value> = serde_json::from_str(run)
                    .map_err(|e| Error::parse(&location, format!("run settings: {e}")))?;
                Space::with_run(&mut value, &run, &location)?;
            }
            Space::from_value(&value, &location, &loader)
        })?;
        Ok(SearchSpace {
            space,
            source: (text, location, is_toml, run),
        })
    }

    /// Pickle as the source text with the template inlined: no file is read again.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, ConstructorArgs)> {
        let this = slf.get();
        let (text, location, is_toml, run) = this.source.clone();
        let template = this.space.template.as_ref().map(|t| t.to_string());
        Ok((
            slf.get_type().into_any(),
            (text, location, is_toml, None, template, run),
        ))
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

    /// Sweep candidates `start..stop` (all by default): a dict of numpy columns. `part`:
    /// a shard's result to merge with others (`merge_parts`, then `finish`).
    #[pyo3(signature = (*, max_params=None, min_params=None, max_memory=None, max_flops=None, sort=None,
                        descending=false, top=None, pareto=false, start=None, stop=None, progress=None,
                        part=false, gpu=None, headroom_fraction=None, headroom_bytes=None,
                        mfu=crate::gpu::DEFAULT_MFU))]
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
        part: bool,
        gpu: Option<String>,
        headroom_fraction: Option<f64>,
        headroom_bytes: Option<u64>,
        mfu: f64,
    ) -> PyResult<Bound<'py, PyDict>> {
        let gpu = guarded(py, || {
            crate::gpu::plan(gpu.as_deref(), headroom_fraction, headroom_bytes, mfu)
        })?;
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
            gpu,
            cancel: None,
        };
        let run = if part {
            space::sweep_part
        } else {
            space::sweep
        };
        let cols = interruptible(py, |cancel| {
            opts.cancel = Some(cancel);
            run(&self.space, &opts)
        })?;
        columns_to_py(py, cols)
    }

    /// Merge shard results (dicts as `sweep(part=True)` returns, in index order) into
    /// one that merges further; the ranking options must be the sweep's.
    /// `gpu` names the GPU of a sweep sorted by a time column.
    #[pyo3(signature = (parts, *, sort=None, descending=false, top=None, pareto=false, gpu=None,
                        headroom_fraction=None, headroom_bytes=None, mfu=crate::gpu::DEFAULT_MFU))]
    #[allow(clippy::too_many_arguments)]
    fn merge_parts<'py>(
        &self,
        py: Python<'py>,
        parts: Vec<Bound<'py, PyDict>>,
        sort: Option<String>,
        descending: bool,
        top: Option<usize>,
        pareto: bool,
        gpu: Option<String>,
        headroom_fraction: Option<f64>,
        headroom_bytes: Option<u64>,
        mfu: f64,
    ) -> PyResult<Bound<'py, PyDict>> {
        let gpu = (gpu, headroom_fraction, headroom_bytes, mfu);
        let opts = merge_options(py, sort, descending, top, pareto, gpu)?;
        let parts = parts
            .iter()
            .map(part_from_py)
            .collect::<PyResult<Vec<_>>>()?;
        let cols = guarded(py, || space::merge_parts(&self.space, &opts, parts))?;
        columns_to_py(py, cols)
    }

    /// The final rows of a merged result: what one `sweep` of the union gives.
    /// `gpu` adds the time estimates of the final rows, as `sweep` does.
    #[pyo3(signature = (part, *, sort=None, descending=false, top=None, pareto=false, gpu=None,
                        headroom_fraction=None, headroom_bytes=None, mfu=crate::gpu::DEFAULT_MFU))]
    #[allow(clippy::too_many_arguments)]
    fn finish<'py>(
        &self,
        py: Python<'py>,
        part: Bound<'py, PyDict>,
        sort: Option<String>,
        descending: bool,
        top: Option<usize>,
        pareto: bool,
        gpu: Option<String>,
        headroom_fraction: Option<f64>,
        headroom_bytes: Option<u64>,
        mfu: f64,
    ) -> PyResult<Bound<'py, PyDict>> {
        let gpu = (gpu, headroom_fraction, headroom_bytes, mfu);
        let opts = merge_options(py, sort, descending, top, pareto, gpu)?;
        let part = part_from_py(&part)?;
        let cols = guarded(py, || space::finish(&self.space, &opts, part))?;
        columns_to_py(py, cols)
    }
}

/// The options of a merge: the sweep's ranking, and the GPU (name, headroom share or
/// bytes, MFU) whose time columns it sorts by or adds.
fn merge_options(
    py: Python<'_>,
    sort: Option<String>,
    descending: bool,
    top: Option<usize>,
    pareto: bool,
    (gpu, headroom_fraction, headroom_bytes, mfu): (Option<String>, Option<f64>, Option<u64>, f64),
) -> PyResult<SweepOptions> {
    let gpu = guarded(py, || {
        crate::gpu::plan(gpu.as_deref(), headroom_fraction, headroom_bytes, mfu)
    })?;
    Ok(SweepOptions {
        sort,
        descending,
        top,
        pareto,
        gpu,
        ..SweepOptions::default()
    })
}

/// A shard's result back from Python: its candidate indices, metric columns and stats
/// (axis columns follow from the indices).
fn part_from_py(part: &Bound<'_, PyDict>) -> PyResult<Columns> {
    crate::load_numpy(part.py())?;
    let item = |key: &str| {
        part.get_item(key)?.ok_or_else(|| {
            errors::InvalidValueError::new_err(format!("a sweep part lacks '{key}'"))
        })
    };
    let index: PyReadonlyArray1<u64> = item("index")?.extract()?;
    let mut metrics = Vec::new();
    for entry in item("metrics")?.try_iter()? {
        let (name, values): (String, PyReadonlyArray1<u64>) = entry?.extract()?;
        let name = METRIC_NAMES.iter().find(|m| **m == name).ok_or_else(|| {
            errors::InvalidValueError::new_err(format!(
                "a sweep part has an unknown metric column '{name}'"
            ))
        })?;
        metrics.push((*name, values.as_array().to_vec()));
    }
    let stats = item("stats")?;
    let count = |key: &str| -> PyResult<u64> { stats.get_item(key)?.extract() };
    Ok(Columns {
        index: index.as_array().to_vec(),
        axes: Vec::new(),
        metrics,
        estimates: Vec::new(),
        stats: Stats {
            candidates: count("candidates")?,
            cut_by_constraints: count("cut_by_constraints")?,
            cut_by_budgets: count("cut_by_budgets")?,
            invalid: count("invalid")?,
            first_invalid: stats.get_item("first_invalid")?.extract()?,
        },
    })
}

/// The columns of a result as numpy arrays that own the core's buffers.
fn columns_to_py(py: Python<'_>, cols: Columns) -> PyResult<Bound<'_, PyDict>> {
    crate::load_numpy(py)?;
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
    let estimates = PyList::empty(py);
    for (name, values) in cols.estimates {
        estimates.append((name, PyArray1::from_vec(py, values)))?;
    }
    out.set_item("estimates", estimates)?;
    let stats = PyDict::new(py);
    stats.set_item("candidates", cols.stats.candidates)?;
    stats.set_item("cut_by_constraints", cols.stats.cut_by_constraints)?;
    stats.set_item("cut_by_budgets", cols.stats.cut_by_budgets)?;
    stats.set_item("invalid", cols.stats.invalid)?;
    stats.set_item("first_invalid", cols.stats.first_invalid)?;
    out.set_item("stats", stats)?;
    Ok(out)
}

/// pareto_front(candidate, params, peak_bytes, flops) -> positions of the rows no other
/// beats (more params for no more memory and FLOPs), as `sweep(pareto=True)` keeps them.
#[pyfunction]
pub fn pareto_front<'py>(
    py: Python<'py>,
    candidate: PyReadonlyArray1<'py, u64>,
    params: PyReadonlyArray1<'py, u64>,
    peak_bytes: PyReadonlyArray1<'py, u64>,
    flops: PyReadonlyArray1<'py, u64>,
) -> PyResult<Bound<'py, PyArray1<u64>>> {
    let columns = [&candidate, &params, &peak_bytes, &flops].map(|c| c.as_array());
    let n = columns[0].len();
    if columns.iter().any(|c| c.len() != n) {
        return Err(errors::InvalidValueError::new_err(
            "pareto_front: the columns differ in length",
        ));
    }
    let keys: Vec<ParetoKey> = (0..n)
        .map(|i| ParetoKey {
            index: columns[0][i],
            params: columns[1][i],
            peak_bytes: columns[2][i],
            flops: columns[3][i],
        })
        .collect();
    let front = guarded(py, || Ok(space::pareto_positions(&keys)))?;
    Ok(PyArray1::from_vec(
        py,
        front.into_iter().map(|i| i as u64).collect(),
    ))
}
